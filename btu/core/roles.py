"""BTU's roles and who may call what.

* BTU Manager: manages tasks, schedules and run-later items; reads logs; pings and
  republishes.
* BTU User: reads tasks, schedules, run-later items, logs and reports.
* BTU Scheduler: the daemon's API user; may only call ``enqueue_scheduled``, ``whoami`` and
  ``republish_all`` (no Desk access, no document permissions).
* System Manager (and Administrator) keep everything.
"""

from __future__ import annotations

from collections.abc import Collection

MANAGER = "BTU Manager"
USER = "BTU User"
SCHEDULER = "BTU Scheduler"
SYSTEM_MANAGER = "System Manager"
ADMINISTRATOR = "Administrator"

# (role, desk access)
ROLES = ((MANAGER, True), (USER, True), (SCHEDULER, False))

DAEMON = (SCHEDULER, SYSTEM_MANAGER)
MANAGE = (MANAGER, SYSTEM_MANAGER)
REPUBLISH = (SCHEDULER, MANAGER, SYSTEM_MANAGER)
READ = (USER, MANAGER, SYSTEM_MANAGER)


def allowed(user: str, user_roles: Collection[str], required: Collection[str]) -> bool:
    """Whether ``user`` with ``user_roles`` holds one of ``required`` (Administrator
    always does)."""
    return user == ADMINISTRATOR or not set(required).isdisjoint(user_roles)
