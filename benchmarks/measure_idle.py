"""Section 6: Redis commands per second while idle.

1,000 items armed, none due within two hours; after a settling pause, the delta of
``INFO stats`` ``total_commands_processed`` over the window, minus the driver's own INFO
calls, and the per-command deltas of ``INFO commandstats``. Redis counts the commands a
Lua script runs (``redis.call``) in both, so the per-command table separates the
top-level commands a client sent (EVALSHA, XREAD, ...) from those run inside scripts.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.common import Bench, Row, now_ms, quiet_items
from streams.publish import publish_all

SITE = "bench-idle"
ARMED = 1_000
TARGET_PER_S = 1.0
# Commands a client sends itself; the others counted while idle run inside Lua scripts.
CLIENT_SENT = frozenset({"evalsha", "eval", "xread", "xadd", "multi", "exec", "expire", "del"})


def _calls(stats: dict[str, Any]) -> dict[str, int]:
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


def run(bench: Bench, quick: bool) -> list[Row]:
    window_s = 10 if quick else 30
    d = bench.daemon(SITE)
    d.wait_leader()
    ts = now_ms()
    items = quiet_items("IDLE", ARMED, ts)
    publish_all(bench.r, d.keys, items, ts)
    d.wait_armed(ARMED)
    next_due = (d.ping(1.0) or {}).get("next_due")
    time.sleep(3.0)
    total0 = int(bench.r.info("stats")["total_commands_processed"])
    cmd0 = _calls(bench.r.info("commandstats"))
    time.sleep(window_s)
    total1 = int(bench.r.info("stats")["total_commands_processed"])
    cmd1 = _calls(bench.r.info("commandstats"))
    bench.stop(d)

    deltas = {k: v - cmd0.get(k, 0) for k, v in cmd1.items() if v - cmd0.get(k, 0) > 0}
    own_info = deltas.pop("info", 0)
    total = total1 - total0 - own_info
    per_s = total / window_s
    top = sum(v for k, v in deltas.items() if k in CLIENT_SENT)
    per_cmd = ", ".join(f"{k} {v}" for k, v in sorted(deltas.items(), key=lambda kv: -kv[1]))
    due_in = "none" if next_due is None else f"{(next_due - now_ms()) / 60_000:.0f} min"
    return [
        Row(
            f"Redis commands/s while idle ({ARMED} armed, next due in {due_in}), {window_s} s",
            f"{per_s:.2f}/s ({total} commands; client-sent {top / window_s:.2f}/s)",
            "",
            "",
            f"≤ {TARGET_PER_S:g}/s",
            per_s <= TARGET_PER_S,
            detail=f"per command over {window_s} s: {per_cmd}; of which sent by the client "
            f"{top} = {top / window_s:.2f}/s, the rest ran inside Lua scripts",
        )
    ]
