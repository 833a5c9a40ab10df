"""BTU Report Delivery: a real report delivered in each format, relative filters, the
run-as user's permissions, skip-when-empty, and the task and schedule it owns."""

import csv
import datetime as dt
import io
import json
from zoneinfo import ZoneInfo

import frappe
from frappe.tests.utils import FrappeTestCase
from openpyxl import load_workbook

from btu.services import delivery as service
from btu.testing import acting_as, make_user, unique

TAG = unique("btu-delivery-test").replace(" ", "-")


def make_query_report(roles=None):
    report = frappe.get_doc(
        {
            "doctype": "Report",
            "report_name": unique("_Test BTU Delivery"),
            "ref_doctype": "ToDo",
            "report_type": "Query Report",
            "is_standard": "No",
            "module": "BTU",
            "query": (
                "select name, description, date from `tabToDo` "
                "where description like %(tag)s and date between %(from_date)s and %(to_date)s "
                "order by date"
            ),
        }
    ).insert()
    if roles is not None:
        report.set("roles", [{"role": r} for r in roles])
        report.save()
    return report.name


def ensure_outgoing_account():
    """A default outgoing Email Account (never connected to in tests): mails are queued.
    Written without its hooks, whose side effects escape the test's rollback."""
    if frappe.db.exists("Email Account", {"default_outgoing": 1, "enable_outgoing": 1}):
        return
    frappe.get_doc(
        {
            "doctype": "Email Account",
            "email_account_name": "_Test BTU Outgoing",
            "email_id": "btu-test-outgoing@example.com",
            "enable_outgoing": 1,
            "default_outgoing": 1,
            "smtp_server": "localhost",
        }
    ).db_insert()


def make_delivery(report, **values):
    doc = frappe.get_doc(
        {
            "doctype": "BTU Report Delivery",
            "report": report,
            "email_to": "reader@example.com",
            "cc": "boss@example.com",
            "format": "XLSX",
            "cron_expression": "0 7 * * 1",
            "time_zone": "Europe/Paris",
            "filters": json.dumps(
                {"tag": f"%{TAG}%", "from_date": "@last_week.start", "to_date": "@last_week.end"}
            ),
            **values,
        }
    )
    return doc.insert()


