"""The leader lease (btu_scheduler/lease.py) on a real Redis: acquire, renew, release,
expiry, fencing epoch and the heartbeat hash."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
import redis

from btu_scheduler.engine import Fire
from btu_scheduler.fire.dispatch import CLAIMED, FENCED, Dispatcher, DispatchSettings
from btu_scheduler.lease import Lease
from streams.keys import Keys

LEASE_MS = 5_000


def text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.fixture
def make_lease(real_redis: redis.Redis, keys: Keys) -> Callable[..., Lease]:
    def make(instance: str, lease_ms: int = LEASE_MS) -> Lease:
        return Lease(real_redis, keys, instance, lease_ms)

    return make


class TestLease:
    def test_first_instance_acquires(
        self, real_redis: redis.Redis, keys: Keys, make_lease: Callable[..., Lease]
    ) -> None:
        """The first instance becomes leader; the value is JSON with instance and epoch."""
        a = make_lease("node-a")
        before = int(time.time() * 1000)
        state = a.tick({})
        value = json.loads(text(real_redis.get(keys.leader)))
        assert (True, state.token, a.token, "node-a", LEASE_MS, True, True) == (
            state.leader,
            text(real_redis.get(keys.leader)),
            state.token,
            value["instance"],
            state.pttl_ms,
            isinstance(value["epoch"], int),
            abs(value["epoch"] - before) < 60_000,
        )

    def test_lease_has_expiry(
        self, real_redis: redis.Redis, keys: Keys, make_lease: Callable[..., Lease]
    ) -> None:
        """The lease key expires within the lease time."""
        make_lease("node-a").tick({})
        assert True is (0 < real_redis.pttl(keys.leader) <= LEASE_MS)

    def test_second_stays_standby(
        self, real_redis: redis.Redis, keys: Keys, make_lease: Callable[..., Lease]
    ) -> None:
        """A second instance stays standby, sees the leader's value and the remaining time."""
        a, b = make_lease("node-a"), make_lease("node-b")
        leader = a.tick({})
        standby = b.tick({})
        assert (False, leader.token, None, True) == (
            standby.leader,
            standby.token,
            b.token,
            0 < standby.pttl_ms <= LEASE_MS,
        )

    def test_renew_keeps_lease(
        self, real_redis: redis.Redis, keys: Keys, make_lease: Callable[..., Lease]
    ) -> None:
        """Renewing keeps the same value and pushes the expiry back to the full lease."""
        a = make_lease("node-a")
        first = a.tick({})
        real_redis.pexpire(keys.leader, 1_000)
        second = a.tick({})
        assert (True, first.token, True) == (
            second.leader,
            second.token,
            real_redis.pttl(keys.leader) > 1_000,
        )

    def test_release_hands_over(
        self, real_redis: redis.Redis, keys: Keys, make_lease: Callable[..., Lease]
    ) -> None:
        """After release the standby acquires at once, with a larger epoch."""
        a, b = make_lease("node-a"), make_lease("node-b")
        first = a.tick({})
        b.tick({})
        released = a.release()
        time.sleep(0.002)  # the epoch is a millisecond timestamp
        second = b.tick({})
        assert (True, None, True, "node-b", True) == (
            released,
            a.token,
            second.leader,
            json.loads(second.token)["instance"],
            json.loads(second.token)["epoch"] > json.loads(first.token)["epoch"],
        )

    def test_release_when_not_leader(self, make_lease: Callable[..., Lease]) -> None:
        """Releasing without holding the lease does nothing."""
        a, b = make_lease("node-a"), make_lease("node-b")
        a.tick({})
        b.tick({})
        assert (False, True) == (b.release(), a.tick({}).leader)

    def test_takeover_after_expiry(
        self, real_redis: redis.Redis, keys: Keys, make_lease: Callable[..., Lease]
    ) -> None:
        """When the leader stops renewing, the standby acquires once the lease expires."""
        a, b = make_lease("node-a", 300), make_lease("node-b", 300)
        first = a.tick({})
        standby = b.tick({})
        expired = wait_until(lambda: real_redis.exists(keys.leader) == 0, timeout=2.0)
        taken = b.tick({})
        assert (True, False, True, True, "node-b") == (
            first.leader,
            standby.leader,
            expired,
            taken.leader,
            json.loads(taken.token)["instance"],
        )

    def test_stale_instance_cannot_renew(
        self, real_redis: redis.Redis, keys: Keys, make_lease: Callable[..., Lease]
    ) -> None:
        """An instance whose token no longer matches the lease loses leadership on renew
        and does not overwrite the new leader's value."""
        a, b = make_lease("node-a", 300), make_lease("node-b", 300)
        a.tick({})
        wait_until(lambda: real_redis.exists(keys.leader) == 0, timeout=2.0)
        new = b.tick({})
        stale = a.tick({})
        assert (False, None, new.token, new.token, False) == (
            stale.leader,
            a.token,
            stale.token,
            text(real_redis.get(keys.leader)),
            a.release(),
        )

    def test_heartbeat_hash(
        self, real_redis: redis.Redis, keys: Keys, make_lease: Callable[..., Lease]
    ) -> None:
        """Each tick writes role, heartbeat and the given fields, with a TTL."""
        a, b = make_lease("node-a"), make_lease("node-b")
        a.tick({"armed": "3", "pid": "123"})
        b.tick({"armed": "3", "pid": "456"})
        now = int(time.time() * 1000)
        hashes = {}
        for name in ("node-a", "node-b"):
            raw = real_redis.hgetall(keys.scheduler(name))
            hashes[name] = {text(k): text(v) for k, v in raw.items()}
        expected_roles = {"node-a": ("leader", "3", "123"), "node-b": ("standby", "3", "456")}
        assert (expected_roles, True, True) == (
            {n: (h["role"], h["armed"], h["pid"]) for n, h in hashes.items()},
            all(abs(int(h["heartbeat"]) - now) < 60_000 for h in hashes.values()),
            all(
                0 < real_redis.pttl(keys.scheduler(n)) <= 3 * LEASE_MS for n in ("node-a", "node-b")
            ),
        )

    def test_heartbeat_follows_role_change(
        self, real_redis: redis.Redis, keys: Keys, make_lease: Callable[..., Lease]
    ) -> None:
        """A leader that loses its lease reports itself standby in its heartbeat."""
        a, b = make_lease("node-a"), make_lease("node-b")
        a.tick({})
        real_redis.delete(keys.leader)
        b.tick({})
        a.tick({})
        assert "standby" == text(real_redis.hget(keys.scheduler("node-a"), "role"))

    def test_stale_token_is_fenced_off(
        self, real_redis: redis.Redis, keys: Keys, make_lease: Callable[..., Lease]
    ) -> None:
        """The claim script refuses the token of a leader whose lease was taken over."""

        class NoEndpoint:
            def enqueue(self, *_args: object) -> None:
                raise AssertionError("nothing is sent in this test")

            def close(self) -> None:
                pass

        a, b = make_lease("node-a", 300), make_lease("node-b", 300)
        stale_token = a.tick({}).token
        wait_until(lambda: real_redis.exists(keys.leader) == 0, timeout=2.0)
        new_token = b.tick({}).token
        d = Dispatcher(real_redis, keys, NoEndpoint(), DispatchSettings(instance="x"))  # type: ignore[arg-type]
        try:
            codes = [code for _f, code, _p in d.claim([Fire("TS-1", "cron", "t", 1)], stale_token)]
            codes += [code for _f, code, _p in d.claim([Fire("TS-1", "cron", "t", 1)], new_token)]
        finally:
            d.shutdown(1.0)
        assert [FENCED, CLAIMED] == codes
