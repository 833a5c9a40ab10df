"""The hub's firer (btu_scheduler/fleet/firer.py) against a real Redis, driven by hand
under a fake clock: the due fires of every site due at an instant are claimed in one
pipeline and sent; bursts, lost leases and Redis errors leave them to the site's own
thread, never lose them."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from btu_scheduler.config import Settings
from btu_scheduler.daemon import Daemon
from btu_scheduler.fleet.firer import BURST, Firer
from btu_scheduler.fleet.hub import Hub
from btu_scheduler.metrics import Families
from streams.keys import Keys
from streams.messages import ScheduleUpsert
from streams.publish import publish_upsert
from tests.conftest import FakeClock
from tests.harness import wait_for
from tests.test_daemon_loop import T0, FakeEndpoint, fires


def spec(item_id: str, expr: str = "* * * * *") -> ScheduleUpsert:
    return ScheduleUpsert(id=item_id, kind="cron", task="t", cron=expr, tz="UTC", enabled=True,
                          ts=T0)  # fmt: skip


class Fleet:
    """A hub whose threads are not started (the test drives the firer) and its sites."""

    def __init__(self, r: redis.Redis, url: str, clock: FakeClock) -> None:
        self.r, self.url, self.clock = r, url, clock
        self.hub = Hub(url, "firer-t", f"t{uuid.uuid4().hex[:8]}", 30.0, Families(),
                       lambda _s: None, lambda: None)  # fmt: skip
        self.firer = self.hub.firer = Firer(self.hub)
        self.sites: list[Daemon] = []

    def site(self, items: int = 1) -> Daemon:
        name = f"test-{uuid.uuid4().hex[:10]}.local"
        settings = Settings(site=name, redis_url=self.url, frappe_url="http://127.0.0.1:9",
                            api_key="k", api_secret="s", instance="firer-t")  # fmt: skip
        d = Daemon(settings, clock=self.clock, endpoint=FakeEndpoint(), hub=self.hub)  # type: ignore[arg-type]
        self.sites.append(d)
        self.hub.add(d)
        for i in range(items):
            publish_upsert(self.r, d.keys, spec(f"TS-F-{i}"))
        assert d._start()
        d.apply_lease(d.lease.tick({}), 0.0, False)  # leads (the keeper's job in a fleet)
        d._lease_valid_until = float("inf")
        d.step(wait=False)  # reconciles the promotion and arms the firer
        return d

    def close(self) -> None:
        for d in self.sites:
            d.stopping.set()
            d.dispatcher.shutdown(1)
            d.lease.release()
            for key in self.r.scan_iter(match=f"btu:{d.settings.site}:*"):
                self.r.delete(key)
        self.hub.stop()


@pytest.fixture
def fleet(real_redis: redis.Redis, redis_url: str) -> Iterator[Fleet]:
    f = Fleet(real_redis, redis_url, FakeClock(T0 / 1000))
    try:
        yield f
    finally:
        f.close()


def requests(d: Daemon) -> list[Any]:
    endpoint: Any = d.endpoint
    return list(endpoint.requests)


def test_sites_due_together_are_claimed_in_one_pipeline(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    sites = [fleet.site() for _ in range(3)]
    assert {d: T0 + 60_000 for d in sites} == fleet.firer._armed
    pipelines: list[Any] = []
    make = fleet.hub.r.pipeline

    def spy(*args: Any, **kwargs: Any) -> Any:
        pipelines.append(make(*args, **kwargs))
        return pipelines[-1]

    monkeypatch.setattr(fleet.hub.r, "pipeline", spy)
    fleet.clock.advance(60.004)
    fleet.firer.fire(sites)
    assert 1 == len(pipelines)
    for d in sites:
        [record] = fires(fleet.r, d.keys, 1)
        assert ("TS-F-0", T0 + 60_000, 4, "enqueued") == (
            record.id, record.due, record.lag_ms, record.outcome
        )  # fmt: skip
        assert [("TS-F-0", "cron", T0 + 60_000, f"TS-F-0@{T0 + 60_000}")] == requests(d)
    # each site is armed again at its next instant
    assert {d: T0 + 120_000 for d in sites} == fleet.firer._armed


def test_a_site_whose_instant_has_not_come_is_armed_again(fleet: Fleet) -> None:
    d = fleet.site()
    fleet.clock.advance(30)
    fleet.firer.fire([d])
    assert [] == requests(d)
    assert T0 + 60_000 == fleet.firer._armed[d]


def test_a_burst_is_left_to_the_site_thread_which_claims_it_in_chunks(fleet: Fleet) -> None:
    d = fleet.site(items=BURST + 8)
    fleet.clock.advance(60)
    fleet.firer.fire([d])
    assert BURST + 8 == len(d._pending)  # kept, not claimed by the firer
    assert [] == requests(d)
    d.step(wait=False)
    wait_for(lambda: len(requests(d)) == BURST + 8, 5)


def test_a_site_that_lost_its_lease_keeps_its_fires(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = fleet.site()
    fleet.clock.advance(60)
    # the lease went between the leadership check and the claim
    monkeypatch.setattr(Daemon, "is_leader", property(lambda _self: True))
    d.lease.token = None
    fleet.firer.fire([d])
    assert ["TS-F-0"] == [f.id for f in d._pending]
    assert [] == requests(d)


def test_standby_and_unreconciled_sites_are_skipped_and_not_armed(fleet: Fleet) -> None:
    standby, promoted = fleet.site(), fleet.site()
    fleet.clock.advance(60)
    standby._lease_valid_until = 0.0
    promoted._promoted = True  # its thread has not reconciled the promotion yet
    fleet.firer._armed.clear()
    fleet.firer.fire([standby, promoted])
    assert ([], []) == (requests(standby), requests(promoted))
    assert {} == fleet.firer._armed
    assert 1 == len(standby.engine.due(standby.now_ms()))  # still armed in the engine


def test_redis_failing_the_pipeline_loses_no_fire(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = fleet.site(), fleet.site()
    fleet.clock.advance(60)

    def down(*_args: Any, **_kwargs: Any) -> Any:
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(redis.client.Pipeline, "execute", down)
    fleet.firer.fire([a, b])
    assert (["TS-F-0"], ["TS-F-0"]) == ([f.id for f in a._pending], [f.id for f in b._pending])
    monkeypatch.undo()
    a.step(wait=False)  # Redis is back: the site's own thread claims what was kept
    [record] = fires(fleet.r, a.keys, 1)
    assert (T0 + 60_000, "enqueued") == (record.due, record.outcome)


def test_an_error_answer_for_one_site_does_not_stop_the_others(fleet: Fleet) -> None:
    good, broken = fleet.site(), fleet.site()
    fleet.clock.advance(60)
    fleet.r.set(Keys(broken.settings.site).inflight, "not a sorted set")  # WRONGTYPE there
    fleet.firer.fire([broken, good])
    [record] = fires(fleet.r, good.keys, 1)
    assert "enqueued" == record.outcome
    assert ["TS-F-0"] == [f.id for f in broken._pending]  # kept for its own thread


def test_alarms_keep_the_earliest_instant_of_each_site(fleet: Fleet) -> None:
    d, later = fleet.site(), fleet.site()  # armed at T0 + 60 s, after today's wall clock
    firer = fleet.firer
    past = int(time.time() * 1000) - 1_000
    firer.arm(d, past)  # earlier than its alarm: replaces it
    firer.arm(d, past + 500)  # later than that: ignored
    assert past == firer._armed[d]
    # due by the wall clock: d (its two heap entries give it once); the other is not
    assert [d] == firer._wait_due()
    assert {later: T0 + 60_000} == firer._armed


def test_a_bug_while_claiming_gives_the_fires_back_to_their_sites(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = fleet.site()
    fleet.clock.advance(60)

    def broken(*_args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(d.dispatcher, "claim_call", broken)
    fleet.firer.fire([d])
    assert ["TS-F-0"] == [f.id for f in d._pending]


def test_a_site_whose_stop_holds_its_claiming_lock_is_skipped(fleet: Fleet) -> None:
    d, other = fleet.site(), fleet.site()
    fleet.clock.advance(60)
    with d.claiming:  # its stop is shutting the dispatcher down
        fleet.firer.fire([d, other])
    assert 1 == len(d.engine.due(d.now_ms()))  # not popped: its next leader fires it
    assert [] == requests(d)
    wait_for(lambda: requests(other), 5)


def test_a_stopping_site_waits_for_the_firer_before_closing_its_dispatcher(
    fleet: Fleet,
) -> None:
    d = fleet.site()
    d.stopping.set()
    d.claiming.acquire()  # the firer is claiming for it
    stopper = threading.Thread(target=d._shutdown, daemon=True)
    stopper.start()
    time.sleep(0.3)
    assert d.dispatcher._accepting  # not shut down while the firer holds the site
    d.claiming.release()
    stopper.join(timeout=10)
    assert not stopper.is_alive() and not d.dispatcher._accepting


def test_a_stopped_site_is_forgotten(fleet: Fleet) -> None:
    d, other = fleet.site(), fleet.site()
    fleet.hub.remove(d)
    assert [other] == list(fleet.firer._armed)
    assert [other] == [site for _due, _seq, site in fleet.firer._alarms]


def test_a_stopped_site_leaves_no_stale_alarm(fleet: Fleet) -> None:
    d = fleet.site()
    fleet.firer.arm(d, int(time.time() * 1000) - 1)  # the T0 + 60 s entry is now stale
    assert [d] == fleet.firer._wait_due()  # pops the earlier one; the stale one stays
    assert 1 == len(fleet.firer._alarms)
    fleet.hub.remove(d)
    assert [] == fleet.firer._alarms
