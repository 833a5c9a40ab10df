"""btu.api.enqueue_batch on a real site: per-fire answers, one record per fire_id, Run
Later items In Flight, and a refused Redis pipeline undone."""

import uuid
from unittest.mock import patch

import frappe
import redis
from frappe.tests.utils import FrappeTestCase
from frappe.utils import get_system_timezone
from frappe.utils.background_jobs import get_redis_conn
from rq.job import Job

from btu import api
from btu.core.timeconv import from_epoch_ms, to_epoch_ms
from btu.exceptions import BadFireRequest
from btu.redis_conn import REDIS_ERRORS
from btu.services import batch_firing
from btu.testing import acting_as, make_run_later, make_schedule, make_task, make_user

# 2027-03-15 07:30 Europe/Paris: an instant of the test schedules (Daily at 07:30 there).
DUE = 1_805_092_200_000
LOG = "BTU Task Log"


def request(item: str, due: int, kind: str = "cron") -> dict:
    return {"id": item, "kind": kind, "due": due, "fire_id": f"{item}@{due}"}


def run_later(task: str, offset_ms: int = 5_000):
    """A run-later item of ``task`` due ``offset_ms`` after DUE (the site's clock is put
    just after DUE in these tests: a fire is refused ahead of the clock or too late)."""
    return make_run_later(task=task, run_at=from_epoch_ms(DUE + offset_ms, get_system_timezone()))


def once(item) -> dict:
    """A fire of run-later ``item`` at its own instant (as the database holds it)."""
    run_at = frappe.db.get_value("BTU Run Later", item.name, "run_at")
    return request(item.name, to_epoch_ms(run_at, get_system_timezone()), "once")


def fire_batch(fires: list, now_ms: int = DUE + 1000):
    """Fire ``fires`` in one batch as the daemon would, at ``now_ms``; the jobs are not
    enqueued (the mock records them)."""
    with (
        patch("btu.services.rq_batch.enqueue") as enqueue,
        patch("btu.services.publishing.now_ms", return_value=now_ms),
    ):
        answer = api.enqueue_batch(fires=fires)
    return answer["results"], enqueue


def logs_of(fire_id: str) -> list:
    return frappe.get_all(LOG, filters={"fire_id": fire_id}, fields=["name", "job_id", "status"])


