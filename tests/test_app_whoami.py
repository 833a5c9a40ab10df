"""The answer of ``btu.api.whoami`` (btu/core/whoami.py), without Frappe."""

from __future__ import annotations

from btu import __version__
from btu.core.whoami import answer


def test_answer_names_the_user_the_version_and_only_btu_roles() -> None:
    """The answer names the user, the version and only BTU's roles."""
    got = answer("daemon@example.com", ["BTU Scheduler", "Accounts User", "All"])
    assert {
        "user": "daemon@example.com",
        "roles": ["BTU Scheduler"],
        "app": "btu",
        "version": __version__,
        "protocol": "1",
        "can_fire": True,
    } == got


def test_a_user_without_the_daemon_role_cannot_fire() -> None:
    """can_fire follows the daemon's roles (Administrator always may)."""
    assert answer("u@example.com", ["BTU User"])["can_fire"] is False
    assert answer("Administrator", [])["can_fire"] is True
