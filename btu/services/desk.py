"""What the Desk asks for beyond documents: the scheduler status panel, ping, the
schedule preview, the failures number card and the RQ failed-jobs panel."""

import datetime as dt
import time

import frappe
from frappe import _
from frappe.utils import add_to_date, get_system_timezone, now_datetime
from frappe.utils.background_jobs import get_queues, get_redis_conn
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

from btu.core import callables, replies, rq_jobs, status
from btu.core.frequency import FrequencySpec
from btu.core.schedules import ScheduleError, preview
from btu.core.timeconv import parse_datetime, zone
from btu.redis_conn import REDIS_ERRORS, get_redis, settings, site_keys
from btu.services import config, txn
from streams.errors import RpcFailed, RpcTimeout
from streams.keys import Cmd
from streams.rpc import RpcClient

RPC_TIMEOUT_S = 1.0
RECENT_FIRES = 25
LOG = "BTU Task Log"


def _rpc(cmd: str, arg: str | None = None) -> dict:
    try:
        return {
            "ok": True,
            "data": RpcClient(get_redis(), site_keys()).call(cmd, arg, RPC_TIMEOUT_S),
        }
    except RpcTimeout:
        return {"ok": False, "error": replies.unreachable().message}
    except RpcFailed as e:
        return {"ok": False, "error": e.reason}
    except REDIS_ERRORS as e:
        return {"ok": False, "error": replies.redis_unreachable(type(e).__name__).message}


def runnable_choices(query: str) -> list[dict]:
    """The declared functions matching ``query``, as the form's autocomplete items."""
    return callables.choices(callables.catalog(config.runnable(), query))


def ping() -> dict:
    answer = _rpc(Cmd.PING)
    if answer["ok"]:
        data = answer["data"] or {}
        answer["message"] = _("Scheduler {0} answered (armed items: {1}, leader: {2}).").format(
            data.get("instance", "?"), data.get("armed", "?"), data.get("leader", "?")
        )
    else:
        answer["message"] = answer["error"]
    return answer


def scheduler_status() -> dict:
    """Everything the status panel shows; each part fails on its own."""
    out: dict = {"redis": None, "ping": _rpc(Cmd.PING), "status": _rpc(Cmd.STATUS)}
    for part in ("ping", "status"):
        if out[part]["ok"]:
            out[part]["rows"] = status.counter_rows(out[part]["data"])
    try:
        r, keys = get_redis(), site_keys()
        out["redis"] = {"source": settings().source, "ok": True}
        out["state_items"] = r.hlen(keys.state)
        out["leader"] = status.leader_text(r.get(keys.leader))  # type: ignore[arg-type]
        hashes = {k: r.hgetall(k) for k in r.scan_iter(match=keys.scheduler_pattern, count=100)}
        out["instances"] = status.instance_rows(hashes)
        fires = status.fire_rows(r.xrevrange(keys.fires, count=RECENT_FIRES) or [])  # type: ignore[arg-type]
        out["fires"] = fires
        out["fire_outcomes"] = status.outcome_counts(fires)
    except REDIS_ERRORS as e:
        out["redis"] = {"ok": False, "error": replies.redis_unreachable(type(e).__name__).message}
    return out


def schedule_preview(spec: FrequencySpec, time_zone: str) -> dict:
    try:
        p = preview(spec, time_zone, int(time.time() * 1000))
    except ScheduleError as e:
        return {"ok": False, "error": str(e)}
    return {
        "ok": True,
        "cron": p.cron,
        "time_zone": p.time_zone,
        "description": p.description_text,
        "next_runs": p.next_runs,
    }


def failures_last_24h() -> dict:
    since = add_to_date(now_datetime(), hours=-24)
    filters = {"status": ["in", ["Failed", "Timeout"]], "creation": [">=", since]}
    return {
        "value": frappe.db.count(LOG, filters),
        "fieldtype": "Int",
        "route": ["List", LOG],
        "route_options": {"status": ["in", ["Failed", "Timeout"]]},
    }


# -- RQ failed jobs ------------------------------------------------------------------


def _exc_string(job) -> str:
    latest = getattr(job, "latest_result", None)
    result = latest() if callable(latest) else None
    return getattr(result, "exc_string", "") or ""


def _failed_jobs(connection) -> list[tuple[FailedJobRegistry, Job]]:
    out: list = []
    for queue in get_queues(connection=connection):
        registry = queue.failed_job_registry
        ids = registry.get_job_ids()
        jobs = Job.fetch_many(ids, connection=connection) if ids else []
        for job in rq_jobs.select([j for j in jobs if j is not None], frappe.local.site):
            out.append((registry, job))
    return out


def failed_jobs(limit: int = 200) -> list[dict]:
    rows = [rq_jobs.describe(job, _exc_string(job)) for _r, job in _failed_jobs(get_redis_conn())]
    rows.sort(key=lambda row: row["failed_at"] or "", reverse=True)
    return rows[:limit]


def requeue_failed(job_ids: list[str]) -> dict:
    """Put the Task Log back to Queued (next attempt) and requeue the job."""
    connection = get_redis_conn()
    wanted = set(job_ids)
    done, skipped = [], []
    for registry, job in _failed_jobs(connection):
        if job.id not in wanted:
            continue
        log = rq_jobs.task_log_of(job)
        if not log or not frappe.db.exists(LOG, log):
            skipped.append(job.id)
            continue
        attempt = (frappe.db.get_value(LOG, log, "attempt") or 1) + 1
        frappe.db.set_value(
            LOG,
            log,
            {
                "status": "Queued",
                "attempt": attempt,
                "started": None,
                "ended": None,
                "duration": 0,
                "error": _("Requeued by {0}").format(frappe.session.user),
            },
        )
        txn.commit()
        try:
            registry.requeue(job)
        except (InvalidJobOperation, NoSuchJobError):
            skipped.append(job.id)
            continue
        done.append(job.id)
    return {"requeued": done, "skipped": skipped + sorted(wanted - set(done) - set(skipped))}


def _bound(value: str | None, end: bool) -> dt.datetime | None:
    if not value:
        return None
    moment = parse_datetime(value)
    if len(str(value).strip()) <= 10 and end:  # a date: include that whole day
        moment = moment + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
    return moment.replace(tzinfo=zone(get_system_timezone())).astimezone(dt.timezone.utc)


def delete_failed(from_date: str | None, to_date: str | None) -> dict:
    """Delete BTU's failed jobs that failed between the two dates (system time zone)."""
    start, end = _bound(from_date, end=False), _bound(to_date, end=True)
    deleted = 0
    for registry, job in _failed_jobs(get_redis_conn()):
        if rq_jobs.in_range(job, start, end):
            registry.remove(job, delete_job=True)
            deleted += 1
    return {"deleted": deleted}
