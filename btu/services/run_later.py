"""Run Later actions beyond saving."""

import frappe
from frappe import _
from frappe.utils import add_to_date, get_datetime, now_datetime

from btu.core.doctypes import CANCELLED, PENDING, RUN_LATER


def cancel(name: str) -> dict:
    """Cancel a Pending item; saving it publishes the removal after the commit."""
    doc = frappe.get_doc(RUN_LATER, name)
    if doc.status != PENDING:
        frappe.throw(_("Only a Pending item can be cancelled; this one is {0}.").format(doc.status))
    doc.status = CANCELLED
    doc.save()
    return {"status": doc.status}


def check_target(task: str | None, function_path: str | None) -> None:
    if not task and not (function_path or "").strip():
        frappe.throw(_("Choose a Task, or enter the Function to run."), title=_("Nothing to run"))


def check_future(run_at) -> None:
    """The instant must not be in the past (a minute of slack for slow typing)."""
    moment = get_datetime(run_at)
    if moment < add_to_date(now_datetime(), minutes=-1):
        frappe.throw(
            _("Run At ({0}) is in the past. Choose a time from now on.").format(run_at),
            title=_("Run At"),
        )


def check_unique_key(key: str | None, name: str | None) -> None:
    if not key:
        return
    other = frappe.db.get_value(RUN_LATER, {"unique_key": key, "name": ["!=", name or ""]})
    if other:
        frappe.throw(
            _("The unique key {0} is already used by {1}.").format(frappe.bold(key), other),
            frappe.UniqueValidationError,
            title=_("Duplicate"),
        )
