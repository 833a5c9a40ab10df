"""What a run costs beyond the task itself: Task Log writes without document hooks, one
commit per phase, emails (and their commits) only when a recipient listens."""

from unittest.mock import patch

import frappe
from frappe.database.query import Engine
from frappe.model.document import Document
from frappe.tests.utils import FrappeTestCase

from btu import api, runner
from btu.testing import make_schedule, make_task

# 2027-03-15 07:30 Europe/Paris: an instant of the test schedules (Daily at 07:30 there).
DUE = 1_805_092_200_000
LOG = "BTU Task Log"
RUN_METHOD = Document.run_method


def queued_log(**task_values) -> str:
    """The name of a Queued Task Log of a fresh task's schedule, fired as the daemon would."""
    task = make_task(**task_values)
    schedule = make_schedule(task.name)
    with (
        patch("btu.services.firing.enqueue_job", side_effect=lambda log: log.job_id),
        patch("btu.services.publishing.now_ms", return_value=DUE + 1000),
    ):
        api.enqueue_scheduled(
            id=schedule.name, kind="cron", due=DUE, fire_id=f"{schedule.name}@{DUE}"
        )
    return frappe.db.get_value(LOG, {"fire_id": f"{schedule.name}@{DUE}"}, "name")


def run_counting(name: str):
    """Run ``name``; returns (commits, Document hook runs) it caused."""
    with (
        patch("btu.services.txn.commit") as commit,
        patch.object(Document, "run_method", autospec=True, side_effect=RUN_METHOD) as hooks,
    ):
        runner.run_task(name)
    methods = [c.args[1] for c in hooks.call_args_list if c.args[0].doctype == LOG]
    return commit.call_count, methods


class TestRunCost(FrappeTestCase):
    def test_status_writes_skip_document_hooks(self):
        """Queued -> In Progress -> Success runs no Task Log hooks (no before_change or
        on_change, hence no Notification evaluation) and still moves ``modified``."""
        name = queued_log()
        before = frappe.db.get_value(LOG, name, "modified")
        with patch.object(Document, "run_notifications") as notifications:
            _commits, methods = run_counting(name)
        self.assertEqual([], methods)
        notifications.assert_not_called()
        log = frappe.get_doc(LOG, name)
        self.assertEqual("Success", log.status)
        self.assertGreaterEqual(log.modified, before)
        self.assertEqual(frappe.session.user, log.modified_by)

    def test_one_commit_per_phase_without_listeners(self):
        """Without recipients a run commits twice: In Progress, then its outcome."""
        commits, _methods = run_counting(queued_log())
        self.assertEqual(2, commits)

    def test_listener_adds_its_commit(self):
        """A recipient of start emails costs one more commit, for the queued email."""
        name = queued_log(notifications=[{"address": "ops@example.com", "on_start": 1}])
        with patch("btu.services.notifications.frappe.sendmail") as sendmail:
            commits, _methods = run_counting(name)
        self.assertEqual((3, 1), (commits, sendmail.call_count))

    def test_recipients_read_once(self):
        """The task's recipients are read once per run, not once per email event."""
        name = queued_log(notifications=[{"address": "ops@example.com", "on_success": 1}])
        with (
            patch("btu.services.notifications.frappe.sendmail"),
            patch(
                "btu.services.notifications.recipient_rows",
                wraps=runner.notifications.recipient_rows,
            ) as rows,
        ):
            runner.run_task(name)
        self.assertEqual(1, rows.call_count)

    def test_no_recipients_no_recipient_read(self):
        """A task without email recipients (counted with the log's first read) does not
        read its recipient rows at all."""
        name = queued_log()
        with patch(
            "btu.services.notifications.recipient_rows",
            wraps=runner.notifications.recipient_rows,
        ) as rows:
            runner.run_task(name)
        self.assertEqual(0, rows.call_count)
        self.assertEqual("Success", frappe.db.get_value(LOG, name, "status"))

    def test_run_skips_frappe_query_layer(self):
        """The runner reads and writes with plain SQL: no query goes through Frappe's
        query engine (``frappe.db.get_value``/``set_value``) or ``frappe.get_all``,
        whose modules a bare ``frappe.ping`` job never imports."""
        name = queued_log()
        with (
            patch.object(Engine, "get_query", autospec=True, side_effect=Engine.get_query) as qb,
            patch("frappe.get_all", wraps=frappe.get_all) as get_all,
        ):
            runner.run_task(name)
        self.assertEqual((0, 0), (qb.call_count, get_all.call_count))
        self.assertEqual("Success", frappe.db.get_value(LOG, name, "status"))

    def test_gone_log_runs_nothing(self):
        """A job whose Task Log is gone logs a warning and runs nothing (no error left)."""
        runner.run_task("TL-99999999")
        self.assertFalse(frappe.db.exists(LOG, "TL-99999999"))
