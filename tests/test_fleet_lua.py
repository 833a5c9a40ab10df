"""The keeper's Lua scripts (btu_scheduler.fleet.keeper) against a real Redis: which
leases a fleet daemon may take, and the standalone daemon's view of a fleet lease."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
import redis

from btu_scheduler.fleet.keeper import Keeper
from btu_scheduler.fleet.leases import BEAT_SCRIPT, TAKE_SCRIPT
from btu_scheduler.lease import _ACQUIRE
from streams.keys import Keys, PoolKeys


class Pool:
    def __init__(self, r: redis.Redis) -> None:
        self.r = r
        self.keys = PoolKeys(f"t{uuid.uuid4().hex[:10]}")
        self.sites = [f"test-{uuid.uuid4().hex[:10]}.local" for _ in range(4)]
        self.take_script = r.register_script(TAKE_SCRIPT)
        self.beat_script = r.register_script(BEAT_SCRIPT)

    def leader(self, i: int) -> str:
        return Keys(self.sites[i]).leader

    def now_ms(self) -> int:
        sec, usec = self.r.time()
        return int(sec) * 1000 + int(usec) // 1000

    def alive(self, instance: str, ms: int = 10_000, pool: PoolKeys | None = None) -> None:
        self.r.zadd((pool or self.keys).members, {instance: self.now_ms() + ms})

    def take(self, instance: str, *sites: int) -> list[str | None]:
        keys = [self.keys.members, *(self.leader(i) for i in sites)]
        out = self.take_script(keys, [instance, self.keys.pool])
        return [None if v is None else v.decode() for v in out]

    def value(self, i: int) -> dict[str, object]:
        raw = self.r.get(self.leader(i))
        assert raw is not None
        data: dict[str, object] = orjson.loads(raw)
        return data

    def cleanup(self) -> None:
        for site in self.sites:
            batch = list(self.r.scan_iter(match=f"btu:{site}:*"))
            if batch:
                self.r.delete(*batch)
        batch = list(self.r.scan_iter(match=f"btu:@pool:{self.keys.pool}:*"))
        if batch:
            self.r.delete(*batch)


@pytest.fixture
def pool(redis_url: str | None) -> Iterator[Pool]:
    if redis_url is None:
        pytest.skip("needs a real Redis: set BTU_TEST_REDIS_URL or install redis-server")
    client = redis.Redis.from_url(redis_url)
    p = Pool(client)
    try:
        yield p
    finally:
        p.cleanup()
        client.close()


def fleet_value(instance: str, pool: str, epoch: int = 1) -> str:
    return orjson.dumps({"instance": instance, "epoch": epoch, "pool": pool}).decode()


class TestTake:
    def test_free_site_is_taken_without_ttl(self, pool: Pool) -> None:
        pool.alive("a")
        [token] = pool.take("a", 0)
        assert token is not None
        value = pool.value(0)
        assert ("a", pool.keys.pool) == (value["instance"], value["pool"])
        assert isinstance(value["epoch"], int) and value["epoch"] > 0
        assert token == pool.r.get(pool.leader(0)).decode()  # type: ignore[union-attr]
        assert -1 == pool.r.pttl(pool.leader(0))

    def test_only_free_sites_are_taken(self, pool: Pool) -> None:
        """In one call: the missing and the dead one are taken, the live one is not."""
        pool.alive("b")
        pool.r.set(pool.leader(1), fleet_value("b", pool.keys.pool))
        pool.r.set(pool.leader(2), fleet_value("dead", pool.keys.pool))
        got = pool.take("a", 0, 1, 2)
        assert [True, False, True] == [t is not None for t in got]
        assert "b" == pool.value(1)["instance"]
        assert "a" == pool.value(2)["instance"]

    def test_lease_with_ttl_is_never_taken(self, pool: Pool) -> None:
        """A standalone daemon's lease (it has a TTL) holds until it expires, whoever it
        names (even a name not in the members set, even our own)."""
        for i, holder in enumerate(("standalone", "a")):
            standalone = orjson.dumps({"instance": holder, "epoch": 5}).decode()
            pool.r.set(pool.leader(i), standalone, px=10_000)
        assert [None, None] == pool.take("a", 0, 1)
        assert "standalone" == pool.value(0)["instance"]

    def test_dead_instance_lease_is_taken(self, pool: Pool) -> None:
        """Named instance expired in the members set (score in the past), or gone."""
        pool.r.zadd(pool.keys.members, {"expired": pool.now_ms() - 1})
        pool.r.set(pool.leader(0), fleet_value("expired", pool.keys.pool))
        pool.r.set(pool.leader(1), fleet_value("gone", pool.keys.pool))
        assert [True, True] == [t is not None for t in pool.take("a", 0, 1)]

    def test_live_instance_lease_is_not_taken(self, pool: Pool) -> None:
        pool.alive("b", ms=5_000)
        pool.r.set(pool.leader(0), fleet_value("b", pool.keys.pool))
        assert [None] == pool.take("a", 0)

    def test_own_name_with_another_epoch_is_taken(self, pool: Pool) -> None:
        """Our predecessor under the same instance name: taken, with a new epoch."""
        pool.alive("a")
        old = fleet_value("a", pool.keys.pool, epoch=1)
        pool.r.set(pool.leader(0), old)
        [token] = pool.take("a", 0)
        assert token is not None and token != old
        assert pool.value(0)["epoch"] != 1

    def test_other_pool_uses_its_own_members(self, pool: Pool) -> None:
        """A lease of another pool is free only when its instance is dead in that pool."""
        other = PoolKeys(f"{pool.keys.pool}-o")
        try:
            pool.alive("b", pool=other)
            pool.alive("c")  # alive in OUR pool, not in its own
            pool.r.set(pool.leader(0), fleet_value("b", other.pool))
            pool.r.set(pool.leader(1), fleet_value("c", other.pool))
            assert [False, True] == [t is not None for t in pool.take("a", 0, 1)]
        finally:
            pool.r.delete(other.members)

    def test_garbage_value_without_ttl_is_taken(self, pool: Pool) -> None:
        pool.r.set(pool.leader(0), "not json")
        pool.r.set(pool.leader(1), "[1, 2]")
        assert [True, True] == [t is not None for t in pool.take("a", 0, 1)]


class TestBeat:
    def test_renews_and_reads_leases(self, pool: Pool) -> None:
        pool.r.set(pool.leader(0), fleet_value("a", pool.keys.pool))
        digests = pool.keys.members + ":digests"
        before = pool.now_ms()
        reply = pool.beat_script(
            [pool.keys.members, digests], ["a", 1500, "d1", "0", pool.leader(0), pool.leader(1)]
        )
        now = int(reply[0])
        alive = dict(zip(reply[1][0::2], reply[1][1::2], strict=True))
        assert now >= before
        assert int(alive[b"a"]) == now + 1500
        assert {b"a": b"d1"} == dict(zip(reply[2][0::2], reply[2][1::2], strict=True))
        assert [fleet_value("a", pool.keys.pool).encode(), None] == reply[3:]

    def test_prune_removes_dead_members(self, pool: Pool) -> None:
        digests = pool.keys.members + ":digests"
        pool.r.zadd(pool.keys.members, {"dead": pool.now_ms() - 10})
        pool.r.hset(digests, "dead", "x")
        reply = pool.beat_script([pool.keys.members, digests], ["a", 1500, "d1", "1"])
        assert [b"a"] == reply[1][0::2]
        assert None is pool.r.zscore(pool.keys.members, "dead")
        assert None is pool.r.hget(digests, "dead")


class TestStandaloneAcquire:
    """lease._ACQUIRE (a single-site daemon) meets a fleet lease."""

    def acquire(self, pool: Pool, instance: str, i: int = 0) -> tuple[int, str]:
        script = pool.r.register_script(_ACQUIRE)
        site = Keys(pool.sites[i])
        got, token, _pttl = script([site.leader, site.scheduler(instance)], [instance, 1500, 4500])
        return int(got), token.decode()

    def test_honours_a_live_fleet_lease(self, pool: Pool) -> None:
        pool.alive("fleet-a")
        pool.r.set(pool.leader(0), fleet_value("fleet-a", pool.keys.pool))
        got, token = self.acquire(pool, "solo")
        assert 0 == got and "fleet-a" in token

    def test_takes_a_dead_fleet_lease_with_a_ttl(self, pool: Pool) -> None:
        pool.r.set(pool.leader(0), fleet_value("fleet-gone", pool.keys.pool))
        got, _ = self.acquire(pool, "solo")
        assert 1 == got and "solo" == pool.value(0)["instance"]
        assert 0 < pool.r.pttl(pool.leader(0)) <= 1500


class TestTakeWhileStopping:
    """A site that begins to stop while the keeper's takeover script runs may already have
    released its (empty) lease and exited: the keeper gives back what it just took, or a
    stopped daemon would hold the site (CI caught it after SIGHUP, SIGTERM in a burst)."""

    def daemon(self, pool: Pool, i: int, stopping: bool) -> Any:
        from btu_scheduler.lease import Lease

        stop = threading.Event()
        if stopping:
            stop.set()
        return SimpleNamespace(
            settings=SimpleNamespace(site=pool.sites[i]),
            keys=Keys(pool.sites[i]),
            lease=Lease(pool.r, Keys(pool.sites[i]), "me", 5_000),
            stopping=stop,
            apply_lease=lambda *a: None,
        )

    def keeper(self, pool: Pool) -> Keeper:
        hub: Any = SimpleNamespace(instance="me", lease_seconds=5.0, r=pool.r, pool=pool.keys)
        return Keeper(hub)

    def test_a_site_stopping_meanwhile_gets_no_lease(self, pool: Pool) -> None:
        pool.alive("me")
        running, stopping = self.daemon(pool, 0, False), self.daemon(pool, 1, True)
        self.keeper(pool)._take_sites([running, stopping], time.monotonic(), pool.now_ms())
        assert "me" == pool.value(0)["instance"] and running.lease.token is not None
        assert pool.r.get(pool.leader(1)) is None
        assert stopping.lease.token is None
