"""Sections 2 and 3: fire lag with 1,000 armed items, and a burst of 10,000 items due in
the same second.

Fire lag is ``sent - due`` from the fires stream (``sent`` is taken just before the POST
goes out) and, from outside the daemon, the stub's receive time minus ``due``.

Baselines: for the lag, the stub's raw round trip (one sequential urllib3 POST); for the
burst, the same 10,000 POSTs sent by a plain urllib3 pool from one process with the
daemon's concurrency (a 32-thread executor, one task per request, as the dispatcher does),
without claims, records or logs.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import orjson
import urllib3

from benchmarks.common import (
    AUTH_HEADER,
    ZONES,
    Bench,
    Row,
    cron_item,
    fmt_ms,
    no_gc,
    now_ms,
    p50_p99,
    pct,
    ratio,
    read_fires,
    wait_until,
)
from streams.keys import ENQUEUE_PATH, Outcome
from streams.messages import FireRecord, ScheduleUpsert
from streams.publish import publish_all

LAG_SITE = "bench-firelag"
BURST_SITE = "bench-burst"
LAG_ITEMS = 1_000
BURST_ITEMS = 10_000
CONCURRENCY = 32  # the daemon's default http_concurrency
TARGET_LAG_P99_MS = 10.0
TARGET_BURST_MS = 2_000.0
HEADERS = {
    "Authorization": AUTH_HEADER,
    "Content-Type": "application/json",
    "Accept": "application/json",
}


def _body(item_id: str, kind: str, due: int) -> bytes:
    fire = f"{item_id}@{due}"
    return orjson.dumps({"id": item_id, "kind": kind, "due": due, "fire_id": fire})


def _sleep_until_ms(at_ms: float) -> None:
    delay = at_ms / 1000 - time.time()
    if delay > 0:
        time.sleep(delay)


def stub_round_trips(bench: Bench, count: int) -> list[float]:
    """Sequential POSTs over one keep-alive connection: the stub's raw round trip (ms)."""
    pool = urllib3.HTTPConnectionPool("127.0.0.1", bench.stub.port, maxsize=1, retries=False)
    out: list[float] = []
    try:
        with no_gc():
            for i in range(count + 50):
                body = _body(f"RTT-{i:05d}", "cron", now_ms())
                t0 = time.perf_counter()
                pool.urlopen("POST", ENQUEUE_PATH, body=body, headers=HEADERS)
                if i >= 50:
                    out.append((time.perf_counter() - t0) * 1000)
    finally:
        pool.close()
        bench.stub.records()
    return out


def run_lag(bench: Bench, quick: bool) -> list[Row]:
    """Two shapes of the same 1,000 armed items: spread (each item once a minute, at
    second i % 60: ~17 due at each second) and clustered (each item every 10 s, at second
    i % 10: 100 due at the same instant every second)."""
    rtt = stub_round_trips(bench, 1_000)
    rows = _lag(bench, quick, rtt, per_second=60, label="~17 due at each second")
    rows += _lag(bench, quick, rtt, per_second=10, label="100 due at the same instant each second")
    return rows


