"""Who may call what."""

from __future__ import annotations

import pytest

from btu.core.roles import (
    DAEMON,
    MANAGE,
    READ,
    REPUBLISH,
    SCHEDULER,
    allowed,
)


@pytest.mark.parametrize(
    ("user", "roles", "required", "expected"),
    [
        pytest.param("api@example.com", ["BTU Scheduler"], DAEMON, True, id="daemon-enqueue"),
        pytest.param("api@example.com", ["BTU Scheduler"], REPUBLISH, True, id="daemon-republish"),
        pytest.param("api@example.com", ["BTU Scheduler"], MANAGE, False, id="daemon-not-manager"),
        pytest.param("api@example.com", ["BTU Scheduler"], READ, False, id="daemon-no-desk"),
        pytest.param("m@example.com", ["BTU Manager"], DAEMON, False, id="manager-cannot-fire"),
        pytest.param("m@example.com", ["BTU Manager"], MANAGE, True, id="manager-manages"),
        pytest.param("u@example.com", ["BTU User"], READ, True, id="user-reads"),
        pytest.param("u@example.com", ["BTU User"], MANAGE, False, id="user-cannot-manage"),
        pytest.param("s@example.com", ["System Manager"], DAEMON, True, id="system-manager"),
        pytest.param("Administrator", [], DAEMON, True, id="administrator"),
        pytest.param("Guest", ["Guest"], READ, False, id="guest"),
    ],
)
def test_allowed(user: str, roles: list[str], required: tuple[str, ...], expected: bool) -> None:
    """Each endpoint group admits exactly the roles meant for it."""
    assert expected == allowed(user, roles, required)


def test_daemon_role_is_not_in_read_or_manage() -> None:
    """The daemon's role grants only the two daemon endpoints."""
    assert (False, False) == (SCHEDULER in READ, SCHEDULER in MANAGE)
