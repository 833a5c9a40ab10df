"""The daemon's loop driven step by step under a fake clock, against a real Redis: the
firing step, catch-up at start-up, promotion, and Redis data loss, without processes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from btu_scheduler.config import Settings
from btu_scheduler.daemon import Daemon
from btu_scheduler.fire.answers import Result
from streams.keys import Keys, Outcome
from streams.messages import FireRecord, ScheduleUpsert
from streams.publish import publish_upsert
from streams.redisio import xrevrange
from tests.conftest import FakeClock
from tests.harness import wait_for

T0 = 1_800_000_000_000  # 2027-01-15T08:00:00Z, a whole minute


class FakeEndpoint:
    """Records requests; answers enqueued (or whatever ``answer`` says)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, int, str]] = []
        self.republished = 0
        self.on_republish: Callable[[], None] | None = None  # what the app would publish
        self.lock = threading.Lock()

    def enqueue(self, item_id: str, kind: str, due: int, fire_id: str) -> Result:
        with self.lock:
            self.requests.append((item_id, kind, due, fire_id))
        return Result(Outcome.ENQUEUED, http=200, job=fire_id.replace("@", "_"))

    def republish_all(self) -> Result:
        if self.on_republish is not None:
            self.on_republish()
        self.republished += 1
        return Result(Outcome.ENQUEUED, http=200)

    def close(self) -> None:
        pass


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0 / 1000)


@pytest.fixture
def make_daemon(real_redis: redis.Redis, site: str, clock: FakeClock) -> Iterator[Any]:
    made: list[Daemon] = []

    def make(instance: str = "loop-1", endpoint: FakeEndpoint | None = None) -> Daemon:
        url = real_redis.connection_pool.connection_kwargs
        settings = Settings(
            site=site,
            redis_url=f"redis://{url['host']}:{url['port']}/{url.get('db', 0)}",
            frappe_url="http://127.0.0.1:9",
            api_key="k",
            api_secret="s",
            instance=instance,
            lease_seconds=30,
        )
        daemon = Daemon(settings, clock=clock, endpoint=endpoint or FakeEndpoint())  # type: ignore[arg-type]
        made.append(daemon)
        return daemon

    yield make
    for daemon in made:
        daemon.stopping.set()
        daemon.lease_stop.set()
        daemon.dispatcher.shutdown(1)
        daemon.lease.release()


def spec(item_id: str, expr: str = "* * * * *", ts: int = T0) -> ScheduleUpsert:
    return ScheduleUpsert(
        id=item_id, kind="cron", task="t", cron=expr, tz="UTC", enabled=True, ts=ts
    )


def fires(r: redis.Redis, keys: Keys, count: int) -> list[FireRecord]:
    def read() -> list[FireRecord]:
        got = [FireRecord.decode(f) for _e, f in reversed(xrevrange(r, keys.fires, 1000))]
        return got if len(got) >= count else []

    return wait_for(read, 5)


def test_firing_step_fires_at_the_fake_instant(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys, clock: FakeClock
) -> None:
    """Nothing fires before the instant; advancing the clock past it fires once, with
    lag measured on the injected clock."""
    daemon = make_daemon()
    publish_upsert(real_redis, keys, spec("TS-L-1"))
    assert daemon._start()
    daemon.step(wait=False)
    assert [] == daemon.endpoint.requests
    clock.advance(60.25)
    daemon.step(wait=False)
    [record] = fires(real_redis, keys, 1)
    assert ("TS-L-1", T0 + 60_000, 250, "enqueued") == (
        record.id, record.due, record.lag_ms, record.outcome
    )  # fmt: skip
    assert T0 + 120_000 == daemon.engine.next_due()


def test_start_up_catches_up_a_fire_missed_within_grace(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys, clock: FakeClock
) -> None:
    """An instant missed while no daemon ran (within grace) fires once at start-up."""
    publish_upsert(real_redis, keys, spec("TS-L-2", ts=T0 - 600_000))
    real_redis.hset(keys.last_fire, "TS-L-2", T0 - 120_000)
    clock.advance(30)
    daemon = make_daemon()
    assert daemon._start()
    daemon.step(wait=False)
    [record] = fires(real_redis, keys, 1)
    assert ("TS-L-2", T0, "enqueued") == (record.id, record.due, record.outcome)


