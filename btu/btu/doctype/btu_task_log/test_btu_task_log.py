from types import SimpleNamespace
from unittest.mock import patch

import frappe
from frappe.tests.utils import FrappeTestCase
from frappe.utils import add_to_date, now_datetime
from frappe.utils.background_jobs import get_redis_conn
from rq.timeouts import JobTimeoutException

from btu import api, runner
from btu.core.timeconv import to_epoch_ms
from btu.exceptions import BadFireRequest, ItemDisabled, ItemNotFound, TaskFailed
from btu.redis_conn import REDIS_ERRORS
from btu.services import housekeeping
from btu.testing import make_run_later, make_schedule, make_task

# 2027-03-15 07:30 Europe/Paris: an instant of the test schedules (Daily at 07:30 there).
DUE = 1_805_092_200_000
DAY_MS = 86_400_000


def fire(item: str, kind: str = "cron", due: int | None = None, lag_ms: int = 1000) -> dict:
    """Fire ``item`` as the daemon would, ``lag_ms`` after its instant (a run-later
    item's own instant by default)."""
    if due is None:
        due = DUE
        if kind == "once":
            run_at = frappe.db.get_value("BTU Run Later", item, "run_at")
            due = to_epoch_ms(run_at, frappe.utils.get_system_timezone())
    with (
        patch("btu.services.firing.enqueue_job", side_effect=lambda log: log.job_id) as enq,
        patch("btu.services.publishing.now_ms", return_value=due + lag_ms),
    ):
        answer = api.enqueue_scheduled(id=item, kind=kind, due=due, fire_id=f"{item}@{due}")
    answer["enqueued"] = enq.call_count
    answer["fire_id"] = f"{item}@{due}"
    return answer


def log_of(fire_id: str):
    return frappe.get_doc("BTU Task Log", {"fire_id": fire_id})