def _lag(bench: Bench, quick: bool, rtt: list[float], per_second: int, label: str) -> list[Row]:
    duration_s = 6 if quick else 15
    d = bench.daemon(f"{LAG_SITE}-{per_second}")
    d.wait_leader()
    ts = now_ms()
    # 6-field crons: item i fires at second i % n of every n-second period.
    items = [
        cron_item(
            f"LAG-{i:05d}", f"{i % per_second}/{per_second} * * * * *", ZONES[i % len(ZONES)], ts
        )
        for i in range(LAG_ITEMS)
    ]
    publish_all(bench.r, d.keys, items, ts)
    d.wait_armed(LAG_ITEMS)
    start = (now_ms() // 1000 + 2) * 1000
    end = start + duration_s * 1000
    expected = LAG_ITEMS * duration_s // per_second
    _sleep_until_ms(end + 500)

    def window() -> list[FireRecord]:
        return [f for f in read_fires(bench.r, d.keys) if start <= f.due < end]

    try:  # records are written a little after the requests: wait for all of them
        wait_until(lambda: len(window()) >= expected, 15, 0.25)
    except TimeoutError:
        pass
    fires = window()
    every = read_fires(bench.r, d.keys)
    received = bench.stub.records()
    bench.stop(d)

    sent_lags = [float(f.lag_ms) for f in fires if f.outcome == Outcome.ENQUEUED]
    recv_lags = [received[f.fire_id] - f.due for f in fires if f.fire_id in received]
    outcomes = Counter(f.outcome for f in fires)
    p99 = pct(sent_lags, 99)
    note = (
        f"{len(fires)} fires in {duration_s} s (expected {expected}), outcomes {dict(outcomes)}; "
        f"max sent-due {fmt_ms(max(sent_lags, default=None))}, "
        f"max received-due {fmt_ms(max(recv_lags, default=None))}"
    )
    if len(fires) < expected:
        dues = sorted({f.due for f in every})
        note += f"; INCOMPLETE: stream has {len(every)} records, dues {dues[:3]}..{dues[-3:]}"
    return [
        Row(
            f"fire lag sent-due, {LAG_ITEMS} armed ({label}), {duration_s} s",
            p50_p99(sent_lags, 1),
            p50_p99(rtt, 3) + " (stub raw round trip)",
            ratio(p99, pct(rtt, 99)),
            f"p99 ≤ {TARGET_LAG_P99_MS:g} ms",
            p99 is not None and p99 <= TARGET_LAG_P99_MS,
            detail=note,
        ),
        Row(
            f"fire lag stub received-due ({label})",
            p50_p99(recv_lags, 1),
            "",
            "",
            "(informative)",
            None,
        ),
    ]


def urllib3_burst(bench: Bench, count: int, concurrency: int) -> dict[str, float]:
    """``count`` POSTs through one urllib3 pool and a ``concurrency``-thread executor.
    Returns ms from the start until the last request was sent, until the stub had
    received the last one, and until the last answer was read."""
    pool = urllib3.HTTPConnectionPool(
        "127.0.0.1", bench.stub.port, maxsize=concurrency, block=False, retries=False
    )
    due = now_ms()
    bodies = [_body(f"BASE-{i:05d}", "once", due) for i in range(count)]
    sent = [0.0] * count

    def post(i: int) -> None:
        sent[i] = time.time() * 1000
        pool.urlopen("POST", ENQUEUE_PATH, body=bodies[i], headers=HEADERS)

    bench.stub.records()
    t0 = time.time() * 1000
    with no_gc(), ThreadPoolExecutor(concurrency) as executor:
        for future in [executor.submit(post, i) for i in range(count)]:
            future.result()
    done = time.time() * 1000
    pool.close()
    received = bench.stub.records()
    return {
        "last_sent": max(sent) - t0,
        "last_received": max(received.values()) - t0,
        "done": done - t0,
        "received": float(len(received)),
    }


def run_burst(bench: Bench, quick: bool) -> list[Row]:
    base = urllib3_burst(bench, BURST_ITEMS, CONCURRENCY)

    d = bench.daemon(BURST_SITE)
    d.wait_leader()
    ts = now_ms()
    at = (ts // 1000 + 5) * 1000
    items = [
        ScheduleUpsert(id=f"BURST-{i:05d}", kind="once", task="Bench", at=at, enabled=True, ts=ts)
        for i in range(BURST_ITEMS)
    ]
    publish_all(bench.r, d.keys, items, ts)
    d.wait_armed(BURST_ITEMS, timeout=60)
    armed_in_time = now_ms() < at - 200
    _sleep_until_ms(at + 1_000)
    wait_until(lambda: bench.r.xlen(d.keys.fires) >= BURST_ITEMS, 120, 0.25)
    time.sleep(0.5)
    fires = [f for f in read_fires(bench.r, d.keys) if f.due == at]
    received = bench.stub.records()
    bench.stop(d)

    first_attempts = [f for f in fires if f.attempt == 1]
    outcomes = Counter(f.outcome for f in fires)
    last_sent = max(f.sent for f in first_attempts) - at
    first_sent = min(f.sent for f in first_attempts) - at
    recv = [received[f.fire_id] - at for f in fires if f.fire_id in received]
    last_recv = max(recv, default=None)
    note = (
        f"outcomes {dict(outcomes)}; first sent at +{first_sent} ms; "
        f"sent-due {p50_p99([float(f.lag_ms) for f in first_attempts], 0)}; "
        f"stub received {len(recv)}; armed before due: {armed_in_time}. Baseline pool: last "
        f"answer at {fmt_ms(base['done'])}, last received {fmt_ms(base['last_received'])}"
    )
    return [
        Row(
            f"burst: {BURST_ITEMS:,} once items due in the same ms, due → last request sent",
            fmt_ms(last_sent),
            f"{fmt_ms(base['last_sent'])} (plain urllib3 pool, {CONCURRENCY} threads)",
            ratio(last_sent, base["last_sent"]),
            f"≤ {TARGET_BURST_MS / 1000:g} s",
            last_sent <= TARGET_BURST_MS and len(first_attempts) >= BURST_ITEMS,
            detail=note,
        ),
        Row(
            "burst: due → stub received the last request",
            fmt_ms(last_recv),
            fmt_ms(base["last_received"]),
            ratio(last_recv, base["last_received"]),
            "(informative)",
            None,
        ),
    ]
