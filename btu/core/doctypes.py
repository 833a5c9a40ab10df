"""BTU's doctype names and Run Later statuses.

Kept apart from :mod:`btu.core.payloads` (which imports the ``streams`` package) so that
the runner, which needs only these names, does not import the wire contract in every
RQ work horse.
"""

from __future__ import annotations

SCHEDULE = "BTU Task Schedule"
RUN_LATER = "BTU Run Later"

PENDING = "Pending"
IN_FLIGHT = "In Flight"
DONE = "Done"
FAILED = "Failed"
CANCELLED = "Cancelled"
RUN_LATER_STATUSES = (PENDING, IN_FLIGHT, DONE, FAILED, CANCELLED)
# Statuses whose item stays in the state hash.
RUN_LATER_KEPT = frozenset({PENDING, IN_FLIGHT})
