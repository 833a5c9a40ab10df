"""Baseline of change propagation: delivery latency of a raw XADD to a plain redis-py
client blocked in XREAD, in a process of its own (as the daemon is).

Usage: ``python -m benchmarks.probe_xread URL STREAM COUNT READY_KEY OUT_KEY``. It sets
READY_KEY once it is about to block, reads COUNT entries whose ``ts`` field is the
writer's epoch ms (integer, like a schedule entry's ``ts``) and ``tf`` the same instant as
a float, and RPUSHes ``{"int": [...], "float": [...]}`` latencies (ms) to OUT_KEY.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Sequence

import orjson
import redis

from streams.redisio import xread


def main(argv: Sequence[str] | None = None) -> int:
    url, stream, count_text, ready_key, out_key = argv or sys.argv[1:]
    count = int(count_text)
    r = redis.Redis.from_url(url, socket_timeout=35)
    last = "0-0"
    as_int: list[int] = []
    as_float: list[float] = []
    gc.disable()  # a collection here would count as delivery latency
    r.set(ready_key, "1")
    while len(as_int) < count:
        batches = xread(r, {stream: last}, 30_000, 1_000)
        received = time.time() * 1000
        received_ms = int(received)
        for _stream, entries in batches:
            for entry_id, fields in entries:
                last = entry_id
                as_int.append(received_ms - int(fields[b"ts"]))
                as_float.append(received - float(fields[b"tf"]))
    r.rpush(out_key, orjson.dumps({"int": as_int, "float": as_float}))
    r.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
