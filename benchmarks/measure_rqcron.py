"""Section 7: RQ's own cron scheduler against ours, on the same 1,000 cron jobs, across
the same minute boundary (or two), in the same run.

* rq.cron (rq 3.0, minute resolution) runs in its own process with 1,000 ``* * * * *``
  jobs; its lag is each job's ``enqueued_at`` minus the minute it was scheduled for;
* our daemon has the same 1,000 items (``* * * * *``, UTC) and fires them to the stub
  endpoint; its lag is ``sent - due`` (and stub received - due).

Both run at the same time against the same Redis, so they also compete for the CPUs.
rq.cron enqueues straight into Redis (one pipeline per job); ours claims each fire in
Redis and then POSTs it over HTTP, as PROTOCOL.md asks.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone

from rq import Queue
from rq.job import Job

from benchmarks.common import Bench, Row, fmt_ms, now_ms, pct, read_fires, wait_until
from streams.messages import ScheduleUpsert
from streams.publish import publish_all

SITE = "bench-vs-rq"
QUEUE = "bench-rq-cron"
READY_KEY = "bench:rq-cron:ready"
JOBS = 1_000
CRON = "* * * * *"
LEAD_S = 8.0  # set-up time before the first boundary (it takes 2-4 s)


def _summary(values: list[float]) -> tuple[float | None, float | None, float | None]:
    return pct(values, 50), pct(values, 99), max(values, default=None)


def _fmt(stats: tuple[float | None, float | None, float | None]) -> str:
    p50, p99, top = stats
    return f"p50 {fmt_ms(p50, 1)} / p99 {fmt_ms(p99, 1)} / max {fmt_ms(top, 1)}"


def _ratio(rq: tuple[float | None, ...], ours: tuple[float | None, ...]) -> str:
    parts = []
    for a, b in zip(rq, ours, strict=True):
        if a is None or b is None:
            parts.append("n/a")
        else:
            value = a / max(b, 0.5)
            parts.append(f"{value:.1f}" if value < 10 else f"{value:.0f}")
    return "rq÷ours " + " / ".join(parts)


def rq_lags(bench: Bench, boundaries: list[int]) -> list[float]:
    jobs = [j for j in Job.fetch_many(Queue(QUEUE, connection=bench.r).job_ids, bench.r) if j]
    lags: list[float] = []
    for job in jobs:
        if job.enqueued_at is None:
            continue
        enqueued = job.enqueued_at.replace(tzinfo=timezone.utc).timestamp() * 1000
        minute = int(enqueued // 60_000) * 60_000
        if minute in boundaries:
            lags.append(enqueued - minute)
    return lags


def run(bench: Bench, quick: bool) -> list[Row]:
    count = 1 if quick else 2
    now = time.time()
    first = (int(now) // 60 + 1) * 60
    if first - now < LEAD_S:
        first += 60
    time.sleep(max(0.0, first - LEAD_S - time.time()))

    bench.r.delete(READY_KEY)
    runner = bench.child(
        "rq.cron",
        [sys.executable, "-m", "benchmarks.rq_cron_runner", bench.redis.url, QUEUE, str(JOBS),
         CRON, READY_KEY],
        log_path=bench.workdir / "rq-cron.log",
    )  # fmt: skip
    d = bench.daemon(SITE)
    d.wait_leader()
    ts = now_ms()
    items = [
        ScheduleUpsert(
            id=f"VS-{i:05d}", kind="cron", task="Bench", cron=CRON, tz="UTC", enabled=True, ts=ts
        )
        for i in range(JOBS)
    ]
    publish_all(bench.r, d.keys, items, ts)
    d.wait_armed(JOBS)
    wait_until(lambda: bench.r.exists(READY_KEY), 10)
    while time.time() > first - 1:  # set-up overran (a loaded machine): the next minute
        first += 60
    boundaries = [(first + 60 * k) * 1000 for k in range(count)]
    bench.stub.records()
    last = boundaries[-1]
    time.sleep(max(0.0, last / 1000 + 3 - time.time()))
    wait_until(lambda: len(rq_lags(bench, boundaries)) >= JOBS * count, 60, 0.5)
    wait_until(
        lambda: sum(1 for f in read_fires(bench.r, d.keys) if f.due == last) >= JOBS, 60, 0.5
    )
    rq = rq_lags(bench, boundaries)
    fires = [f for f in read_fires(bench.r, d.keys) if f.due in boundaries and f.attempt == 1]
    received = bench.stub.records()
    bench.stop(runner)
    bench.stop(d)

    ours_sent = [float(f.lag_ms) for f in fires]
    ours_recv = [received[f.fire_id] - f.due for f in fires if f.fire_id in received]
    rq_stats, sent_stats = _summary(rq), _summary(ours_sent)
    recv_stats = _summary(ours_recv)
    when = ", ".join(
        datetime.fromtimestamp(b / 1000, timezone.utc).strftime("%H:%M") for b in boundaries
    )
    return [
        Row(
            f"vs rq.cron: {JOBS} `{CRON}` jobs at {when} UTC; ours sent-due",
            _fmt(sent_stats),
            "rq.cron enqueued_at-minute: " + _fmt(rq_stats),
            _ratio(rq_stats, sent_stats),
            "(fire lag p99 ≤ 10 ms)",
            sent_stats[1] is not None and sent_stats[1] <= 10.0,
            detail=f"{len(ours_sent)} fires of ours, {len(rq)} rq.cron jobs; ratios divide by "
            "max(ours, 0.5 ms)",
        ),
        Row(
            "vs rq.cron: ours stub received-due",
            _fmt(recv_stats),
            "(same rq.cron numbers)",
            _ratio(rq_stats, recv_stats),
            "(informative)",
            None,
        ),
    ]
