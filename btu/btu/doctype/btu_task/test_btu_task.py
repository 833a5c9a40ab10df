from unittest.mock import patch

import frappe
from frappe.tests.utils import FrappeTestCase

from btu.testing import make_schedule, make_task, pending_publishes


class TestBTUTask(FrappeTestCase):
    def test_valid_task_saves(self):
        """A task whose function and arguments fit is saved, enabled, on the default queue."""
        task = make_task()
        self.assertEqual((1, "default"), (task.enabled, task.queue))

    def test_bad_json_names_line_and_column(self):
        """Arguments that are not valid JSON are refused with the error's position."""
        with self.assertRaisesRegex(frappe.ValidationError, "line 2, column 1"):
            make_task(arguments='{"a": 1,\n}')

    def test_missing_mandatory_argument_is_named(self):
        """A mandatory parameter missing from the arguments is named in the error."""
        with self.assertRaisesRegex(frappe.ValidationError, "needs the argument 'b'"):
            make_task(arguments='{"a": 1}')

    def test_unknown_function_is_refused(self):
        """A path that does not resolve is refused with the reason."""
        with self.assertRaisesRegex(frappe.ValidationError, "has no attribute 'nope'"):
            make_task(function_path="btu.samples.nope", arguments="")

    def test_function_outside_installed_apps_is_refused(self):
        """Functions outside the installed apps cannot be scheduled."""
        with self.assertRaisesRegex(frappe.ValidationError, "outside the apps BTU may run"):
            make_task(function_path="os.getcwd", arguments="")

    def test_unknown_queue_is_refused(self):
        """A queue the bench does not have is refused."""
        with self.assertRaisesRegex(frappe.ValidationError, "not one of this bench's queues"):
            make_task(queue="no-such-queue")

    def test_invalid_recipient_is_refused(self):
        """Notification recipients must be email addresses."""
        with self.assertRaises(frappe.ValidationError):
            make_task(notifications=[{"address": "not-an-address", "on_failure": 1}])

    def test_disabling_republishes_its_schedules(self):
        """Disabling a task queues a publish of each of its schedules for after the commit."""
        task = make_task()
        schedule = make_schedule(task.name)
        frappe.local.btu_publish_pending = None
        task.enabled = 0
        task.save()
        self.assertIn(("BTU Task Schedule", schedule.name), pending_publishes())

    def test_deleting_removes_its_schedules(self):
        """Deleting a task deletes its schedules, whose removal is published after the commit."""
        task = make_task()
        schedule = make_schedule(task.name)
        frappe.local.btu_publish_pending = None
        frappe.delete_doc("BTU Task", task.name)
        self.assertFalse(frappe.db.exists("BTU Task Schedule", schedule.name))
        self.assertIn(("BTU Task Schedule", schedule.name), pending_publishes())

    def test_run_now_goes_through_a_task_log(self):
        """Run now records a Manual Task Log with a manual fire_id and enqueues it."""
        task = make_task()
        with patch("btu.services.firing.enqueue_job", side_effect=lambda log: log.job_id) as enq:
            from btu.api import run_task_now

            answer = run_task_now(task.name)
        log = frappe.get_doc("BTU Task Log", answer["task_log"])
        self.assertEqual(
            ("Queued", "Manual", task.name, True, 1),
            (
                log.status,
                log.triggered_by,
                log.task,
                log.fire_id.startswith("manual-"),
                enq.call_count,
            ),
        )
        self.assertEqual(f"{frappe.local.site}::{log.fire_id}", answer["job_id"])
