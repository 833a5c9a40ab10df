"""The site-side helper of ``benchmarks/real_bench.py``: runs in the bench's own Python,
from its ``sites`` folder (``bench execute`` only runs functions of installed apps)::

    cd frappe-bench/sites
    ../env/bin/python /path/to/btu/benchmarks/real_bench_site.py SITE COMMAND [JSON]

Each command prints one JSON object on its last line of stdout. Everything it creates
is named with the run's tag, and ``cleanup`` deletes it: the bench task, its Run Later
items (and their state-hash entries), their Task Logs and RQ jobs.

Commands:
  info                 the Redis the app publishes to, the bench's queues, RQ workers
  create {tag, n, lead_s, queue}
                       a task running btu.samples.hello and n Run Later items of it, all
                       due at one whole second at least lead_s from now, inserted in bulk
                       and published (what saving them in the Desk would publish)
  check {tag}          Task Logs of the tag's items: count, per status, fires recorded
                       twice, items without a log, first/last creation and end
  wait_success {tag, n, timeout_s}
                       wait until n Task Logs are finished; their last end
  drop_jobs {tag}      delete the RQ jobs of the tag's Task Logs (held in a queue no
                       worker serves)
  ping_drain {n, queue, timeout_s}
                       enqueue n frappe.ping jobs at once, wait until all ended; first
                       enqueue, last end and the jobs' own durations; deletes the jobs
  job_times {tag}      started/ended of the RQ jobs of the tag's Task Logs
  cleanup {tag}        delete everything the tag created
"""

from __future__ import annotations

import json
import sys
import time

import frappe
from frappe.utils import get_system_timezone
from frappe.utils.background_jobs import get_queue, get_queues_timeout, get_redis_conn
from rq.job import Job
from rq.worker import Worker

from btu.core.doctypes import PENDING, RUN_LATER
from btu.core.timeconv import from_epoch_ms

LOG = "BTU Task Log"
TASK = "BTU Task"
FUNCTION = "btu.samples.hello"
CHUNK = 1000


def _task_name(tag: str) -> str:
    return f"btu-bench-{tag}"


def _item_prefix(tag: str) -> str:
    return f"RL-B{tag}-"


def info(_args: dict) -> dict:
    from btu.redis_conn import settings

    conn = get_redis_conn()
    workers = Worker.all(connection=conn)
    return {
        "redis_url": settings().url,
        "queues": sorted(get_queues_timeout()),
        "workers": [
            {"name": w.name, "queues": [q.name for q in w.queues], "pid": w.pid} for w in workers
        ],
        "time_zone": get_system_timezone(),
    }


def _ensure_task(tag: str) -> str:
    name = _task_name(tag)
    if not frappe.db.exists(TASK, name):
        frappe.get_doc(
            {
                "doctype": TASK,
                "title": name,
                "function_path": FUNCTION,
                "run_as": "Administrator",
                "enabled": 1,
            }
        ).insert(ignore_permissions=True)
    return name


def create(args: dict) -> dict:
    """n Run Later items due at one instant, inserted with bulk INSERTs (a Desk save
    runs its checks per item; these rows are what those checks would accept), then
    published after the commit like saved items."""
    from btu.services import publishing

    tag, n, queue = args["tag"], int(args["n"]), args["queue"]
    if queue not in get_queues_timeout():
        raise SystemExit(f"queue {queue!r} is not one of this bench's queues")
    frappe.set_user("Administrator")
    task = _ensure_task(tag)
    frappe.db.commit()
    at_ms = (int(time.time()) + int(args["lead_s"]) + 1) * 1000
    run_at = from_epoch_ms(at_ms, get_system_timezone())
    now = frappe.utils.now_datetime()
    fields = ["name", "creation", "modified", "owner", "modified_by", "docstatus", "idx"]
    fields += ["task", "run_at", "status", "queue"]
    names = [f"{_item_prefix(tag)}{i:05d}" for i in range(n)]
    t0 = time.monotonic()
    for start in range(0, n, CHUNK):
        rows = [
            (name, now, now, "Administrator", "Administrator", 0, 0, task, run_at, PENDING, queue)
            for name in names[start : start + CHUNK]
        ]
        frappe.db.bulk_insert(RUN_LATER, fields, rows)
    for name in names:
        publishing.queue_publish(RUN_LATER, name)
    frappe.db.commit()  # publishes in the after-commit hook
    return {"task": task, "at_ms": at_ms, "n": n, "create_s": time.monotonic() - t0}


def _logs(tag: str, fields: str) -> list:
    return frappe.db.sql(
        f"select {fields} from `tab{LOG}` where `run_later` like %s",
        (_item_prefix(tag) + "%",),
        as_dict=True,
    )


def _ms(value) -> int | None:
    if not value:
        return None
    from btu.core.timeconv import to_epoch_ms

    return to_epoch_ms(value, get_system_timezone())


