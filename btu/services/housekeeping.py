"""Scheduler events: the sweep of stale Task Logs (every 5 minutes) and the daily
retention clean-up. Decisions come from :mod:`btu.core.housekeeping`."""

import frappe
from frappe.utils import now_datetime
from frappe.utils.background_jobs import get_redis_conn
from rq.exceptions import NoSuchJobError
from rq.job import Job

from btu.core.doctypes import CANCELLED, DONE, FAILED
from btu.core.housekeeping import LogFacts, SweepPolicy, retention_cutoff, sweep_verdict
from btu.redis_conn import REDIS_ERRORS
from btu.services import config, logs

LOG = "BTU Task Log"
BATCH = 1_000


def job_state(job_id: str | None, connection) -> str | None:
    """The RQ status of a job (``"queued"``, ``"failed"``...), None when it is gone."""
    if not job_id:
        return None
    try:
        status = Job.fetch(job_id, connection=connection).get_status()
    except NoSuchJobError:
        return None
    if status is None:
        return None
    return str(getattr(status, "value", status))


def sweep_stale_logs() -> int:
    """Close Queued/In Progress logs whose job is dead or long overdue; returns how many."""
    rows = frappe.get_all(
        LOG,
        filters={"status": ["in", list(logs.UNFINISHED)]},
        fields=["name", "status", "creation", "started", "time_limit", "job_id"],
        order_by="creation asc",
        limit=BATCH,
    )
    if not rows:
        return 0
    try:
        connection = get_redis_conn()
    except REDIS_ERRORS as e:
        frappe.logger("btu").error(f"btu: sweep skipped, RQ's Redis unreachable: {e}")
        return 0
    now = now_datetime()
    policy = SweepPolicy(queued_grace_s=config.stale_after_s())
    closed = 0
    for row in rows:
        facts = LogFacts(
            status=row.status,
            created=row.creation,
            started=row.started,
            max_duration_s=float(row.time_limit or 300),
            job_state=job_state(row.job_id, connection),
        )
        verdict = sweep_verdict(facts, now, policy)
        if verdict and logs.close(row.name, verdict.status, verdict.reason):
            closed += 1
    return closed


def purge_old_logs() -> int:
    """Delete Task Logs (and finished Run Later items) older than the retention."""
    cutoff = retention_cutoff(now_datetime(), config.retention_days())
    if cutoff is None:
        return 0
    old = frappe.get_all(LOG, filters={"creation": ["<", cutoff]}, pluck="name")
    for start in range(0, len(old), BATCH):
        frappe.db.delete(LOG, {"name": ["in", old[start : start + BATCH]]})
    finished = {"status": ["in", [DONE, FAILED, CANCELLED]], "modified": ["<", cutoff]}
    frappe.db.delete("BTU Run Later", finished)
    return len(old)
