"""Closing Task Logs and recording their outcome on the task, schedule and run-later
item. Shared by the runner, RQ's failure callback and the sweep."""

import frappe
from frappe.utils import time_diff_in_seconds

from btu.core import notify
from btu.core.doctypes import DONE, FAILED, RUN_LATER, SCHEDULE
from btu.services import clock, log_write, notifications, rows, txn

LOG = "BTU Task Log"
UNFINISHED = ("Queued", "In Progress")


def record_outcome(log) -> None:
    """Last run and outcome on the task and schedule; final status of a run-later item."""
    values = {"last_run": log.started or log.ended, "last_outcome": log.status}
    # An UPDATE of a task or schedule deleted since changes nothing. Plain SQL (every
    # RQ work horse runs this): see btu.core.sqltext.
    if log.task:
        rows.update("BTU Task", log.task, values)
    if log.schedule:
        rows.update(SCHEDULE, log.schedule, values)
    if log.run_later and rows.exists(RUN_LATER, log.run_later):
        status = DONE if log.status == "Success" else FAILED
        rows.update(
            RUN_LATER,
            log.run_later,
            {
                "status": status,
                "task_log": log.name,
                "modified": clock.now(),
                "modified_by": frappe.session.user,
            },
        )
        # Imported here: publishing brings the wire contract (streams), which a run of a
        # schedule does not need (every RQ work horse imports this module).
        from btu.services import publishing

        publishing.queue_publish(RUN_LATER, log.run_later)


def close(name: str, status: str, reason: str) -> bool:
    """Close an unfinished log as ``status`` with ``reason``; False if it was already
    finished (or is gone). Commits, then sends the emails the recipients asked for."""
    log = frappe.get_doc(LOG, name) if frappe.db.exists(LOG, name) else None
    if log is None or log.status not in UNFINISHED:
        return False
    ended = clock.now()
    log_write.write(
        log,
        {
            "status": status,
            "ended": ended,
            "duration": time_diff_in_seconds(ended, log.started) if log.started else 0,
            "error": reason,
        },
    )
    record_outcome(log)
    txn.commit()
    event = notify.event_for_status(status)
    if event and notifications.send(log, event):
        txn.commit()
    return True