class TestEnqueueScheduled(FrappeTestCase):
    def setUp(self):
        self.task = make_task()
        self.schedule = make_schedule(self.task.name)

    def test_fire_records_then_enqueues(self):
        """A fire records a Queued log with its fire_id and enqueues one job with the derived id."""
        answer = fire(self.schedule.name)
        job_id = f"{frappe.local.site}::{self.schedule.name}_{DUE}"
        fire_id = f"{self.schedule.name}@{DUE}"
        expected = {"job_id": job_id, "duplicate": False, "enqueued": 1, "fire_id": fire_id}
        self.assertEqual(expected, answer)
        log = log_of(f"{self.schedule.name}@{DUE}")
        self.assertEqual(
            ("Queued", "Schedule", self.task.name, self.schedule.name, job_id, "default"),
            (log.status, log.triggered_by, log.task, log.schedule, log.job_id, log.queue),
        )

    def test_repeat_is_duplicate_even_after_success(self):
        """A repeated fire_id answers duplicate and enqueues nothing, even once the run finished."""
        first = fire(self.schedule.name)
        frappe.db.set_value(
            "BTU Task Log", {"fire_id": f"{self.schedule.name}@{DUE}"}, "status", "Success"
        )
        again = fire(self.schedule.name)
        self.assertEqual(
            (first["job_id"], True, 0), (again["job_id"], again["duplicate"], again["enqueued"])
        )

    def test_unknown_item_is_404(self):
        """An unknown schedule is a 404 and nothing is recorded."""
        with self.assertRaises(ItemNotFound) as ctx:
            fire("TS-999999")
        self.assertEqual(404, ctx.exception.http_status_code)
        self.assertFalse(frappe.db.exists("BTU Task Log", {"fire_id": f"TS-999999@{DUE}"}))

    def test_disabled_schedule_is_409(self):
        """A disabled schedule is a 409 and nothing is enqueued."""
        self.schedule.enabled = 0
        self.schedule.save()
        with self.assertRaises(ItemDisabled) as ctx:
            fire(self.schedule.name)
        self.assertEqual(409, ctx.exception.http_status_code)

    def test_disabled_task_is_409(self):
        """A schedule of a disabled task is not fired."""
        self.task.enabled = 0
        self.task.save()
        with self.assertRaises(ItemDisabled):
            fire(self.schedule.name)

    def test_mismatched_fire_id_is_400(self):
        """A fire_id that is not {id}@{due} is a bad request."""
        with self.assertRaises(BadFireRequest):
            api.enqueue_scheduled(id=self.schedule.name, kind="cron", due=DUE, fire_id="x")

    def test_missing_and_extra_fields_are_400(self):
        """A body with a missing or an unknown field is a 400 naming the field."""
        name = self.schedule.name
        with self.assertRaisesRegex(BadFireRequest, "missing fire_id"):
            api.enqueue_scheduled(id=name, kind="cron", due=DUE)
        with self.assertRaisesRegex(BadFireRequest, "unknown field 'run_as'"):
            api.enqueue_scheduled(
                id=name, kind="cron", due=DUE, fire_id=f"{name}@{DUE}", run_as="Administrator"
            )
        with self.assertRaisesRegex(BadFireRequest, "due must be an integer"):
            api.enqueue_scheduled(id=name, kind="cron", due=1.5, fire_id=f"{name}@1.5")

    def test_due_that_is_not_an_instant_is_400(self):
        """A due that is not an instant of the schedule is refused; nothing is recorded."""
        with self.assertRaisesRegex(BadFireRequest, "is not an instant of schedule"):
            fire(self.schedule.name, due=DUE + 60_000)
        wrong = f"{self.schedule.name}@{DUE + 60_000}"
        self.assertFalse(frappe.db.exists("BTU Task Log", {"fire_id": wrong}))

    def test_stale_due_is_400(self):
        """An instant older than the late-fire limit (600 s by default) is refused."""
        with self.assertRaisesRegex(BadFireRequest, "older than the late-fire limit"):
            fire(self.schedule.name, lag_ms=601_000)

    def test_wrong_once_instant_is_400(self):
        """A run-later fire at another instant than the item's is refused."""
        item = make_run_later(task=self.task.name)
        with self.assertRaisesRegex(BadFireRequest, "is not the instant of run-later item"):
            fire(item.name, kind="once", due=DUE)

    def test_schedule_queue_override(self):
        """The schedule's queue override is the job's queue."""
        self.schedule.queue_override = "long"
        self.schedule.save()
        fire(self.schedule.name)
        self.assertEqual("long", log_of(f"{self.schedule.name}@{DUE}").queue)

    def test_run_later_goes_in_flight(self):
        """Firing a run-later item marks it In Flight and links its log."""
        item = make_run_later(task=self.task.name)
        fired = fire(item.name, kind="once")
        item.reload()
        self.assertEqual(("In Flight", log_of(fired["fire_id"]).name), (item.status, item.task_log))

    def test_role_is_checked_first(self):
        """A user without BTU Scheduler (or System Manager) gets a 403."""
        user = "btu-test-nobody@example.com"
        if not frappe.db.exists("User", user):
            frappe.get_doc({"doctype": "User", "email": user, "first_name": "Nobody"}).insert(
                ignore_permissions=True
            )
        frappe.set_user(user)
        try:
            with self.assertRaises(frappe.PermissionError):
                name = self.schedule.name
                api.enqueue_scheduled(id=name, kind="cron", due=DUE, fire_id=f"{name}@{DUE}")
        finally:
            frappe.set_user("Administrator")


