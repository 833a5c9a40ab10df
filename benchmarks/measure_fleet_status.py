"""Section: ``btu-scheduler status`` over every site of a multi-site configuration
(:func:`btu_scheduler.poolstatus.read_pool`: two pipelined round trips), against the
same reads sent one command at a time, as a per-site status would (TIME and the members
set once, then GET of the lease, HGETALL of the heartbeat and XREVRANGE of the fires
stream for each site)."""

from __future__ import annotations

import time

import orjson

from benchmarks.common import Bench, Row, no_gc, ratio
from btu_scheduler.cluster import server_ms
from btu_scheduler.poolstatus import SiteRef, read_pool
from streams.keys import Keys, PoolKeys

POOL = "bench-status"
TARGET_S = 0.5  # 1,000 sites


def _write(bench: Bench, sites: list[str]) -> None:
    now = server_ms(bench.r)
    bench.r.zadd(PoolKeys(POOL).members, {"d1": now + 600_000, "d2": now + 600_000})
    pipe = bench.r.pipeline(transaction=False)
    for n, site in enumerate(sites):
        keys, instance = Keys(site), f"d{n % 2 + 1}"
        pipe.set(keys.leader, orjson.dumps({"instance": instance, "epoch": 1, "pool": POOL}))
        pipe.hset(keys.scheduler(instance), mapping={  # type: ignore[arg-type]
            "instance": instance, "heartbeat": str(now), "beat_ms": "600000", "armed": "20",
            "next_due": str(now + 5_000), "fires_sent": "7", "fires_failed": "0",
        })  # fmt: skip
        pipe.xadd(keys.fires, {"fire_id": "TS-1@1", "id": "TS-1", "due": str(now),
                               "sent": str(now), "outcome": "enqueued"})  # fmt: skip
    pipe.execute()


def _one_by_one(bench: Bench, sites: list[str]) -> None:
    bench.r.time()
    bench.r.zrange(PoolKeys(POOL).members, 0, -1, withscores=True)
    for n, site in enumerate(sites):
        keys = Keys(site)
        bench.r.get(keys.leader)
        bench.r.hgetall(keys.scheduler(f"d{n % 2 + 1}"))
        bench.r.xrevrange(keys.fires, count=1)


def run(bench: Bench, quick: bool) -> list[Row]:
    count = 1_000
    rounds = 3 if quick else 10
    sites = [f"s{n}.status.bench" for n in range(count)]
    _write(bench, sites)
    refs = [SiteRef(site) for site in sites]
    assert all(row["ok"] for row in read_pool(bench.r, refs, POOL)["sites"])
    pooled: list[float] = []
    single: list[float] = []
    with no_gc():
        for _ in range(rounds):
            t0 = time.perf_counter()
            read_pool(bench.r, refs, POOL)
            pooled.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            _one_by_one(bench, sites)
            single.append(time.perf_counter() - t0)
    best, base = min(pooled), min(single)
    return [
        Row(
            f"status over {count} sites (read from Redis, best of {rounds})",
            f"{best * 1000:.0f} ms",
            f"{base * 1000:.0f} ms (same reads, one command at a time)",
            ratio(best, base),
            f"≤ {TARGET_S * 1000:.0f} ms",
            best <= TARGET_S,
        )
    ]
