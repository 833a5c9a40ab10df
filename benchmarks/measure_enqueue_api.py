"""``btu.enqueue_in`` in a loop against ``frappe.enqueue``: N calls in one transaction.

Run on a bench (not part of ``benchmarks/run.py``, which needs no Frappe), from its
``sites`` folder (``bench execute`` only runs functions of installed apps)::

    cd frappe-bench/sites
    ../env/bin/python ../apps/btu/benchmarks/measure_enqueue_api.py SITE 1000

For each API it measures the calls, the commit (BTU publishes in its after-commit hook;
``frappe.enqueue(..., enqueue_after_commit=True)`` pushes its jobs there too) and the
Redis commands the server processed meanwhile (``INFO stats``; nothing else should use
that Redis while it runs). BTU publishes to throw-away keys, and everything created is
deleted at the end: the BTU items (and their keys) and the RQ jobs.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import frappe

import btu
from btu.redis_conn import get_redis
from streams.keys import Keys

FUNCTION = "btu.samples.hello"


def _commands(r) -> int:
    return int(r.info("stats")["total_commands_processed"])


def _measure(r, label: str, call, n: int) -> dict:
    frappe.db.commit()
    before = _commands(r)
    start = time.perf_counter()
    results = [call(i) for i in range(n)]
    calls_s = time.perf_counter() - start
    start = time.perf_counter()
    frappe.db.commit()
    commit_s = time.perf_counter() - start
    commands = _commands(r) - before - 1  # the INFO of `before`
    return {
        "label": label,
        "n": n,
        "calls_s": calls_s,
        "commit_s": commit_s,
        "commands": commands,
        "results": results,
    }


def _row(m: dict) -> str:
    total = m["calls_s"] + m["commit_s"]
    return (
        f"| {m['label']} | {m['n']} | {m['calls_s'] * 1000:.0f} | {m['commit_s'] * 1000:.0f} "
        f"| {total * 1e6 / m['n']:.0f} | {m['commands']} |"
    )


def run(n: int = 1000) -> None:
    frappe.set_user("Administrator")
    r = get_redis()
    keys = Keys(f"_bench-{uuid.uuid4().hex[:8]}.{frappe.local.site}")
    with patch("btu.services.publishing.site_keys", return_value=keys):
        pipelines = []
        real_pipeline = r.pipeline

        def counting(*a, **k):
            pipelines.append(1)
            return real_pipeline(*a, **k)

        with patch.object(r, "pipeline", side_effect=counting):
            ours = _measure(
                r, "btu.enqueue_in", lambda i: btu.enqueue_in(3600, FUNCTION, name=str(i)), n
            )
        published = r.hlen(keys.state)
        from frappe.utils.background_jobs import get_redis_conn

        q = get_redis_conn()
        theirs = _measure(
            q,
            "frappe.enqueue (after commit)",
            lambda i: frappe.enqueue(FUNCTION, name=str(i), enqueue_after_commit=True),
            n,
        )
        # Clean up: BTU items (deleted without publishing: their keys go below), RQ jobs.
        frappe.db.delete("BTU Run Later", {"name": ["in", ours["results"]]})
        frappe.db.commit()
        found = list(r.scan_iter(match=f"{keys.prefix}*", count=500))
        if found:
            r.delete(*found)
    from frappe.utils.background_jobs import get_queue
    from rq.job import Job

    queue = get_queue("default")
    removed = 0
    for job_id in queue.get_job_ids():
        job = Job.fetch(job_id, connection=q)
        if (job.kwargs or {}).get("method") == FUNCTION:
            job.delete()
            removed += 1
    print(f"{n} calls in one transaction, then one commit (times in ms, per call in µs)")
    print("| API | calls | calls ms | commit ms | µs/call | Redis commands |")
    print("|---|---|---|---|---|---|")
    print(_row(ours))
    print(_row(theirs))
    print(
        f"BTU: {published} item(s) published with {len(pipelines)} pipeline(s); "
        f"{removed} RQ job(s) removed after measuring."
    )


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: measure_enqueue_api.py SITE [N]", file=sys.stderr)
        return 2
    frappe.init(site=argv[0], sites_path=".")
    frappe.connect()
    try:
        run(int(argv[1]) if len(argv) > 1 else 1000)
    finally:
        frappe.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
