"""BTU Report Delivery: a report mailed on a BTU schedule, run as a named user."""

import datetime as dt
import json

import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import now_datetime, time_diff_in_seconds

from btu.core import delivery as core
from btu.core import runas
from btu.core.frequency import FrequencySpec
from btu.services import config, schedules, validation
from btu.services import delivery as service

# What runs as the Run As user, and who receives what it reads: changing any of them
# is acting for that user.
WHAT_RUNS = ("run_as", "report", "filters", "email_to", "cc", "bcc")


class BTUReportDelivery(Document):
    def validate(self):
        self.run_as = self.run_as or frappe.session.user
        if any(self.has_value_changed(f) for f in WHAT_RUNS):
            validation.may_choose_for(self.run_as, _("Report delivery {0}").format(self.name))
        self.time_zone = (self.time_zone or "").strip() or config.default_time_zone()
        preview = schedules.checked_preview(
            FrequencySpec(frequency="Cron", cron=self.cron_expression or ""), self.time_zone
        )
        self.cron_expression, self.time_zone = preview.cron, preview.time_zone
        try:
            core.check_format(self.format)
            self.row_limit = core.check_row_limit(self.row_limit)
            self.subject = core.check_subject(self.subject)
            for field, label in (("email_to", "To"), ("cc", "CC"), ("bcc", "BCC")):
                self.set(field, "\n".join(core.addresses(self.get(field), label)))
            service.resolved_filters(self, dt.datetime.now(dt.timezone.utc))
        except core.DeliveryError as e:
            frappe.throw(str(e), title=_("Report delivery"))
        if not self.email_to:
            frappe.throw(_("To: enter at least one email address."), title=_("Report delivery"))

    def on_update(self):
        self.sync_task()

    def sync_task(self):
        """The BTU Task that delivers this (Run As and enabled follow the delivery) and
        its one schedule."""
        values = {
            "function_path": service.FUNCTION,
            "arguments": json.dumps({"delivery": self.name}),
            "run_as": self.run_as,
            "enabled": self.enabled,
            "description": _("Delivers the report {0} as {1}.").format(self.report, self.format),
        }
        if self.task and frappe.db.exists("BTU Task", self.task):
            task = frappe.get_doc("BTU Task", self.task)
            if any(str(task.get(k) or "") != str(v or "") for k, v in values.items()):
                task.update(values)
                task.save(ignore_permissions=True)
        else:
            task = frappe.new_doc("BTU Task")
            task.title = _("Report Delivery {0}").format(self.name)
            task.update(values)
            task.insert(ignore_permissions=True)
            self.db_set("task", task.name)
        name = frappe.db.get_value("BTU Task Schedule", {"task": task.name})
        schedule = (
            frappe.get_doc("BTU Task Schedule", name)
            if name
            else frappe.new_doc("BTU Task Schedule")
        )
        wanted = {
            "task": task.name,
            "frequency": "Cron",
            "cron_expression": self.cron_expression,
            "time_zone": self.time_zone,
            "enabled": 1,
        }
        if not name or any(schedule.get(k) != v for k, v in wanted.items()):
            schedule.update(wanted)
            schedule.save(ignore_permissions=True)

    def on_trash(self):
        if self.task and frappe.db.exists("BTU Task", self.task):
            frappe.db.set_value(self.doctype, self.name, "task", None)
            frappe.delete_doc("BTU Task", self.task, ignore_permissions=True)

    def _check_may_act(self):
        user = frappe.session.user
        try:
            runas.check_may_act_as(
                user,
                frappe.get_roles(user),
                self.run_as,
                _("Report delivery {0}").format(self.name),
            )
        except runas.RunAsError as e:
            frappe.throw(str(e), frappe.PermissionError, title=_("Run As"))

    def _render(self, with_table=False):
        self._check_may_act()
        try:
            return service.as_user(self.run_as, service.render, self, with_table=with_table)
        except core.DeliveryError as e:
            frappe.throw(str(e), title=_("Report delivery"))

    @frappe.whitelist()
    def preview(self) -> dict:
        """The mail as it would be sent now: subject, HTML body, rows, attachments."""
        rendered = self._render(with_table=True)
        return {
            "subject": rendered.subject,
            "message": rendered.message,
            "table": rendered.table,
            "rows": rendered.rows,
            "truncated": rendered.truncated,
            "period": rendered.period,
            "attachments": [
                {"name": a["fname"], "size": len(a["fcontent"])} for a in rendered.attachments
            ],
            "recipients": core.addresses(self.email_to, "To"),
        }

    @frappe.whitelist()
    def send_now_to_me(self) -> dict:
        """Deliver now, to the current user only (not to the recipients); a Task Log
        records it."""
        me = frappe.db.get_value("User", frappe.session.user, "email")
        if not me:
            frappe.throw(_("Your user has no email address."), title=_("Send now to me"))
        started = now_datetime()
        rendered = self._render()
        outcome = service.send(self, rendered, [me])
        log = frappe.get_doc(
            {
                "doctype": "BTU Task Log",
                "task": self.task,
                "status": "Success",
                "triggered_by": "Manual",
                "function_path": service.FUNCTION,
                "run_as": self.run_as,
                "arguments": json.dumps({"delivery": self.name, "to": me}),
                "started": started,
                "ended": now_datetime(),
                "duration": time_diff_in_seconds(now_datetime(), started),
                "result": json.dumps(outcome.as_dict(), indent=1),
                "stdout": outcome.line(),
            }
        ).insert(ignore_permissions=True)
        return {**outcome.as_dict(), "task_log": log.name}
