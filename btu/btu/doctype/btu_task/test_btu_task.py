from unittest.mock import patch

import frappe
from frappe.tests.utils import FrappeTestCase

from btu import api, runner
from btu.exceptions import TaskFailed
from btu.testing import (
    acting_as,
    make_run_later,
    make_schedule,
    make_task,
    make_user,
    pending_publishes,
)

MANAGER = "btu-test-manager@example.com"
USER = "btu-test-user@example.com"
SYSTEM_MANAGER = "btu-test-sysmgr@example.com"

# Targets a BTU Manager tried on a real bench (issue 7): each must be refused at save.
HOSTILE = (
    "frappe.os.system",
    "frappe.subprocess.run",
    "frappe.db.sql",
    "frappe.client.delete",
    "frappe.client.set_value",
    "frappe.utils.password.get_decrypted_password",
    "frappe.utils.safe_exec.safe_exec",
    "builtins.eval",
    "os.system",
    "subprocess.run",
    "__import__",
    "frappe.__builtins__.eval",
    "btu.samples.__class__",
    "btu.samples.time.sleep",
    "btu.runner.frappe.db.sql",
    "btu.runner.run_task",
)


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

    def test_undeclared_function_is_refused(self):
        """A path no app declared is refused with where a declaration goes."""
        with self.assertRaisesRegex(frappe.ValidationError, "is not declared runnable"):
            make_task(function_path="btu.samples.nope", arguments="")

    def test_hostile_targets_are_refused_at_save(self):
        """Shell, SQL, password and client utilities, builtins, dunder walks: refused."""
        make_user(MANAGER, "BTU Manager")
        with acting_as(MANAGER):
            for path in HOSTILE:
                with self.subTest(path=path), self.assertRaises(frappe.ValidationError):
                    make_task(function_path=path, arguments='{"command": "id"}')

    def test_run_as_defaults_to_the_creator(self):
        """A new task runs as the user who created it."""
        make_user(MANAGER, "BTU Manager")
        with acting_as(MANAGER):
            task = make_task()
        self.assertEqual(MANAGER, task.run_as)

    def test_manager_cannot_run_as_administrator(self):
        """A BTU Manager may not set Run As to another user, Administrator included."""
        make_user(MANAGER, "BTU Manager")
        make_user(USER, "BTU User")
        with acting_as(MANAGER):
            for other in ("Administrator", USER):
                with self.subTest(run_as=other), self.assertRaises(frappe.PermissionError):
                    make_task(run_as=other)

    def test_system_manager_may_choose_any_user(self):
        """A System Manager may make a task run as another user."""
        make_user(SYSTEM_MANAGER, "System Manager")
        make_user(MANAGER, "BTU Manager")
        with acting_as(SYSTEM_MANAGER):
            task = make_task(run_as=MANAGER)
        self.assertEqual(MANAGER, task.run_as)

    def test_manager_cannot_change_what_another_users_task_runs(self):
        """On a task running as Administrator, a BTU Manager cannot change the function,
        its arguments or schedule overrides; a description edit is fine."""
        task = make_task(run_as="Administrator")
        make_user(MANAGER, "BTU Manager")
        with acting_as(MANAGER):
            doc = frappe.get_doc("BTU Task", task.name)
            doc.description = "harmless"
            doc.save()
            doc.arguments = '{"a": 5, "b": 6}'
            with self.assertRaises(frappe.PermissionError):
                doc.save()
            with self.assertRaises(frappe.PermissionError):
                make_schedule(task.name, argument_overrides='{"a": 9}')
            with self.assertRaises(frappe.PermissionError):
                make_run_later(task=task.name, arguments='{"a": 9}')

    def test_btu_user_cannot_run_now(self):
        """A BTU User (read only) cannot run a task."""
        task = make_task()
        make_user(USER, "BTU User")
        with acting_as(USER), self.assertRaises(frappe.PermissionError):
            api.run_task_now(task.name)

    def test_runs_as_its_run_as_user_and_logs_it(self):
        """The function runs as the Run As user, and the log says who it ran as."""
        make_user(MANAGER, "BTU Manager")
        with acting_as(MANAGER):
            task = make_task(function_path="btu.samples.whoami", arguments="")
        with patch("btu.services.firing.enqueue_job", side_effect=lambda log: log.job_id):
            answer = api.run_task_now(task.name)
        runner.run_task(answer["task_log"])
        log = frappe.get_doc("BTU Task Log", answer["task_log"])
        expected = ("Success", f'"{MANAGER}"', MANAGER)  # the result is stored as JSON
        self.assertEqual(expected, (log.status, log.result, log.run_as))
        self.assertEqual("Administrator", frappe.session.user)

    def test_runner_refuses_an_undeclared_target(self):
        """A task whose path is not (or no longer) declared fails at run time with the
        reason, and nothing runs (a task saved before declarations existed)."""
        task = make_task(function_path="btu.samples.whoami", arguments="")
        frappe.db.set_value("BTU Task", task.name, "function_path", "frappe.db.sql")
        with patch("btu.services.firing.enqueue_job", side_effect=lambda log: log.job_id):
            answer = api.run_task_now(task.name)
        with (
            patch("frappe.db.sql", wraps=frappe.db.sql) as sql,
            self.assertRaises(TaskFailed),
        ):
            runner.run_task(answer["task_log"])
        log = frappe.get_doc("BTU Task Log", answer["task_log"])
        self.assertEqual("Failed", log.status)
        self.assertIn("is not declared runnable", log.error)
        self.assertFalse(any("id > " in str(c) for c in sql.call_args_list))

    def test_runner_refuses_a_disabled_run_as_user(self):
        """A task whose Run As user was disabled fails with the reason."""
        make_user(MANAGER, "BTU Manager")
        with acting_as(MANAGER):
            task = make_task()
        frappe.db.set_value("User", MANAGER, "enabled", 0)
        try:
            with patch("btu.services.firing.enqueue_job", side_effect=lambda log: log.job_id):
                answer = api.run_task_now(task.name)
            with self.assertRaises(TaskFailed):
                runner.run_task(answer["task_log"])
        finally:
            frappe.db.set_value("User", MANAGER, "enabled", 1)
        log = frappe.get_doc("BTU Task Log", answer["task_log"])
        self.assertEqual("Failed", log.status)
        self.assertIn("is disabled", log.error)

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

    def test_arguments_set_for_one_run_as_do_not_run_as_another(self):
        """Overrides a BTU Manager set while a task ran as him do not run once Run As
        moves to Administrator: the move is refused while they stand, and a run that
        meets them anyway (Run As changed behind the form's back) fails with the reason."""
        make_user(MANAGER, "BTU Manager")
        task = make_task(run_as="Administrator", function_path="btu.samples.hello", arguments="")
        with acting_as(MANAGER):
            doc = frappe.get_doc("BTU Task", task.name)
            doc.run_as = MANAGER
            doc.save()
            schedule = make_schedule(task.name, argument_overrides='{"name": "pwn"}')
        self.assertEqual(MANAGER, schedule.arguments_set_by)
        doc = frappe.get_doc("BTU Task", task.name)
        doc.run_as = "Administrator"
        with self.assertRaisesRegex(frappe.PermissionError, "were set by " + MANAGER):
            doc.save()
        frappe.db.set_value("BTU Task", task.name, "run_as", "Administrator")
        with patch("btu.services.firing.enqueue_job", side_effect=lambda log: log.job_id):
            answer = api.run_task_now(task.name, schedule.name)
        with self.assertRaises(TaskFailed):
            runner.run_task(answer["task_log"])
        log = frappe.get_doc("BTU Task Log", answer["task_log"])
        self.assertEqual(("Failed", None), (log.status, log.result))
        self.assertIn("may not act for Administrator", log.error)