def test_standby_does_not_fire_until_promoted(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys, clock: FakeClock
) -> None:
    """A standby keeps the item armed but never fires; once the lease is its own it skips
    what the old leader fired and fires what it did not."""
    leader, standby = make_daemon("loop-a"), make_daemon("loop-b")
    publish_upsert(real_redis, keys, spec("TS-L-3"))
    publish_upsert(real_redis, keys, spec("TS-L-4"))
    assert leader._start() and standby._start()
    assert (True, False) == (leader.is_leader, standby.is_leader)
    clock.advance(60)
    real_redis.hset(keys.last_fire, "TS-L-3", T0 + 60_000)  # the old leader fired TS-L-3 only
    standby.step(wait=False)
    assert [] == standby.endpoint.requests
    leader.lease.release()
    standby._lease_tick()
    standby.step(wait=False)
    wait_for(lambda: standby.endpoint.requests, 5)
    assert [("TS-L-4", "cron", T0 + 60_000, f"TS-L-4@{T0 + 60_000}")] == standby.endpoint.requests


def test_redis_coming_back_empty_asks_for_a_republish(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys
) -> None:
    """After a reconnect that finds the state hash gone while items are armed, the daemon
    keeps its heap, rewinds its stream positions and calls republish_all; once the app
    has republished, it resyncs."""
    endpoint = FakeEndpoint()
    daemon = make_daemon(endpoint=endpoint)
    publish_upsert(real_redis, keys, spec("TS-L-5"))
    assert daemon._start()
    real_redis.delete(keys.state, keys.schedules)
    during: list[tuple[str, int]] = []

    def republish() -> None:
        during.append((daemon.last_id, daemon.engine.armed.armed))
        publish_upsert(real_redis, keys, spec("TS-L-5"))

    endpoint.on_republish = republish
    daemon.reader.after_reconnect()
    wait_for(lambda: endpoint.republished, 5)
    assert [("0-0", 1)] == during
    wait_for(lambda: daemon.last_id != "0-0", 5)
    assert 1 == daemon.engine.armed.armed


def test_fires_deferred_while_redis_fails_coalesce_per_item(make_daemon: Any) -> None:
    """Fires popped while claims fail are kept as one pending fire per item, the latest."""
    from btu_scheduler.engine import Fire

    daemon = make_daemon()
    daemon._defer([Fire("TS-1", "cron", "t", T0), Fire("TS-2", "cron", "t", T0)])
    daemon._defer([Fire("TS-1", "cron", "t", T0 + 1_000)])
    daemon._defer([Fire("TS-1", "cron", "t", T0 + 2_000)])
    assert {("TS-1", T0 + 2_000), ("TS-2", T0)} == {(f.id, f.due) for f in daemon._pending}


def test_promotion_reads_last_fire_only_for_items_due(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys, clock: FakeClock
) -> None:
    """Promotion looks up last-fire for the items due, never the whole hash (which holds
    one field per item): it skips what the old leader fired and fires the rest."""
    leader, standby = make_daemon("loop-c"), make_daemon("loop-d")
    publish_upsert(real_redis, keys, spec("TS-P-1"))
    publish_upsert(real_redis, keys, spec("TS-P-2"))
    assert leader._start() and standby._start()
    clock.advance(60)
    real_redis.hset(keys.last_fire, "TS-P-1", T0 + 60_000)
    read_whole: list[str] = []
    hgetall = standby.r.hgetall

    def spy(name: str) -> Any:
        read_whole.append(name)
        return hgetall(name)

    standby.r.hgetall = spy  # type: ignore[method-assign]
    leader.lease.release()
    standby._lease_tick()
    standby.step(wait=False)
    wait_for(lambda: standby.endpoint.requests, 5)
    assert ([("TS-P-2", T0 + 60_000)], []) == (
        [(i, due) for i, _kind, due, _fid in standby.endpoint.requests],
        [name for name in read_whole if name == keys.last_fire],
    )


