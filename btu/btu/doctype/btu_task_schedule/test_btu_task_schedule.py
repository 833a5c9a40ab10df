import frappe
import orjson
from frappe.tests.utils import FrappeTestCase

from btu.services import publishing
from btu.testing import fake_daemon, isolated_keys, make_schedule, make_task, pending_publishes


class TestBTUTaskSchedule(FrappeTestCase):
    def setUp(self):
        self.task = make_task()

    def test_name_series(self):
        """Schedules are named TS-000001 and so on."""
        self.assertRegex(make_schedule(self.task.name).name, r"^TS-\d{6}$")

    def test_names_are_not_reused(self):
        """Deleting the newest schedule does not give its name to the next one."""
        first = make_schedule(self.task.name)
        frappe.delete_doc(first.doctype, first.name)
        self.assertNotEqual(first.name, make_schedule(self.task.name).name)

    def test_frequency_helper_writes_the_expression(self):
        """The helper fields are turned into the cron expression and a description."""
        schedule = make_schedule(
            self.task.name, frequency="Weekly", weekday="Friday", time_of_day="18:00:00"
        )
        self.assertEqual("0 18 * * 5", schedule.cron_expression)
        self.assertTrue(schedule.description)

    def test_monthly_and_yearly(self):
        """Monthly and Yearly options produce their expressions."""
        monthly = make_schedule(self.task.name, frequency="Monthly", day_of_month=31)
        yearly = make_schedule(
            self.task.name, frequency="Yearly", day_of_month=29, month="February"
        )
        self.assertEqual(
            ("30 7 31 * *", "30 7 29 2 *"), (monthly.cron_expression, yearly.cron_expression)
        )
        self.assertIn("leap years", yearly.description)

    def test_invalid_cron_blocks_the_save(self):
        """An invalid cron expression blocks the save with the engine's message."""
        with self.assertRaisesRegex(frappe.ValidationError, "minute"):
            make_schedule(self.task.name, frequency="Cron", cron_expression="61 * * * *")

    def test_invalid_zone_blocks_the_save(self):
        """An unknown time zone blocks the save."""
        with self.assertRaisesRegex(frappe.ValidationError, "unknown time zone"):
            make_schedule(self.task.name, time_zone="Mars/Base")

    def test_default_zone(self):
        """Without a zone, the configured default (or the system zone) is used."""
        from btu.services.config import default_time_zone

        schedule = make_schedule(self.task.name, time_zone="")
        self.assertEqual(default_time_zone(), schedule.time_zone)

    def test_next_runs_are_listed(self):
        """The read-only Next Runs field lists five instants in the schedule's zone."""
        schedule = make_schedule(self.task.name)
        runs = schedule.next_runs.splitlines()
        self.assertEqual((5, True), (len(runs), all("07:30:00+0" in r for r in runs)))

    def test_overrides_are_checked_against_the_function(self):
        """Overrides merged over the task's arguments must still fit the function."""
        with self.assertRaisesRegex(frappe.ValidationError, "does not accept 'c'"):
            make_schedule(self.task.name, argument_overrides='{"c": 3}')
        schedule = make_schedule(self.task.name, argument_overrides='{"b": 40}')
        self.assertEqual('{"b": 40}', schedule.argument_overrides)

    def test_save_queues_a_publish(self):
        """Saving queues the schedule for publishing after the commit."""
        frappe.local.btu_publish_pending = None
        schedule = make_schedule(self.task.name)
        self.assertIn(("BTU Task Schedule", schedule.name), pending_publishes())

    def test_flush_publishes_the_upsert(self):
        """After the commit the state hash holds the schedule as the protocol says."""
        schedule = make_schedule(self.task.name)
        with isolated_keys() as (r, keys):
            publishing._flush()
            stored = orjson.loads(r.hget(keys.state, schedule.name))
        expected = {
            "v": "1",
            "op": "upsert",
            "id": schedule.name,
            "kind": "cron",
            "task": self.task.name,
            "cron": "30 7 * * *",
            "tz": "Europe/Paris",
            "enabled": "1",
        }
        self.assertEqual(expected, {k: v for k, v in stored.items() if k != "ts"})

    def test_confirm_without_scheduler_says_so(self):
        """With no scheduler running, the form is told the change applies when it is back."""
        schedule = make_schedule(self.task.name)
        with isolated_keys():
            answer = publishing.confirm(schedule.doctype, schedule.name)
        self.assertEqual("warning", answer["level"])
        self.assertIn("not reachable", answer["message"])

    def test_confirm_shows_the_scheduler_answer(self):
        """With a scheduler answering, the form shows 'Armed' and the next run."""
        schedule = make_schedule(self.task.name)
        data = {"id": schedule.name, "armed": True, "next": ["2027-03-15T07:30:00+01:00"]}
        with isolated_keys() as (r, keys), fake_daemon(r, keys, lambda req: data):
            answer = publishing.confirm(schedule.doctype, schedule.name)
        self.assertEqual(
            ("ok", "Armed. Next run: 2027-03-15 07:30 (UTC+01:00)."),
            (answer["level"], answer["message"]),
        )