def check(args: dict) -> dict:
    tag = args["tag"]
    prefix = _item_prefix(tag) + "%"
    items = frappe.db.sql(f"select count(*) from `tab{RUN_LATER}` where `name` like %s", (prefix,))[
        0
    ][0]
    statuses = dict(
        frappe.db.sql(
            f"""select `status`, count(*) from `tab{LOG}` where `run_later` like %s
                group by `status`""",
            (prefix,),
        )
    )
    twice = frappe.db.sql(
        f"""select count(*) from (select `fire_id` from `tab{LOG}` where `run_later` like %s
            group by `fire_id` having count(*) > 1) t""",
        (prefix,),
    )[0][0]
    items_twice = frappe.db.sql(
        f"""select count(*) from (select `run_later` from `tab{LOG}` where `run_later` like %s
            group by `run_later` having count(*) > 1) t""",
        (prefix,),
    )[0][0]
    without = frappe.db.sql(
        f"""select count(*) from `tab{RUN_LATER}` r where r.`name` like %s and not exists
            (select 1 from `tab{LOG}` l where l.`run_later` = r.`name`)""",
        (prefix,),
    )[0][0]
    span = frappe.db.sql(
        f"""select min(`creation`), max(`creation`), max(`ended`), count(*)
            from `tab{LOG}` where `run_later` like %s""",
        (prefix,),
    )[0]
    return {
        "items": items,
        "logs": span[3],
        "statuses": statuses,
        "fire_ids_twice": twice,
        "items_twice": items_twice,
        "items_without_log": without,
        "first_created_ms": _ms(span[0]),
        "last_created_ms": _ms(span[1]),
        "last_ended_ms": _ms(span[2]),
    }


def wait_success(args: dict) -> dict:
    tag, n, timeout = args["tag"], int(args["n"]), float(args["timeout_s"])
    prefix = _item_prefix(tag) + "%"
    deadline = time.monotonic() + timeout
    while True:
        frappe.db.rollback()  # a fresh snapshot each time
        done = frappe.db.sql(
            f"""select count(*) from `tab{LOG}` where `run_later` like %s
                and `status` in ('Success', 'Failed', 'Timeout')""",
            (prefix,),
        )[0][0]
        if done >= n or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    result = check(args)
    result["finished"] = done
    result["timed_out"] = done < n
    return result


def _job_ids(tag: str) -> list[str]:
    return [row.job_id for row in _logs(tag, "`job_id`") if row.job_id]


def drop_jobs(args: dict) -> dict:
    conn = get_redis_conn()
    ids = _job_ids(args["tag"])
    queues: dict[str, object] = {}
    dropped = 0
    for start in range(0, len(ids), CHUNK):
        for job in Job.fetch_many(ids[start : start + CHUNK], connection=conn):
            if job is None:
                continue
            queue = queues.get(job.origin) or queues.setdefault(
                job.origin, get_queue(job.origin.split(":")[-1])
            )
            queue.remove(job.id)  # type: ignore[attr-defined]
            job.delete()
            dropped += 1
    return {"dropped": dropped}


def job_times(args: dict) -> dict:
    conn = get_redis_conn()
    ids = _job_ids(args["tag"])
    durations, ends = [], []
    for start in range(0, len(ids), CHUNK):
        for job in Job.fetch_many(ids[start : start + CHUNK], connection=conn):
            if job is not None and job.started_at and job.ended_at:
                durations.append((job.ended_at - job.started_at).total_seconds() * 1000)
                ends.append(job.ended_at.timestamp() * 1000)
    return {"durations_ms": durations, "last_end_ms": max(ends) if ends else None}


def ping_drain(args: dict) -> dict:
    n, queue, timeout = int(args["n"]), args["queue"], float(args["timeout_s"])
    conn = get_redis_conn()
    t0 = time.time() * 1000
    jobs = [frappe.enqueue("frappe.ping", queue=queue) for _ in range(n)]
    enqueued = time.time() * 1000
    ids = [job.id for job in jobs]
    deadline = time.monotonic() + timeout
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        batch = list(pending)[:CHUNK]
        for job_id, job in zip(batch, Job.fetch_many(batch, connection=conn), strict=True):
            if job is None or job.ended_at is not None:
                pending.discard(job_id)
        if pending:
            time.sleep(0.2)
    durations, ends = [], []
    q = get_queue(queue)
    for start in range(0, n, CHUNK):
        for job in Job.fetch_many(ids[start : start + CHUNK], connection=conn):
            if job is None:
                continue
            if job.started_at and job.ended_at:
                durations.append((job.ended_at - job.started_at).total_seconds() * 1000)
                ends.append(job.ended_at.timestamp() * 1000)
            q.remove(job.id)
            job.delete()
    return {
        "first_enqueue_ms": t0,
        "enqueued_ms": enqueued,
        "last_end_ms": max(ends) if ends else None,
        "ended": len(ends),
        "durations_ms": durations,
    }


def cleanup(args: dict) -> dict:
    from btu.services import publishing

    tag = args["tag"]
    dropped = drop_jobs(args)["dropped"]
    prefix = _item_prefix(tag) + "%"
    logs = check(args)["logs"]
    frappe.db.sql(f"delete from `tab{LOG}` where `run_later` like %s", (prefix,))
    names = [
        r[0]
        for r in frappe.db.sql(
            f"select `name` from `tab{RUN_LATER}` where `name` like %s", (prefix,)
        )
    ]
    frappe.db.sql(f"delete from `tab{RUN_LATER}` where `name` like %s", (prefix,))
    for name in names:
        publishing.queue_publish(RUN_LATER, name)  # gone from the database: a delete
    task = _task_name(tag)
    frappe.db.sql(f"delete from `tab{LOG}` where `task` = %s", (task,))
    frappe.db.sql(f"delete from `tab{TASK}` where `name` = %s", (task,))
    frappe.db.commit()
    return {"items": len(names), "jobs_dropped": dropped, "logs": logs}


COMMANDS = {
    f.__name__: f
    for f in (info, create, check, wait_success, drop_jobs, job_times, ping_drain, cleanup)
}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    site, command = argv[0], argv[1]
    args = json.loads(argv[2]) if len(argv) > 2 else {}
    frappe.init(site=site, sites_path=".")
    frappe.connect()
    try:
        result = COMMANDS[command](args)
    finally:
        frappe.destroy()
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
