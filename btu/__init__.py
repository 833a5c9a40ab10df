"""BTU (Background Tasks Unleashed): the Frappe app, system of record for Tasks,
Schedules, Run Later items and Task Logs.

The Python API for app developers (docs/developer-guide.md) is reached as
``btu.enqueue_at``, ``btu.enqueue_in``, ``btu.cancel`` and ``btu.get_item``; it is imported
on first use, so importing ``btu`` needs no Frappe (the packaging reads ``__version__``
here, and the daemon imports only ``streams``)."""

from typing import Any

__version__ = "0.1.0"

_API = {"enqueue_at", "enqueue_in", "cancel", "get_item"}


def __getattr__(name: str) -> Any:
    if name in _API:
        from btu.services import enqueue

        return getattr(enqueue, name)
    raise AttributeError(f"module 'btu' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
