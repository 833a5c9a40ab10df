"""Emails about runs, through Frappe's email queue and BTU's configured Email Account."""

import frappe
from frappe.utils import get_url_to_form

from btu.core import notify
from btu.services import config, log_write, rows

CHILD = "BTU Task Notification"


def recipient_rows(task: str | None) -> list[dict]:
    """The task's recipient rows, in table order. A query-builder read: ``frappe.get_all``
    would import ``frappe.boot`` (and with it requests) in every RQ work horse."""
    if not task:
        return []
    t = frappe.qb.DocType(CHILD)
    return (
        frappe.qb.from_(t)
        .select(t.address, t.on_start, t.on_success, t.on_failure, t.on_timeout)
        .where(
            (t.parent == task) & (t.parenttype == "BTU Task") & (t.parentfield == "notifications")
        )
        .orderby(t.idx)
        .run(as_dict=True)
    )


def _sender() -> str | None:
    account = config.email_account()
    if not account:
        return None
    return rows.value("Email Account", account, "email_id")


def _facts(log) -> notify.RunFacts:
    return notify.RunFacts(
        task=log.task or log.function_path or log.name,
        log=log.name,
        status=log.status,
        started=str(log.started or ""),
        ended=str(log.ended or ""),
        duration_s=log.duration if log.ended else None,
        error=log.error or "",
        stderr=log.stderr or "",
        traceback=log.traceback or "",
        link=get_url_to_form(log.doctype, log.name),
    )


def send(log, event: str, rows: list[dict] | None = None) -> bool:
    """Queue the email for ``event`` of ``log`` to every recipient who asked for it (the
    task's recipient ``rows`` when the caller already has them); a mail problem is noted
    on the log, never raised. False when nobody listens for ``event`` (nothing written)."""
    recipients = notify.recipients_for(event, recipient_rows(log.task) if rows is None else rows)
    if not recipients:
        return False
    subject, message = notify.compose(event, _facts(log))
    try:
        frappe.sendmail(
            recipients=recipients,
            sender=_sender(),
            subject=subject,
            message=message,
            reference_doctype=log.doctype,
            reference_name=log.name,
            delayed=True,
        )
    except (frappe.OutgoingEmailError, frappe.ValidationError) as e:
        frappe.clear_last_message()
        note = f"{event} email not sent: {e}"
        log_write.write(log, {"email_notes": "\n".join(filter(None, [log.email_notes, note]))})
    return True
