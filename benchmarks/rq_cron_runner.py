"""RQ's own cron scheduler (``rq.cron.CronScheduler``, rq 3.0) with N cron jobs, in a
process of its own, for the side-by-side comparison of section 7.

Usage: ``python -m benchmarks.rq_cron_runner URL QUEUE COUNT CRON READY_KEY``: registers
COUNT jobs (``benchmarks.rq_cron_runner.noop`` on QUEUE with the expression CRON), sets
READY_KEY, and runs the scheduler until SIGTERM. No worker runs the jobs: only their
``enqueued_at`` is read.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import redis
from rq.cron import CronScheduler


def noop() -> None:
    """The job every cron entry enqueues (never run)."""


def main(argv: Sequence[str] | None = None) -> int:
    url, queue, count_text, cron, ready_key = argv or sys.argv[1:]
    connection = redis.Redis.from_url(url)
    scheduler = CronScheduler(connection=connection, logging_level=logging.WARNING)
    for i in range(int(count_text)):
        scheduler.register(noop, queue_name=queue, cron=cron, name=f"bench-rq-cron-{i:05d}")
    connection.set(ready_key, "1")
    scheduler.start()  # type: ignore[no-untyped-call]
    return 0


if __name__ == "__main__":
    from benchmarks import rq_cron_runner  # register the job by its importable name

    sys.exit(rq_cron_runner.main())
