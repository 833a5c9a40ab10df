"""Whitelisted endpoints. Each checks permissions first, then calls one service.

No ``from __future__ import annotations`` here: Frappe validates (and casts) the
arguments of whitelisted functions from their annotations, and skips string ones.
"""

import frappe
from frappe import _

from btu.core import roles
from btu.core.doctypes import RUN_LATER, SCHEDULE
from btu.core.frequency import FrequencySpec
from btu.core.whoami import answer as whoami_answer
from btu.permissions import require_doc_permission, require_roles
from btu.services import batch_firing, config, desk, firing, publishing, run_later


@frappe.whitelist(methods=["POST"])
def enqueue_scheduled(**fire) -> dict:
    """The daemon fires an item (PROTOCOL.md "Firing"): ``{"job_id", "duplicate"}``.

    The body's fields are checked here, not by Frappe's argument binding, so that a
    missing, unknown or mistyped field answers 400 with its name.
    """
    require_roles(roles.DAEMON)
    return firing.enqueue_scheduled(fire)


@frappe.whitelist(methods=["GET", "POST"])
def whoami() -> dict:
    """Who the caller is and the app's version: the daemon's start-up check and
    ``btu-scheduler check`` call it with the daemon's token."""
    require_roles(roles.DAEMON)
    user = frappe.session.user
    return whoami_answer(user, frappe.get_roles(user))


@frappe.whitelist(methods=["POST"])
def republish_all() -> dict:
    """Rebuild the state hash and the stream from the database."""
    require_roles(roles.REPUBLISH)
    return publishing.republish_all()


@frappe.whitelist(methods=["POST"])
def confirm_item(doctype: str, name: str) -> dict:
    """After a save: make sure the scheduler has the item and return its answer."""
    if doctype not in (SCHEDULE, RUN_LATER):
        frappe.throw(_("{0} is not scheduled by BTU.").format(doctype))
    require_doc_permission(doctype, name, "read")
    return publishing.confirm(doctype, name)


@frappe.whitelist()
def preview_schedule(
    frequency: str,
    time_zone: str,
    minute: int = 0,
    time_of_day: str | None = None,
    weekday: str | None = None,
    day_of_month: int = 1,
    month: str | None = None,
    cron_expression: str | None = None,
) -> dict:
    """The cron expression, description and next runs the form's helper fields give."""
    require_roles(roles.READ)
    spec = FrequencySpec(
        frequency=frequency,
        minute=minute,
        time_of_day=time_of_day,
        weekday=weekday,
        day_of_month=day_of_month,
        month=month,
        cron=cron_expression or "",
    )
    return desk.schedule_preview(spec, time_zone or config.default_time_zone())


@frappe.whitelist(methods=["POST"])
def run_task_now(task: str, schedule: str | None = None) -> dict:
    """Run a task now (with a schedule's overrides when given); returns its Task Log."""
    require_doc_permission("BTU Task", task, "write")
    return firing.run_now(task, schedule)


@frappe.whitelist(methods=["POST"])
def cancel_run_later(name: str) -> dict:
    """Cancel a Pending run-later item (it is removed from the scheduler)."""
    require_doc_permission(RUN_LATER, name, "write")
    return run_later.cancel(name)


@frappe.whitelist()
def runnable_functions(txt: str | None = None) -> list[dict]:
    """The declared functions (path, arguments, summary) for the Task form's autocomplete."""
    require_roles(roles.READ)
    return desk.runnable_choices(txt or "")


@frappe.whitelist()
def queue_names() -> list[str]:
    require_roles(roles.READ)
    return sorted(config.known_queues())


@frappe.whitelist()
def ping_scheduler() -> dict:
    require_roles(roles.READ)
    return desk.ping()


@frappe.whitelist()
def scheduler_status() -> dict:
    require_roles(roles.READ)
    return desk.scheduler_status()


@frappe.whitelist()
def failures_last_24h(filters: str | dict | list | None = None) -> dict:
    """Number card: failed or timed-out runs in the last 24 hours."""
    require_roles(roles.READ)
    return desk.failures_last_24h()


@frappe.whitelist()
def failed_jobs(limit: int = 200) -> list[dict]:
    require_roles(roles.MANAGE)
    return desk.failed_jobs(limit)


@frappe.whitelist(methods=["POST"])
def requeue_failed_jobs(job_ids: str | list) -> dict:
    require_roles(roles.MANAGE)
    ids = frappe.parse_json(job_ids) if isinstance(job_ids, str) else job_ids
    return desk.requeue_failed([str(i) for i in ids])


@frappe.whitelist(methods=["POST"])
def delete_failed_jobs(from_date: str | None = None, to_date: str | None = None) -> dict:
    require_roles(roles.MANAGE)
    return desk.delete_failed(from_date, to_date)


@frappe.whitelist(methods=["POST"])
def enqueue_batch(**body) -> dict:
    """The daemon fires several items at once (PROTOCOL.md "Batch firing (1.1)"):
    ``{"results": [...]}``, one result per fire in request order."""
    require_roles(roles.DAEMON)
    return batch_firing.enqueue_batch(body)
