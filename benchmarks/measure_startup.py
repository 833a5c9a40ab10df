"""Section 5: start-up time and memory with many armed items.

The state hash is filled directly (pipelined HSETs of the JSON of
``ScheduleUpsert(...).encode()``, as the app's publisher stores it) with a realistic mix:
200 distinct cron expressions in each of 4 zones (800 schedules shared by many items),
10% ``once`` items in the next 30 days, 2% of the cron items disabled; one matching
entry is XADDed to the schedules stream so the snapshot has a stream position. The
items were "published" a second ago and none is due in the next two hours, so start-up
has no catch-up to do.

Measured: time from spawning ``btu-scheduler run`` (info level, to read its ``loaded``
line) until it first answers a ping as leader, the ``ms`` of that line (snapshot →
heap), and VmRSS / VmHWM once loaded. Baselines: a bare HGETALL + orjson decode of the
same hash in the driver, and the RSS of an idle daemon with 0 items.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import redis

from benchmarks.common import Bench, Row, fmt_ms, now_ms, quiet_schedules, ratio
from streams.keys import Keys
from streams.messages import ScheduleUpsert
from streams.redisio import xadd

SITE = "bench-startup"
EMPTY_SITE = "bench-startup-empty"
HSET_FIELDS = 5_000
TARGET_S = 10.0
TARGET_RSS_MB = 1000.0  # 1 GB = 10^9 bytes


def fill(r: redis.Redis, keys: Keys, count: int) -> tuple[int, float]:
    """Write ``count`` items to the state hash; returns (enabled items, seconds)."""
    t0 = time.perf_counter()
    shapes = quiet_schedules()
    ts = now_ms() - 1_000
    soon = now_ms() + 86_400_000
    enabled = 0
    mapping: dict[str, bytes] = {}
    pipe = r.pipeline(transaction=False)
    spec: ScheduleUpsert | None = None
    for i in range(count):
        if i % 10 == 9:
            at = soon + (i * 7_919_000) % (30 * 86_400_000)
            spec = ScheduleUpsert(
                id=f"RL-{i:07d}", kind="once", task=f"Task {i % 50}", at=at, enabled=True, ts=ts
            )
        else:
            cron, tz = shapes[i % len(shapes)]
            spec = ScheduleUpsert(
                id=f"TS-{i:07d}", kind="cron", task=f"Task {i % 50}", cron=cron, tz=tz,
                enabled=i % 50 != 0, ts=ts,
            )  # fmt: skip
        enabled += spec.enabled
        mapping[spec.id] = orjson.dumps(spec.encode())
        if len(mapping) >= HSET_FIELDS:
            pipe.hset(keys.state, mapping=mapping)  # type: ignore[arg-type]
            mapping = {}
            if len(pipe) >= 20:
                pipe.execute()
    if mapping:
        pipe.hset(keys.state, mapping=mapping)  # type: ignore[arg-type]
    pipe.execute()
    if spec is not None:
        xadd(r, keys.schedules, spec.encode())
    return enabled, time.perf_counter() - t0


def hgetall_decode_s(r: redis.Redis, keys: Keys) -> float:
    t0 = time.perf_counter()
    state: dict[bytes, bytes] = r.hgetall(keys.state)  # type: ignore[assignment]
    decoded = [orjson.loads(v) for v in state.values()]
    elapsed = time.perf_counter() - t0
    del decoded, state
    return elapsed


def start_and_measure(bench: Bench, site: str) -> dict[str, Any]:
    d = bench.daemon(site, log_level="info")
    first_ping_s = d.wait_leader(timeout=600, ping_timeout=0.1)
    cpu_s = d.cpu_s()
    time.sleep(1.0)
    rss = d.rss_kib()
    later = d.ping(2.0)  # the daemon must keep answering once it has started to
    loaded = d.events("loaded")
    bench.stop(d)
    return {
        "first_ping_s": first_ping_s,
        "cpu_s": cpu_s,
        "loaded_ms": loaded[-1].get("ms") if loaded else None,
        "armed": loaded[-1].get("armed") if loaded else None,
        "answers_later": later is not None,
        "rss_mb": rss.get("VmRSS", 0) * 1024 / 1e6,
        "hwm_mb": rss.get("VmHWM", 0) * 1024 / 1e6,
    }


# Set by ``run.py --startup-sizes``: the sizes to measure instead of the default ones.
SIZES: list[int] | None = None


def run(bench: Bench, quick: bool) -> list[Row]:
    sizes = SIZES or ([100_000] if quick else [100_000, 1_000_000])
    idle = start_and_measure(bench, EMPTY_SITE)
    rows: list[Row] = []
    for size in sizes:
        bench.reset()
        keys = Keys(SITE)
        enabled, fill_s = fill(bench.r, keys, size)
        base_s = hgetall_decode_s(bench.r, keys)
        m = start_and_measure(bench, SITE)
        is_target = size == 1_000_000
        first = m["first_ping_s"]
        rows.append(
            Row(
                f"start-up, {size:,} items: spawn → first ping answered",
                f"{first:.2f} s (loaded line: {fmt_ms(m['loaded_ms'])})",
                f"{base_s:.2f} s (bare HGETALL + orjson decode)",
                ratio(first, base_s),
                f"≤ {TARGET_S:g} s" if is_target else "(1M: ≤ 10 s)",
                first <= TARGET_S if is_target else None,
                detail=(
                    f"{size:,} items: {m['armed']} armed (expected {enabled}); daemon CPU "
                    f"time until then {m['cpu_s']:.2f} s (empty daemon: "
                    f"{idle['cpu_s']:.2f} s); fill took {fill_s:.1f} s; an empty daemon "
                    f"answers its first ping after {idle['first_ping_s']:.2f} s"
                    + (
                        ""
                        if m["answers_later"]
                        else "; a ping 1 s after the first one was NOT answered within 2 s"
                    )
                ),
            )
        )
        rss, hwm = m["rss_mb"], m["hwm_mb"]
        peak = "within" if hwm <= TARGET_RSS_MB else "OVER"
        rows.append(
            Row(
                f"RSS, {size:,} items loaded: VmRSS (peak VmHWM)",
                f"{rss:,.0f} MB ({hwm:,.0f} MB)",
                f"{idle['rss_mb']:.0f} MB ({idle['hwm_mb']:.0f} MB) (idle daemon, 0 items)",
                ratio(rss, idle["rss_mb"]),
                "≤ 1 GB" if is_target else "(1M: ≤ 1 GB)",
                rss <= TARGET_RSS_MB if is_target else None,
                detail=f"{size:,} items: {(rss - idle['rss_mb']) * 1e6 / size:,.0f} bytes per "
                f"item (VmRSS over the idle daemon); peak {peak} 1 GB (MB = 10^6 bytes)",
            )
        )
    return rows
