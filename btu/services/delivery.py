"""Scheduled report delivery (BTU Report Delivery): run a report as a user through
Frappe's own report runner, export it with Frappe's exporters and queue the mail with
``frappe.sendmail``, as Frappe's Auto Email Report does, on a BTU schedule.

A delivery owns a BTU Task (function :func:`deliver`, declared in BTU's hooks.py) and one
Task Schedule: every delivery is that task's run, so it has a Task Log (its Result says
the rows, format and recipients) and a failure follows the task's notifications.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import frappe
from frappe import _
from frappe.utils import format_time, get_url_to_report, global_date_format, now

from btu.core import delivery as core
from btu.core.relative_dates import RelativeDateError, resolve_filters
from btu.services import config

DOCTYPE = "BTU Report Delivery"
FUNCTION = "btu.services.delivery.deliver"
TEMPLATE = "frappe/templates/emails/auto_email_report.html"


@dataclass
class Rendered:
    subject: str
    message: str  # the mail's HTML body
    rows: int
    period: str
    truncated: bool = False
    attachments: list[dict[str, Any]] = field(default_factory=list)
    table: str = ""  # the rows as HTML, for a preview of an attachment's content


def parse_filters(text: str | None) -> Any:
    if not (text or "").strip():
        return {}
    try:
        return frappe.parse_json(text)
    except ValueError as e:
        raise core.DeliveryError(f"Filters are not valid JSON: {e}.") from e


def week_start() -> int:
    """System Settings' first day of the week, 0 = Monday."""
    days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    first = frappe.db.get_single_value("System Settings", "first_day_of_the_week") or "Monday"
    return days.index(first) if first in days else 0


def resolved_filters(doc, at: dt.datetime):
    try:
        return resolve_filters(
            parse_filters(doc.filters),
            at,
            doc.time_zone or config.default_time_zone(),
            week_start(),
        )
    except RelativeDateError as e:
        raise core.DeliveryError(f"Filters: {e}") from e


def _run_report(doc, filters: Any, limit: int):
    report = frappe.get_doc("Report", doc.report)
    if not report.is_permitted():
        frappe.throw(
            _("{0} may not read the report {1}.").format(frappe.session.user, doc.report),
            frappe.PermissionError,
        )
    if report.report_type == "Report Builder" and not frappe.has_permission(
        report.ref_doctype, "report"
    ):
        frappe.throw(
            _("{0} has no report permission on {1}.").format(
                frappe.session.user, report.ref_doctype
            ),
            frappe.PermissionError,
        )
    columns, data = report.get_data(
        filters=filters,
        limit=(limit + 1) if limit else None,
        user=frappe.session.user,
        as_dict=True,
        ignore_prepared_report=True,
        are_default_filters=False,
    )
    data, truncated = core.limit_rows(list(data), limit)
    return report, columns, data, truncated


def _html(doc, report, columns, data) -> str:
    from frappe.email.doctype.auto_email_report.auto_email_report import (
        make_links,
        update_field_types,
    )

    if data:
        columns, data = make_links([frappe._dict(c) for c in columns], [dict(r) for r in data])
        columns = update_field_types(columns)
    return frappe.render_template(
        TEMPLATE,
        {
            "title": doc.report,
            "description": frappe.utils.escape_html(doc.message or ""),
            "date_time": global_date_format(now()) + " " + format_time(now()),
            "columns": columns,
            "data": data,
            "report_url": get_url_to_report(doc.report, report.report_type, report.ref_doctype),
            "report_name": doc.report,
            "edit_report_settings": frappe.utils.get_link_to_form(DOCTYPE, doc.name),
        },
    )


def _table(columns, data) -> list[list[Any]]:
    from frappe.desk.query_report import build_xlsx_data

    rows, _widths = build_xlsx_data(
        frappe._dict(columns=columns, result=data), [], 1, ignore_visible_idx=True
    )
    return rows


