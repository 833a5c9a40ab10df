import frappe
from frappe.tests.utils import FrappeTestCase
from frappe.utils import add_to_date, get_system_timezone, now_datetime

from btu.core.timeconv import to_epoch_ms
from btu.services import publishing
from btu.testing import make_run_later, make_task, unique
from streams.messages import ScheduleDelete


class TestBTURunLater(FrappeTestCase):
    def setUp(self):
        self.task = make_task()

    def test_pending_item_is_a_once_item(self):
        """A new item is Pending, named RL-…, and armed at its instant in UTC milliseconds."""
        item = make_run_later(task=self.task.name)
        event = publishing.current_event(item.doctype, item.name)
        expected = ("Pending", "once", True, to_epoch_ms(item.run_at, get_system_timezone()))
        self.assertEqual(expected, (item.status, event.kind, event.enabled, event.at))
        self.assertRegex(item.name, r"^RL-\d{6}$")

    def test_function_path_without_task(self):
        """A function path with fitting arguments can be run without a task."""
        item = make_run_later(function_path="btu.samples.hello", arguments='{"name": "BTU"}')
        self.assertEqual("btu.samples.hello", item.function_path)

    def test_something_to_run_is_required(self):
        """Neither a task nor a function is refused."""
        with self.assertRaisesRegex(frappe.ValidationError, "Choose a Task"):
            make_run_later()

    def test_past_instant_is_refused(self):
        """An instant in the past is refused."""
        with self.assertRaisesRegex(frappe.ValidationError, "in the past"):
            make_run_later(task=self.task.name, run_at=add_to_date(now_datetime(), hours=-1))

    def test_unique_key_prevents_duplicates(self):
        """A second item with the same unique key is refused."""
        key = unique("invoice-42")
        make_run_later(task=self.task.name, unique_key=key)
        with self.assertRaises(frappe.UniqueValidationError):
            make_run_later(task=self.task.name, unique_key=key)

    def test_cancel_removes_it_from_the_scheduler(self):
        """Cancelling a Pending item makes its wire event a delete."""
        from btu.api import cancel_run_later

        item = make_run_later(task=self.task.name)
        self.assertEqual({"status": "Cancelled"}, cancel_run_later(item.name))
        event = publishing.current_event(item.doctype, item.name)
        self.assertIsInstance(event, ScheduleDelete)

    def test_cancel_only_pending(self):
        """Only Pending items can be cancelled."""
        from btu.api import cancel_run_later

        item = make_run_later(task=self.task.name)
        frappe.db.set_value(item.doctype, item.name, "status", "Done")
        with self.assertRaisesRegex(frappe.ValidationError, "Only a Pending item"):
            cancel_run_later(item.name)