class TestEnqueueBatch(FrappeTestCase):
    def setUp(self):
        self.task = make_task()
        self.schedule = make_schedule(self.task.name)

    def test_mixed_batch_answers_per_fire_in_order(self):
        """Valid cron and once fires are recorded and enqueued; an unknown item (404), a
        disabled schedule (409) and a bad due (400) get their own answers, in order."""
        item = run_later(self.task.name)
        off = make_schedule(self.task.name, enabled=0)
        fires = [
            request(self.schedule.name, DUE),
            once(item),
            request("TS-999999", DUE),
            request(off.name, DUE),
            request(self.schedule.name, DUE + 60_000),
        ]
        results, enqueue = fire_batch(fires)
        self.assertEqual([f["fire_id"] for f in fires], [r["fire_id"] for r in results])
        site = frappe.local.site
        self.assertEqual(
            [
                (f"{site}::{self.schedule.name}_{DUE}", False),
                (f"{site}::{fires[1]['id']}_{fires[1]['due']}", False),
            ],
            [(r["job_id"], r["duplicate"]) for r in results[:2]],
        )
        self.assertEqual([404, 409, 400], [r["error"]["status"] for r in results[2:]])
        self.assertIn("is not an instant of schedule", results[4]["error"]["message"])
        cron_log = frappe.get_doc(LOG, {"fire_id": fires[0]["fire_id"]})
        self.assertEqual(
            ("Queued", "Schedule", self.task.name, self.schedule.name, "default", 300, 1),
            (
                cron_log.status,
                cron_log.triggered_by,
                cron_log.task,
                cron_log.schedule,
                cron_log.queue,
                cron_log.time_limit,
                cron_log.attempt,
            ),
        )
        self.assertRegex(cron_log.name, r"^TL-\d{8}$")
        self.assertEqual([], logs_of(fires[3]["fire_id"]) + logs_of(fires[4]["fire_id"]))
        (enqueued,) = enqueue.call_args.args
        self.assertEqual([fires[0]["fire_id"], fires[1]["fire_id"]], [r.fire_id for r in enqueued])

    def test_repeated_batch_is_duplicate_and_records_nothing_twice(self):
        """The same batch again answers duplicate for every fire and enqueues nothing."""
        item = run_later(self.task.name)
        fires = [request(self.schedule.name, DUE), once(item)]
        first, _ = fire_batch(fires)
        again, enqueue = fire_batch(fires)
        self.assertEqual(
            [(r["job_id"], True) for r in first], [(r["job_id"], r["duplicate"]) for r in again]
        )
        self.assertEqual([1, 1], [len(logs_of(f["fire_id"])) for f in fires])
        enqueue.assert_not_called()

    def test_repeat_within_one_batch(self):
        """A fire_id twice in one batch is recorded once; the second is a duplicate."""
        fires = [request(self.schedule.name, DUE)] * 2
        results, _ = fire_batch(fires)
        self.assertEqual([False, True], [r["duplicate"] for r in results])
        self.assertEqual(1, len(logs_of(fires[0]["fire_id"])))

    def test_concurrent_record_is_a_duplicate(self):
        """A fire_id recorded by another request after this batch looked (a race) is not
        recorded again: the unique fire_id wins and the fire answers duplicate."""
        fire = request(self.schedule.name, DUE)
        first, _ = fire_batch([fire])
        real = batch_firing._logs_of

        def race(fire_ids, lock=False):
            return real(fire_ids, lock) if lock else []  # the other request not seen yet

        with patch("btu.services.batch_firing._logs_of", side_effect=race):
            again, enqueue = fire_batch([fire])
        self.assertEqual(
            [(first[0]["job_id"], True)], [(again[0]["job_id"], again[0]["duplicate"])]
        )
        self.assertEqual(1, len(logs_of(fire["fire_id"])))
        self.assertEqual([], enqueue.call_args.args[0])

    def test_run_later_items_go_in_flight(self):
        """Fired run-later items are In Flight and linked to their logs."""
        items = [run_later(self.task.name, 5_000 + i) for i in range(3)]
        results, _ = fire_batch([once(i) for i in items])
        self.assertEqual([False] * 3, [r["duplicate"] for r in results])
        for item, result in zip(items, results, strict=True):
            log = frappe.get_doc(LOG, {"fire_id": result["fire_id"]})
            item.reload()
            self.assertEqual(("In Flight", log.name), (item.status, item.task_log))

    def test_names_continue_the_series(self):
        """Batch logs take consecutive names of the series; a later single fire continues it."""
        other = make_schedule(self.task.name)
        results, _ = fire_batch([request(self.schedule.name, DUE), request(other.name, DUE)])
        names = [frappe.db.get_value(LOG, {"fire_id": r["fire_id"]}, "name") for r in results]
        numbers = [int(n.split("-")[1]) for n in names]
        self.assertEqual(numbers[0] + 1, numbers[1])
        single = frappe.get_doc(
            {"doctype": LOG, "fire_id": f"manual-{uuid.uuid4().hex}", "status": "Queued"}
        ).insert(ignore_permissions=True)
        self.assertGreater(int(single.name.split("-")[1]), numbers[1])

    def test_redis_refusal_is_503_and_undone(self):
        """When Redis refuses the pipeline, the batch's logs are deleted, its run-later
        items are Pending again and those fires answer 503; other answers stand."""
        item = run_later(self.task.name)
        fires = [request(self.schedule.name, DUE), once(item), request("TS-999999", DUE)]
        refused = redis.exceptions.ConnectionError("Connection refused")
        with (
            patch("redis.client.Pipeline.execute", side_effect=refused),
            patch("btu.services.publishing.now_ms", return_value=DUE + 1000),
        ):
            results = api.enqueue_batch(fires=fires)["results"]
        self.assertEqual([503, 503, 404], [r["error"]["status"] for r in results])
        self.assertIn("did not accept", results[0]["error"]["message"])
        self.assertEqual([], logs_of(fires[0]["fire_id"]) + logs_of(fires[1]["fire_id"]))
        item.reload()
        self.assertEqual(("Pending", None), (item.status, item.task_log))
        # The daemon's retry then goes through.
        again, _ = fire_batch(fires[:2])
        self.assertEqual([False, False], [r["duplicate"] for r in again])

    def test_job_is_the_single_endpoints_job(self):
        """The RQ job a batch enqueues is the one frappe.enqueue makes for a single fire:
        same function, kwargs (site, user, method, task log), timeout, TTLs and callback."""
        try:
            get_redis_conn().ping()
        except REDIS_ERRORS as e:
            self.skipTest(f"RQ Redis unavailable: {e}")
        other = make_schedule(self.task.name)
        # An instant no other test fires: these jobs really reach RQ (and may outlive the
        # test, finished by the worker), so their ids must not be another test's.
        due = DUE - 98 * 86_400_000
        with patch("btu.services.publishing.now_ms", return_value=due + 1000):
            batched = api.enqueue_batch(fires=[request(self.schedule.name, due)])["results"][0]
            single = api.enqueue_scheduled(**request(other.name, due))
        conn = get_redis_conn()
        jobs = [Job.fetch(batched["job_id"], connection=conn)]
        jobs.append(Job.fetch(single["job_id"], connection=conn))
        try:
            shape = [
                (
                    j.func_name,
                    {k: v for k, v in j.kwargs.items() if k != "kwargs"},
                    sorted(j.kwargs["kwargs"]),
                    j.timeout,
                    j.result_ttl,
                    j.failure_ttl,
                    j._failure_callback_name,
                    j.origin,
                )
                for j in jobs
            ]
            self.assertEqual(shape[1], shape[0])
            log = frappe.db.get_value(LOG, {"fire_id": f"{self.schedule.name}@{due}"}, "name")
            self.assertEqual({"task_log": log}, jobs[0].kwargs["kwargs"])
        finally:
            for job in jobs:
                job.delete()

    def test_malformed_batch_is_400(self):
        """A batch that is not a list of objects is refused as a whole, naming why."""
        with self.assertRaisesRegex(BadFireRequest, "fires must be a list"):
            api.enqueue_batch(fires={"id": "x"})
        with self.assertRaisesRegex(BadFireRequest, r"fires\[0\] must be an object"):
            api.enqueue_batch(fires=["TS-000001"])
        with self.assertRaisesRegex(BadFireRequest, "at most 500"):
            api.enqueue_batch(fires=[{}] * 501)

    def test_role_is_checked_first(self):
        """A user without BTU Scheduler (or System Manager) gets a 403."""
        user = make_user("btu-test-batch-nobody@example.com")
        with acting_as(user), self.assertRaises(frappe.PermissionError):
            api.enqueue_batch(fires=[request(self.schedule.name, DUE)])


class TestPublishMany(FrappeTestCase):
    def test_current_events_match_one_by_one(self):
        """The events published after a batch's commit, built with a few queries, are the
        ones built item by item: schedules, run-later items (Pending, In Flight, with a
        disabled task), and a deleted item."""
        from btu.services import publishing

        task = make_task()
        off = make_task(enabled=0)
        items = [
            ("BTU Task Schedule", make_schedule(task.name).name),
            ("BTU Task Schedule", make_schedule(off.name).name),
            ("BTU Run Later", make_run_later(task=task.name).name),
            ("BTU Run Later", make_run_later(task=off.name).name),
            ("BTU Run Later", make_run_later(function_path="btu.samples.hello").name),
            ("BTU Run Later", "RL-99999999"),
        ]
        frappe.db.set_value("BTU Run Later", items[2][1], "status", "In Flight")
        with patch("btu.services.publishing.now_ms", return_value=DUE):
            one_by_one = [publishing.current_event(d, n) for d, n in sorted(items)]
            self.assertEqual(one_by_one, publishing.current_events(set(items)))
