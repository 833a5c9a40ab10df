"""Turning a fire into a Task Log and an RQ job (PROTOCOL.md "Firing", step 4).

The Task Log with its unique ``fire_id`` is the durable record of a fire: it is
committed before the job is enqueued, so a repeated request for the same fire_id
answers ``duplicate`` and enqueues nothing, even long after the first job finished.
"""

from collections.abc import Mapping
from typing import Any, NoReturn

import frappe
from frappe import _
from frappe.utils import get_system_timezone
from frappe.utils.background_jobs import create_job_id

from btu.core import firing
from btu.core.doctypes import IN_FLIGHT, PENDING, RUN_LATER, SCHEDULE
from btu.core.rq_jobs import RUNNER
from btu.core.timeconv import from_epoch_ms, to_epoch_ms
from btu.exceptions import BadFireRequest, ItemDisabled, ItemNotFound, QueueUnavailable
from btu.redis_conn import REDIS_ERRORS
from btu.services import config, publishing, txn
from streams.keys import Kind

LOG = "BTU Task Log"
QUEUED = "Queued"
_EXCEPTIONS = {
    firing.NOT_FOUND: ItemNotFound,
    firing.DISABLED: ItemDisabled,
    firing.BAD_REQUEST: BadFireRequest,
}


def _reject(e: firing.FireRejected) -> NoReturn:
    frappe.throw(e.message, _EXCEPTIONS[e.reason], title=_("Not fired"))
    raise e  # not reached: frappe.throw raises (this tells type checkers so)


def _existing(fire_id: str):
    return frappe.db.get_value(LOG, {"fire_id": fire_id}, ["name", "job_id"], as_dict=True)


TASK_FIELDS = ["enabled", "queue", "max_duration"]
SCHEDULE_FIELDS = ["name", "task", "enabled", "queue_override", "cron_expression", "time_zone"]
RUN_LATER_FIELDS = ["name", "task", "function_path", "status", "queue", "max_duration", "run_at"]


def _task_row(task: str | None):
    return frappe.db.get_value("BTU Task", task, TASK_FIELDS, as_dict=True) if task else None


def _task_facts(task: str | None) -> dict:
    return firing.task_row_facts(task, _task_row(task))


def run_at_ms(run_at) -> int | None:
    return to_epoch_ms(run_at, get_system_timezone()) if run_at else None


def item_facts(kind: str, name: str) -> firing.ItemFacts | None:
    """What the database says about the fired item, or None when it does not exist."""
    if kind == Kind.CRON:
        row = frappe.db.get_value(SCHEDULE, name, SCHEDULE_FIELDS, as_dict=True)
        return firing.schedule_facts(row, _task_row(row.task)) if row else None
    row = frappe.db.get_value(RUN_LATER, name, RUN_LATER_FIELDS, as_dict=True)
    if not row:
        return None
    return firing.run_later_facts(row, _task_row(row.task), run_at_ms(row.run_at))


def _new_log(fire_id: str, plan: firing.FirePlan, **links) -> "frappe.model.document.Document":
    queues = config.known_queues()
    return frappe.get_doc(
        {
            "doctype": LOG,
            "fire_id": fire_id,
            "job_id": create_job_id(firing.base_job_id(fire_id)),
            "queue": plan.queue,
            "time_limit": plan.timeout_s or queues.get(plan.queue) or 300,
            "triggered_by": plan.trigger,
            "status": QUEUED,
            **links,
        }
    )


def _insert_once(log) -> bool:
    """Insert ``log``; False when another request recorded the same fire_id first."""
    frappe.db.savepoint("btu_fire")
    try:
        log.insert(ignore_permissions=True)
    except frappe.UniqueValidationError:
        frappe.db.rollback(save_point="btu_fire")
        frappe.clear_last_message()
        return False
    return True


def enqueue_job(log) -> str:
    """Enqueue the runner for ``log``; returns the RQ job id."""
    from btu.runner import on_job_failure

    job = frappe.enqueue(
        RUNNER,
        queue=log.queue,
        timeout=log.time_limit,
        job_id=firing.base_job_id(log.fire_id),
        on_failure=on_job_failure,
        task_log=log.name,
    )
    return job.id if job is not None else log.job_id


def _enqueue_or_undo(log, run_later: str | None) -> str:
    try:
        return enqueue_job(log)
    except REDIS_ERRORS as e:
        # Forget the record so that the daemon's retry can fire it again.
        frappe.db.delete(LOG, {"name": log.name})
        if run_later:
            frappe.db.set_value(RUN_LATER, run_later, {"status": PENDING, "task_log": None})
        txn.commit()
        frappe.throw(
            _("The job queue (Redis) did not accept the job: {0}").format(e),
            QueueUnavailable,
            title=_("Queue unavailable"),
        )
    return ""


def enqueue_scheduled(fields: Mapping[str, Any]) -> dict:
    """Check the request, record the fire and enqueue it; ``{"job_id", "duplicate"}``.

    A repeated fire_id answers ``duplicate`` before anything else is checked: the first
    request passed the checks, and a retry may arrive after the item changed.
    """
    try:
        request = firing.parse_request(fields)
    except firing.FireRejected as e:
        _reject(e)
    item_id, kind, due, fire_id = request.id, request.kind, request.due, request.fire_id
    existing = _existing(fire_id)
    if existing:
        return {"job_id": existing.job_id, "duplicate": True}
    facts = item_facts(kind, item_id)
    try:
        plan = firing.plan_fire(facts, kind, item_id, config.known_queues(), config.default_queue())
        assert facts is not None  # plan_fire rejects a missing item
        firing.check_due(facts, due, publishing.now_ms(), config.late_fire_limit_ms())
    except firing.FireRejected as e:
        _reject(e)
    links = {"task": facts.task, "due": from_epoch_ms(due, get_system_timezone())}
    run_later = item_id if kind == Kind.ONCE else None
    links["schedule" if kind == Kind.CRON else "run_later"] = item_id
    log = _new_log(fire_id, plan, **links)
    if not _insert_once(log):
        existing = _existing(fire_id)
        return {"job_id": existing.job_id if existing else log.job_id, "duplicate": True}
    if run_later:
        frappe.db.set_value(RUN_LATER, run_later, {"status": IN_FLIGHT, "task_log": log.name})
        publishing.queue_publish(RUN_LATER, run_later)
    txn.commit()
    return {"job_id": _enqueue_or_undo(log, run_later), "duplicate": False}


def run_now(task: str, schedule: str | None = None) -> dict:
    """Run ``task`` now (with ``schedule``'s overrides and queue when given) through the
    same path as a fire; returns the Task Log and job ids."""
    t = _task_facts(task)
    if not t["task_exists"]:
        frappe.throw(_("Task {0} does not exist.").format(task), ItemNotFound)
    if not t["task_enabled"]:
        frappe.throw(_("Task {0} is disabled: enable it to run it.").format(task), ItemDisabled)
    override = frappe.db.get_value(SCHEDULE, schedule, "queue_override") if schedule else None
    queue = override or t["task_queue"] or config.default_queue()
    if queue not in config.known_queues():
        frappe.throw(_("Queue {0} is not one of this bench's queues.").format(queue))
    plan = firing.FirePlan(queue=queue, timeout_s=t["max"], trigger=firing.MANUAL)
    log = _new_log(firing.manual_fire_id(), plan, task=task, schedule=schedule)
    log.insert(ignore_permissions=True)
    txn.commit()
    return {"task_log": log.name, "job_id": _enqueue_or_undo(log, None)}