def export(fmt: str, doc, report, columns, data) -> bytes:
    """The attachment's bytes, by Frappe's exporters."""
    if fmt == "XLSX":
        from frappe.desk.query_report import build_xlsx_data
        from frappe.utils.xlsxutils import make_xlsx

        rows, widths = build_xlsx_data(
            frappe._dict(columns=columns, result=data), [], 1, ignore_visible_idx=True
        )
        return make_xlsx(rows, doc.report[:31], column_widths=widths).getvalue()
    if fmt == "CSV":
        from frappe.utils.csvutils import to_csv

        return to_csv(_table(columns, data)).encode("utf-8")
    if fmt == "PDF":
        from frappe.utils.pdf import get_pdf

        return get_pdf(_html(doc, report, columns, data))
    raise core.DeliveryError(f"{fmt} is not an attachment format.")


def render(doc, at: dt.datetime | None = None, with_table: bool = False) -> Rendered:
    """The mail of one delivery, run as the current session user (``with_table``: also
    the rows as HTML when they go in an attachment, for the form's preview)."""
    fmt = core.check_format(doc.format)
    at = at or dt.datetime.now(dt.timezone.utc)
    resolved = resolved_filters(doc, at)
    limit = core.check_row_limit(doc.row_limit)
    report, columns, data, truncated = _run_report(doc, resolved.filters, limit)
    subject = core.subject(
        doc.subject, doc.report, resolved.period_text, resolved.today.isoformat()
    )
    rendered = Rendered(
        subject=subject,
        message="",
        rows=len(data),
        period=resolved.period_text,
        truncated=truncated,
    )
    if fmt == "HTML":
        rendered.message = _html(doc, report, columns, data)
    else:
        rendered.message = _html(doc, report, [], [])
        name = core.file_name(doc.report, resolved.period.start.isoformat(), fmt)
        rendered.attachments = [
            {"fname": name, "fcontent": export(fmt, doc, report, columns, data)}
        ]
        if with_table:
            rendered.table = _html(doc, report, columns, data)
    return rendered


def send(doc, rendered: Rendered, to: list[str], cc=(), bcc=()) -> core.Outcome:
    outcome = core.Outcome(
        report=doc.report,
        format=doc.format,
        rows=rendered.rows,
        period=rendered.period,
        recipients=list(to),
        cc=list(cc),
        bcc=list(bcc),
        truncated=rendered.truncated,
    )
    if not rendered.rows and doc.skip_when_empty:
        return core.Outcome(**{**outcome.__dict__, "skipped": "the report has no rows"})
    frappe.sendmail(
        recipients=list(to),
        cc=list(cc),
        bcc=list(bcc),
        subject=rendered.subject,
        message=rendered.message,
        attachments=rendered.attachments or None,
        reference_doctype=DOCTYPE,
        reference_name=doc.name,
    )
    return outcome


def deliver(delivery: str) -> dict:
    """Run a BTU Report Delivery and mail it to its recipients (its task calls this)."""
    doc = frappe.get_doc(DOCTYPE, delivery)
    if frappe.session.user != doc.run_as:
        frappe.throw(
            _("{0} runs as {1}, but this run is as {2}: its task's Run As must be {1}.").format(
                delivery, doc.run_as, frappe.session.user
            ),
            frappe.PermissionError,
        )
    try:
        to = core.addresses(doc.email_to, "To")
        cc = core.addresses(doc.cc, "CC")
        bcc = core.addresses(doc.bcc, "BCC")
        rendered = render(doc)
    except core.DeliveryError as e:
        frappe.throw(str(e), title=_("Report delivery"))
    outcome = send(doc, rendered, to, cc, bcc)
    print(outcome.line())
    return outcome.as_dict()


def as_user(user: str, fn, *args, **kwargs):
    """``fn`` run as ``user`` (their permissions), the session user restored after."""
    current = frappe.session.user
    if user == current:
        return fn(*args, **kwargs)
    # frappe.set_user resets the session's sid and data and the request's form_dict:
    # put them back, so a web request's own session is untouched.
    saved, form = dict(frappe.local.session), frappe.local.form_dict
    frappe.set_user(user)
    try:
        return fn(*args, **kwargs)
    finally:
        frappe.set_user(current)
        frappe.local.session.update(saved)
        frappe.local.form_dict = form