def test_cancel_holds_across_a_restart_until_the_next_upsert(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys, clock: FakeClock
) -> None:
    """A cancelled item is not armed (nor caught up) by the next daemon's start-up; its
    next upsert, reloaded, arms it again and ends the record."""
    first = make_daemon("loop-e")
    publish_upsert(real_redis, keys, spec("TS-C-1"))
    assert first._start()
    assert first.cancel_item("TS-C-1")
    first.lease.release()
    clock.advance(90)
    second = make_daemon("loop-f")
    assert second._start()
    second.step(wait=False)
    item = second.engine.armed.get("TS-C-1")
    assert (None, []) == (item.due if item else "gone", second.endpoint.requests)
    publish_upsert(real_redis, keys, spec("TS-C-1", ts=T0 + 90_000))
    second.reload_item("TS-C-1")
    assert (T0 + 120_000, None) == (
        second.engine.next_due(),
        real_redis.hget(keys.cancelled, "TS-C-1"),
    )


def test_a_wall_clock_step_while_asleep_fires_on_time(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys, clock: FakeClock
) -> None:
    """The loop sleeps an hour's worth of monotonic time for an hourly item; the wall clock
    steps forward past the instant (NTP after a VM pause) while it sleeps. It re-reads the
    wall clock within a second and fires the instant on time, not ``missed``."""
    daemon = make_daemon()
    publish_upsert(real_redis, keys, spec("TS-L-6", "0 * * * *"))
    assert daemon._start()
    assert T0 + 3_600_000 == daemon.engine.next_due()
    daemon.step(wait=False)  # the promotion work, so the next step goes straight to sleep
    asleep = threading.Event()
    real_wait = daemon.lock.wait

    def wait(timeout: float | None = None) -> bool:
        asleep.set()  # the timeout is already computed from the wall clock
        return bool(real_wait(timeout))

    daemon.lock.wait = wait
    sleeper = threading.Thread(target=daemon.step, daemon=True)
    sleeper.start()
    assert asleep.wait(5)
    clock.advance(3600.5)  # the step: nobody notifies the sleeping loop
    sleeper.join(10)
    assert not sleeper.is_alive(), "the loop slept through a wall-clock step"
    daemon.step(wait=False)
    [record] = fires(real_redis, keys, 1)
    assert ("TS-L-6", T0 + 3_600_000, "enqueued") == (record.id, record.due, record.outcome)


def test_an_item_due_in_year_9999_sleeps_without_overflow(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys
) -> None:
    """A once item at the last representable instant (9999-12-31T23:59:59.999Z) is armed;
    the firing step waits (a bounded time) instead of raising OverflowError."""
    daemon = make_daemon()
    far = ScheduleUpsert(
        id="TS-L-7", kind="once", task="t", at=253_402_300_799_999, enabled=True, ts=T0
    )
    publish_upsert(real_redis, keys, far)
    assert daemon._start()
    assert 253_402_300_799_999 == daemon.engine.next_due()
    assert 0 == daemon.step()
    assert [] == daemon.endpoint.requests


def test_start_up_forgets_last_fire_only_of_items_gone(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys, clock: FakeClock
) -> None:
    """Start-up forgets the last-fire record of an item deleted while no leader ran, and
    keeps those of the items still in the state hash: their catch-up baseline survives,
    so the next start-up does not fire an instant they already fired."""
    publish_upsert(real_redis, keys, spec("TS-KEPT", ts=T0 - 600_000))
    real_redis.hset(keys.last_fire, mapping={"TS-KEPT": T0, "TS-GONE": T0 - 60_000})
    clock.advance(30)
    first = make_daemon("loop-k1")
    assert first._start()
    first.step(wait=False)
    assert ({b"TS-KEPT": str(T0).encode()}, []) == (
        real_redis.hgetall(keys.last_fire),
        first.endpoint.requests,
    )
    first.lease.release()
    second = make_daemon("loop-k2")
    assert second._start()
    second.step(wait=False)
    assert ([], {b"TS-KEPT": str(T0).encode()}) == (
        second.endpoint.requests,
        real_redis.hgetall(keys.last_fire),
    )


def test_a_stop_requested_just_before_the_loop_sleeps_is_not_missed(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys
) -> None:
    """The stop flag was set, and its notify sent, after the loop checked the flag but
    before it began to wait: the wait must not begin (with nothing armed it would last
    for ever; a fleet daemon's site then held its lease past the process's exit)."""
    daemon = make_daemon()
    assert daemon._start()
    daemon.step(wait=False)
    daemon.stopping.set()  # no notify: it went out before the wait below
    stepper = threading.Thread(target=daemon.step, daemon=True)
    stepper.start()
    stepper.join(timeout=2)
    assert not stepper.is_alive()
