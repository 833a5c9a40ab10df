"""Tasks and schedules shipped in hooks.py (btu_tasks), synced as bench migrate does."""

from contextlib import contextmanager
from unittest.mock import patch

import frappe
from frappe.tests.utils import FrappeTestCase

from btu.services.shipped import sync_shipped
from btu.testing import make_task, unique


@contextmanager
def shipping(entries):
    """BTU's hooks.py ships ``entries`` as btu_tasks (other hooks unchanged)."""
    real = frappe.get_hooks

    def fake(hook=None, default="_KEEP_DEFAULT_LIST", app_name=None):
        if hook == "btu_tasks":
            return list(entries) if app_name in (None, "btu") else []
        return real(hook, default, app_name)

    with patch("frappe.get_hooks", side_effect=fake):
        yield


def entry(title, cron="0 7 * * 1", **values):
    return {
        "title": title,
        "function": "btu.samples.hello",
        "arguments": {"name": "digest"},
        "schedules": [{"key": "main", "cron": cron, "time_zone": "Europe/Paris"}],
        **values,
    }


def schedule_of(title):
    name = frappe.db.get_value("BTU Task Schedule", {"source_key": f"{title}#main"})
    return frappe.get_doc("BTU Task Schedule", name)


class TestShippedTasks(FrappeTestCase):
    def test_created_with_its_source(self):
        """A shipped task and schedule are created, showing the app they came from."""
        title = unique("Shipped digest")
        with shipping([entry(title)]):
            result = sync_shipped()
        task = frappe.get_doc("BTU Task", title)
        sched = schedule_of(title)
        self.assertEqual(
            ("btu", "btu.samples.hello", 1, "Administrator"),
            (task.source_app, task.function_path, task.enabled, task.run_as),
        )
        self.assertEqual(
            ("btu", "Cron", "0 7 * * 1", "Europe/Paris", 1),
            (
                sched.source_app,
                sched.frequency,
                sched.cron_expression,
                sched.time_zone,
                sched.enabled,
            ),
        )
        self.assertEqual([], result["problems"])

    def test_desk_edits_survive_migrates(self):
        """Enabled, cron and time zone changed in the Desk survive two migrates, even when
        the app changes the cron; an untouched field (arguments) follows the app."""
        title = unique("Shipped digest")
        with shipping([entry(title)]):
            sync_shipped()
        sched = schedule_of(title)
        sched.update({"enabled": 0, "cron_expression": "30 6 * * *", "time_zone": "Asia/Tokyo"})
        sched.save()
        with shipping([entry(title)]):
            sync_shipped()
        with shipping([entry(title, cron="0 9 * * *", arguments={"name": "v2"})]):
            sync_shipped()
        sched = schedule_of(title)
        self.assertEqual(
            (0, "30 6 * * *", "Asia/Tokyo"),
            (sched.enabled, sched.cron_expression, sched.time_zone),
        )
        self.assertEqual(
            {"name": "v2"}, frappe.parse_json(frappe.db.get_value("BTU Task", title, "arguments"))
        )

    def test_untouched_schedule_follows_the_app(self):
        title = unique("Shipped digest")
        with shipping([entry(title)]):
            sync_shipped()
        with shipping([entry(title, cron="0 9 * * *")]):
            sync_shipped()
        self.assertEqual("0 9 * * *", schedule_of(title).cron_expression)

    def test_removed_hook_disables_never_deletes(self):
        """A task no longer shipped is disabled with its schedule, once: a manager may
        enable it again and the next migrate leaves it enabled."""
        title = unique("Shipped digest")
        with shipping([entry(title)]):
            sync_shipped()
        with shipping([]):
            sync_shipped()
        sched = schedule_of(title)
        self.assertEqual((0, 0), (frappe.db.get_value("BTU Task", title, "enabled"), sched.enabled))
        frappe.db.set_value("BTU Task", title, "enabled", 1)
        with shipping([]):
            sync_shipped()
        self.assertEqual(1, frappe.db.get_value("BTU Task", title, "enabled"))

    def test_bad_task_is_skipped_others_synced(self):
        """An undeclared function is reported and skipped; the other task is created."""
        good, bad = unique("Shipped good"), unique("Shipped bad")
        entries = [entry(bad, function="btu.samples.undeclared"), entry(good)]
        with shipping(entries):
            result = sync_shipped()
        self.assertEqual(
            (True, False),
            (
                bool(frappe.db.exists("BTU Task", good)),
                bool(frappe.db.exists("BTU Task", bad)),
            ),
        )
        self.assertIn("not declared runnable", " ".join(result["problems"]))

    def test_existing_task_of_a_manager_is_not_taken_over(self):
        """A task of the same name the app did not create is left alone, and reported."""
        task = make_task()
        with shipping([entry(task.name)]):
            result = sync_shipped()
        self.assertIn("was not created by btu", " ".join(result["problems"]))
        self.assertFalse(frappe.db.get_value("BTU Task", task.name, "source_app"))