class TestRunner(FrappeTestCase):
    def run_log(self, **task_values):
        task = make_task(**task_values)
        schedule = make_schedule(task.name)
        fire(schedule.name)
        return task, schedule, f"{schedule.name}@{DUE}"

    def test_success(self):
        """A run records Success with the result, duration and last run on task and schedule."""
        task, schedule, fire_id = self.run_log()
        runner.run_task(log_of(fire_id).name)
        log = log_of(fire_id)
        self.assertEqual(("Success", "3", "Administrator"), (log.status, log.result, log.run_as))
        self.assertGreaterEqual(log.duration, 0)
        self.assertEqual(
            ("Success", "Success"),
            (
                frappe.db.get_value("BTU Task", task.name, "last_outcome"),
                frappe.db.get_value("BTU Task Schedule", schedule.name, "last_outcome"),
            ),
        )

    def test_overrides_are_merged(self):
        """Schedule overrides replace the task's arguments for that schedule's runs."""
        task = make_task()
        schedule = make_schedule(task.name, argument_overrides='{"b": 40}')
        fire(schedule.name)
        runner.run_task(log_of(f"{schedule.name}@{DUE}").name)
        self.assertEqual("41", log_of(f"{schedule.name}@{DUE}").result)

    def test_failure_keeps_output_and_traceback(self):
        """A raising task ends Failed with its stdout, stderr and traceback, and re-raises."""
        _task, _schedule, fire_id = self.run_log(function_path="btu.samples.fail", arguments="")
        with self.assertRaises(TaskFailed):
            runner.run_task(log_of(fire_id).name)
        log = log_of(fire_id)
        self.assertEqual(
            ("Failed", "About to fail.\n", "Something is wrong.\n"),
            (log.status, log.stdout, log.stderr),
        )
        self.assertIn("RuntimeError: This task failed on purpose.", log.traceback)

    def test_second_delivery_does_not_run_again(self):
        """A log that is no longer Queued is not run again."""
        _task, _schedule, fire_id = self.run_log()
        runner.run_task(log_of(fire_id).name)
        finished = log_of(fire_id).modified
        runner.run_task(log_of(fire_id).name)
        self.assertEqual(finished, log_of(fire_id).modified)

    def test_run_later_done(self):
        """A run-later item ends Done after a successful run."""
        task = make_task()
        item = make_run_later(task=task.name)
        fired = fire(item.name, kind="once")
        runner.run_task(log_of(fired["fire_id"]).name)
        self.assertEqual("Done", frappe.db.get_value("BTU Run Later", item.name, "status"))

    def test_failure_callback_marks_timeout(self):
        """RQ's failure callback closes a log left In Progress by a time limit as Timeout."""
        _task, _schedule, fire_id = self.run_log()
        log = log_of(fire_id)
        log.db_set({"status": "In Progress", "started": now_datetime()})
        job = SimpleNamespace(
            id=log.job_id,
            kwargs={
                "site": frappe.local.site,
                "method": "btu.runner.run_task",
                "kwargs": {"task_log": log.name},
            },
        )
        closed = runner.close_after_failure(
            job, JobTimeoutException("Task exceeded maximum timeout value (300 seconds)")
        )
        log.reload()
        self.assertEqual((True, "Timeout"), (closed, log.status))
        self.assertIn("time limit", log.error)

    def test_email_is_queued_or_noted(self):
        """A failure email goes to the email queue, or the problem is noted on the log."""
        _task, _schedule, fire_id = self.run_log(
            function_path="btu.samples.fail",
            arguments="",
            notifications=[{"address": "ops@example.com", "on_failure": 1}],
        )
        with self.assertRaises(TaskFailed):
            runner.run_task(log_of(fire_id).name)
        log = log_of(fire_id)
        queued = frappe.db.exists("Email Queue", {"reference_name": log.name})
        self.assertTrue(queued or "email not sent" in (log.email_notes or ""))


class TestHousekeeping(FrappeTestCase):
    def test_sweep_closes_a_lost_job(self):
        """A Queued log whose job vanished long ago is closed as Failed with a reason."""
        task = make_task()
        schedule = make_schedule(task.name)
        fire(schedule.name)
        log = log_of(f"{schedule.name}@{DUE}")
        old = add_to_date(now_datetime(), hours=-2)
        frappe.db.set_value("BTU Task Log", log.name, "creation", old, update_modified=False)
        try:
            get_redis_conn().ping()
        except REDIS_ERRORS as e:
            self.skipTest(f"RQ Redis unavailable: {e}")
        housekeeping.sweep_stale_logs()
        log.reload()
        self.assertEqual("Failed", log.status)
        self.assertIn("disappeared", log.error)

    def test_purge_respects_retention(self):
        """Logs older than the retention are deleted, newer ones kept."""
        task = make_task()
        schedule = make_schedule(task.name)
        fire(schedule.name, due=DUE)
        fire(schedule.name, due=DUE + DAY_MS)
        old = log_of(f"{schedule.name}@{DUE}")
        frappe.db.set_value(
            "BTU Task Log",
            old.name,
            "creation",
            add_to_date(now_datetime(), days=-400),
            update_modified=False,
        )
        frappe.db.set_single_value("BTU Configuration", "log_retention_days", 30)
        housekeeping.purge_old_logs()
        newer = {"fire_id": f"{schedule.name}@{DUE + DAY_MS}"}
        self.assertEqual(
            (False, True),
            (
                bool(frappe.db.exists("BTU Task Log", old.name)),
                bool(frappe.db.exists("BTU Task Log", newer)),
            ),
        )
