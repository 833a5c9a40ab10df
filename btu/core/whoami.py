"""The answer of ``btu.api.whoami``: who the caller is and which BTU answers.

The daemon calls it at start-up and ``btu-scheduler check`` calls it, so that a wrong
URL, key or secret is found before the first fire, not at it.
"""

from __future__ import annotations

from collections.abc import Collection

from btu import __version__
from btu.core import roles
from streams.keys import PROTOCOL_VERSION

BTU_ROLES = frozenset({roles.MANAGER, roles.USER, roles.SCHEDULER, roles.SYSTEM_MANAGER})


def answer(user: str, user_roles: Collection[str]) -> dict[str, object]:
    """``{"user", "roles", "app", "version", "protocol", "can_fire"}``; ``roles`` lists
    only BTU's own roles (and System Manager), never the user's others."""
    return {
        "user": user,
        "roles": sorted(BTU_ROLES.intersection(user_roles)),
        "app": "btu",
        "version": __version__,
        "protocol": PROTOCOL_VERSION,
        "can_fire": roles.allowed(user, user_roles, roles.DAEMON),
    }
