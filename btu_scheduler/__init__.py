"""btu-scheduler: the event-driven time engine of BTU. It never imports Frappe."""

from btu import __version__

__all__ = ["__version__"]