class TestBTUReportDelivery(FrappeTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        frappe.set_user("Administrator")
        ensure_outgoing_account()
        cls.report = make_query_report()
        # This week's first day in the delivery's zone (System Settings' week start).
        today = dt.datetime.now(ZoneInfo("Europe/Paris")).date()
        monday = today - dt.timedelta(days=(today.weekday() - service.week_start()) % 7)
        cls.last_week = [monday - dt.timedelta(days=7 - i) for i in (0, 2, 6)]
        for day in [*cls.last_week, monday, monday - dt.timedelta(days=8)]:
            frappe.get_doc({"doctype": "ToDo", "description": f"{TAG} {day}", "date": day}).insert()

    def rendered(self, fmt, **values):
        doc = make_delivery(self.report, format=fmt, **values)
        return doc, service.render(doc)

    def test_xlsx_has_last_weeks_rows(self):
        """XLSX: the attachment opens and holds last week's rows (in the schedule's zone)."""
        doc, out = self.rendered("XLSX")
        [attachment] = out.attachments
        sheet = load_workbook(io.BytesIO(attachment["fcontent"])).active
        rows = list(sheet.iter_rows(values_only=True))
        dates = [str(r[2])[:10] for r in rows[1:]]
        self.assertEqual(["name", "description", "date"], list(rows[0]))
        self.assertEqual([str(d) for d in self.last_week], dates)
        self.assertTrue(attachment["fname"].endswith(".xlsx"))
        self.assertIn(doc.report, out.subject)
        self.assertIn(str(self.last_week[0]), out.subject)

    def test_csv(self):
        _doc, out = self.rendered("CSV")
        text = out.attachments[0]["fcontent"].decode("utf-8")
        rows = list(csv.reader(io.StringIO(text)))
        self.assertEqual((4, "description"), (len(rows), rows[0][1]))

    def test_html_body(self):
        """HTML: the rows are in the mail's body, no attachment."""
        _doc, out = self.rendered("HTML")
        self.assertEqual([], out.attachments)
        for day in self.last_week:
            self.assertIn(f"{TAG} {day}", out.message)

    def test_pdf(self):
        _doc, out = self.rendered("PDF")
        self.assertTrue(out.attachments[0]["fcontent"].startswith(b"%PDF"))

    def test_report_builder(self):
        """A Report Builder report takes conditions: a relative period with 'between'."""
        report = frappe.get_doc(
            {
                "doctype": "Report",
                "report_name": unique("_Test BTU Delivery Builder"),
                "ref_doctype": "ToDo",
                "report_type": "Report Builder",
                "is_standard": "No",
                "json": json.dumps(
                    {"columns": [["description", "ToDo"], ["date", "ToDo"]], "order_by": "date asc"}
                ),
            }
        ).insert()
        filters = {"description": ["like", f"%{TAG}%"], "date": ["between", "@last_week"]}
        doc = make_delivery(report.name, format="CSV", filters=json.dumps(filters))
        out = service.render(doc)
        rows = list(csv.reader(io.StringIO(out.attachments[0]["fcontent"].decode("utf-8"))))
        self.assertEqual([str(d) for d in self.last_week], sorted(r[-1] for r in rows[1:]))

    def test_script_report(self):
        """A standard Script Report (Frappe's own, System Manager only) as XLSX, limited."""
        doc = make_delivery("Database Storage Usage By Tables", filters="", row_limit=5)
        out = service.render(doc)
        sheet = load_workbook(io.BytesIO(out.attachments[0]["fcontent"])).active
        rows = list(sheet.iter_rows(values_only=True))
        self.assertEqual((5, True, 6), (out.rows, out.truncated, len(rows)))
        self.assertEqual(("Table", "Size (MB)"), rows[0][:2])
        user = make_user("btu-delivery-manager@example.com", "BTU Manager")
        doc = make_delivery("Database Storage Usage By Tables", filters="", run_as=user)
        with acting_as(user):
            with self.assertRaises(frappe.PermissionError):
                service.deliver(doc.name)

    def test_delete_removes_its_task(self):
        """Deleting a delivery deletes its task and schedule (the logs would stay)."""
        doc = make_delivery(self.report)
        task = doc.task
        frappe.delete_doc(doc.doctype, doc.name)
        self.assertEqual(
            (False, 0),
            (
                bool(frappe.db.exists("BTU Task", task)),
                frappe.db.count("BTU Task Schedule", {"task": task}),
            ),
        )

    def test_row_limit(self):
        _doc, out = self.rendered("CSV", row_limit=2)
        self.assertEqual((2, True), (out.rows, out.truncated))

    def test_deliver_queues_the_mail(self):
        """deliver() (what the task runs) queues one mail with the attachment, To and CC,
        and returns what its Task Log records."""
        doc = make_delivery(self.report)
        result = service.deliver(doc.name)
        queued = frappe.get_all(
            "Email Queue",
            filters={"reference_doctype": doc.doctype, "reference_name": doc.name},
            fields=["name", "message"],
        )
        recipients = frappe.get_all(
            "Email Queue Recipient", filters={"parent": queued[0].name}, pluck="recipient"
        )
        self.assertEqual(
            (3, "XLSX", ["reader@example.com"], ["boss@example.com"]),
            (result["rows"], result["format"], result["recipients"], result["cc"]),
        )
        self.assertEqual(1, len(queued))
        # Frappe embeds content attachments in the queued MIME message.
        self.assertRegex(queued[0].message, r'filename="?[^"\n]+\.xlsx')
        self.assertIn("reader@example.com", recipients)

    def test_skip_when_empty(self):
        """No rows: nothing is queued, and the result says why."""
        doc = make_delivery(
            self.report,
            filters=json.dumps(
                {"tag": "nothing-matches", "from_date": "@today", "to_date": "@today"}
            ),
        )
        result = service.deliver(doc.name)
        queued = frappe.db.count("Email Queue", {"reference_name": doc.name})
        self.assertEqual(("the report has no rows", 0), (result.get("skipped"), queued))

    def test_run_as_user_needs_report_permission(self):
        """A report restricted to System Manager cannot be delivered as a BTU Manager."""
        restricted = make_query_report(roles=["System Manager"])
        user = make_user("btu-delivery-manager@example.com", "BTU Manager")
        doc = make_delivery(restricted, run_as=user)
        with acting_as(user):
            with self.assertRaises(frappe.PermissionError):
                service.deliver(doc.name)

    def test_runs_only_as_its_run_as(self):
        """deliver() refuses to run as anyone but the delivery's Run As."""
        doc = make_delivery(self.report)
        user = make_user("btu-delivery-other@example.com", "System Manager")
        with acting_as(user):
            with self.assertRaisesRegex(frappe.PermissionError, "runs as Administrator"):
                service.deliver(doc.name)

    def test_choosing_another_run_as_needs_system_manager(self):
        user = make_user("btu-delivery-manager@example.com", "BTU Manager")
        with acting_as(user):
            with self.assertRaises(frappe.PermissionError):
                make_delivery(self.report, run_as="Administrator")

    def test_owns_a_task_and_schedule(self):
        """Saving creates the delivering task (run as the delivery's user) and one cron
        schedule in its zone; disabling the delivery disables the task."""
        doc = make_delivery(self.report)
        task = frappe.get_doc("BTU Task", doc.task)
        schedule = frappe.get_doc("BTU Task Schedule", {"task": task.name})
        self.assertEqual(
            (service.FUNCTION, {"delivery": doc.name}, "Administrator", 1),
            (task.function_path, json.loads(task.arguments), task.run_as, task.enabled),
        )
        self.assertEqual(
            ("0 7 * * 1", "Europe/Paris"), (schedule.cron_expression, schedule.time_zone)
        )
        doc.enabled = 0
        doc.save()
        self.assertEqual(0, frappe.db.get_value("BTU Task", task.name, "enabled"))

    def test_bad_settings_refused(self):
        """A mistyped relative date, address or placeholder is refused naming it."""
        cases = [
            ({"filters": '{"from_date": "@lastweek"}'}, "is not a relative date"),
            ({"email_to": "not-an-address"}, "not email addresses: not-an-address"),
            ({"subject": "{report} {when}"}, "unknown placeholder"),
            ({"cron_expression": "0 25 * * *"}, ""),
        ]
        for values, message in cases:
            with self.assertRaisesRegex(frappe.ValidationError, message):
                make_delivery(self.report, **values)

    def test_preview_and_send_now_to_me(self):
        """The preview renders the mail without sending; Send now to me mails only the
        current user and leaves a Task Log."""
        doc = make_delivery(self.report)
        preview = doc.preview()
        before = frappe.db.count("Email Queue", {"reference_name": doc.name})
        sent = doc.send_now_to_me()
        log = frappe.get_doc("BTU Task Log", sent["task_log"])
        self.assertEqual((3, 0), (preview["rows"], before))
        self.assertIn(f"{TAG} {self.last_week[0]}", preview["table"])
        self.assertEqual(
            ([frappe.db.get_value("User", "Administrator", "email")], "Success", doc.task),
            (sent["recipients"], log.status, log.task),
        )
