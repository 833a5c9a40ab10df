"""When the lease keeper renews next (btu_scheduler/fleet/keeper.py ``Keeper._next_wait``):
the renewal period, unless another member's entry runs out before then (a daemon that
may have died), in which case just after it does, so its sites are taken within the
lease rather than up to one renewal period later."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from btu_scheduler.fleet.keeper import EXPIRY_MARGIN_S, MIN_GAP_S, Keeper, mid_second

NOW = 1_000_000
LEASE_S = 5.0


def keeper() -> Keeper:
    hub: Any = SimpleNamespace(
        instance="me", lease_seconds=LEASE_S, r=SimpleNamespace(register_script=lambda s: s)
    )
    return Keeper(hub)


def test_alone_renews_every_period() -> None:
    k = keeper()
    assert k._next_wait({"me": NOW + 5_000}, NOW) == k.renew_s == LEASE_S / 2.5


def test_live_peers_do_not_add_renewals() -> None:
    # A peer renewing on time is always at least lease - renewal period ahead.
    k = keeper()
    ahead = int((LEASE_S - k.renew_s) * 1000)
    assert k._next_wait({"me": NOW + 5_000, "peer": NOW + ahead}, NOW) == k.renew_s


def test_a_peer_running_out_before_the_next_renewal_is_looked_at_just_after() -> None:
    k = keeper()
    wait = k._next_wait({"me": NOW + 5_000, "peer": NOW + 700, "other": NOW + 4_000}, NOW)
    # the keeper's loop adds MIN_GAP_S before every renewal
    assert wait + MIN_GAP_S == pytest.approx(0.7 + EXPIRY_MARGIN_S)


def test_never_negative() -> None:
    k = keeper()
    assert k._next_wait({"me": NOW + 5_000, "peer": NOW}, NOW) == 0.0


@pytest.mark.parametrize("now", [100.0, 100.3, 100.5, 100.9, 100.99])
def test_renewals_begin_half_way_between_two_whole_seconds(now: float) -> None:
    # cron instants fall on whole seconds: a renewal of many sites must not begin then
    wait = mid_second(2.0, now)
    assert 1.5 <= wait <= 2.5
    assert (now + wait) % 1.0 == pytest.approx(0.5)


def test_short_renewal_periods_are_not_moved() -> None:
    assert 0.6 == mid_second(0.6, 100.2)
