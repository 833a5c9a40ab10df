import frappe
from frappe.tests.utils import FrappeTestCase

from btu.services.notifications import recipient_rows
from btu.testing import make_task


class TestBTUTaskNotification(FrappeTestCase):
    def test_rows_are_read_in_table_order(self):
        """A task's recipients are read with their flags, in table order."""
        task = make_task(
            notifications=[
                {"address": "ops@example.com", "on_failure": 1, "on_timeout": 1},
                {"address": "boss@example.com", "on_success": 1, "on_failure": 0, "on_timeout": 0},
            ]
        )
        rows = [(r.address, r.on_success, r.on_failure) for r in recipient_rows(task.name)]
        self.assertEqual([("ops@example.com", 0, 1), ("boss@example.com", 1, 0)], rows)

    def test_defaults_warn_on_failure_and_timeout(self):
        """A new recipient row hears about failures and timeouts by default."""
        row = frappe.new_doc("BTU Task Notification")
        self.assertEqual(
            (0, 0, 1, 1), (row.on_start, row.on_success, row.on_failure, row.on_timeout)
        )
