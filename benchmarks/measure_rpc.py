"""Section 4: RPC ``ping`` round trip through :class:`streams.rpc.RpcClient` (XADD the
request, the daemon's blocking XREAD wakes, it answers with XADD+EXPIRE in MULTI, the
client's blocking XREAD wakes, DEL of the reply stream), against a raw Redis PING."""

from __future__ import annotations

import time

from benchmarks.common import Bench, Row, no_gc, now_ms, p50_p99, pct, quiet_items, ratio
from streams.publish import publish_all

SITE = "bench-ping"
TARGET_P99_MS = 3.0
ARMED = 1_000


def run(bench: Bench, quick: bool) -> list[Row]:
    calls = 300 if quick else 1_000
    d = bench.daemon(SITE)
    d.wait_leader()
    ts = now_ms()
    items = quiet_items("PING", ARMED, ts)
    publish_all(bench.r, d.keys, items, ts)
    d.wait_armed(ARMED)
    for _ in range(50):
        d.call("ping")
    rpc: list[float] = []
    with no_gc():
        for _ in range(calls):
            t0 = time.perf_counter()
            d.call("ping", timeout=2.0)
            rpc.append((time.perf_counter() - t0) * 1000)
    bench.stop(d)

    raw: list[float] = []
    with no_gc():
        for _ in range(calls):
            t0 = time.perf_counter()
            bench.r.ping()
            raw.append((time.perf_counter() - t0) * 1000)
    p99 = pct(rpc, 99)
    return [
        Row(
            f"RPC ping round trip, {calls} calls ({ARMED} items armed)",
            p50_p99(rpc),
            p50_p99(raw, 3) + " (raw PING)",
            ratio(p99, pct(raw, 99)),
            f"p99 ≤ {TARGET_P99_MS:g} ms",
            p99 is not None and p99 <= TARGET_P99_MS,
            detail=f"max {max(rpc):.2f} ms",
        )
    ]
