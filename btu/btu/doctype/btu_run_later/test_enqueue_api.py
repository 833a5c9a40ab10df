"""The Python API (btu.enqueue_at / enqueue_in / cancel / get_item) on a real site."""

import datetime as dt
from unittest.mock import patch
from zoneinfo import ZoneInfo

import frappe
from frappe.tests.utils import FrappeTestCase
from frappe.utils import add_to_date, get_system_timezone, now_datetime

import btu
from btu.services import publishing
from btu.testing import acting_as, isolated_keys, make_user, pending_publishes, unique
from streams.messages import ScheduleUpsert


class TestEnqueueApi(FrappeTestCase):
    def test_enqueue_in_creates_a_visible_item(self):
        """enqueue_in makes a Pending Run Later item with the options as its fields and
        the other keyword arguments as the function's."""
        name = btu.enqueue_in(
            dt.timedelta(minutes=10), "btu.samples.hello", queue="short", timeout=60, name="A"
        )
        doc = frappe.get_doc("BTU Run Later", name)
        expected = ("Pending", "btu.samples.hello", '{"name":"A"}', "short", 60.0, "Administrator")
        self.assertEqual(
            expected,
            (doc.status, doc.function_path, doc.arguments, doc.queue, doc.max_duration, doc.run_as),
        )
        delta = frappe.utils.get_datetime(doc.run_at) - now_datetime()
        self.assertTrue(dt.timedelta(minutes=9) < delta <= dt.timedelta(minutes=10))

    def test_enqueue_at_converts_an_aware_instant(self):
        """An aware datetime is stored as the system zone's wall time."""
        at = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).replace(microsecond=0)
        name = btu.enqueue_at(btu_samples_add(), at, a=1, b=2)
        run_at = frappe.db.get_value("BTU Run Later", name, "run_at")
        wall = at.astimezone(ZoneInfo(get_system_timezone())).replace(tzinfo=None)
        self.assertEqual(wall, run_at)

    def test_published_after_commit(self):
        """The item is queued for publishing after the commit, not published at once."""
        name = btu.enqueue_in(60, "btu.samples.hello")
        self.assertIn(("BTU Run Later", name), pending_publishes())

    def test_unique_key_is_idempotent(self):
        """A second call with the same unique key returns the first item, creating none."""
        key = unique("digest")
        first = btu.enqueue_in(60, "btu.samples.hello", unique_key=key)
        count = frappe.db.count("BTU Run Later")
        second = btu.enqueue_in(120, "btu.samples.hello", unique_key=key)
        self.assertEqual((first, count), (second, frappe.db.count("BTU Run Later")))
        self.assertEqual(first, btu.get_item(key)["name"])

    def test_undeclared_function_refused(self):
        """A function no app declared is refused with the declaration's message."""
        with self.assertRaisesRegex(frappe.ValidationError, "not declared runnable"):
            btu.enqueue_in(60, "frappe.utils.now")

    def test_bad_arguments_refused(self):
        """Arguments the function does not accept are named."""
        with self.assertRaisesRegex(frappe.ValidationError, "does not accept 'c'"):
            btu.enqueue_in(60, "btu.samples.add", a=1, b=2, c=3)

    def test_bad_option_refused(self):
        with self.assertRaisesRegex(frappe.ValidationError, "delta must be a timedelta"):
            btu.enqueue_in("btu.samples.hello", 60)

    def test_past_instant_refused(self):
        with self.assertRaisesRegex(frappe.ValidationError, "in the past"):
            btu.enqueue_at("btu.samples.hello", add_to_date(now_datetime(), hours=-1))

    def test_run_as_rules(self):
        """A user without System Manager may enqueue as themselves, not as another user."""
        user = make_user("btu-api-user@example.com", "BTU User")
        with acting_as(user):
            mine = btu.enqueue_in(60, "btu.samples.whoami")
            with self.assertRaisesRegex(frappe.PermissionError, "only Administrator"):
                btu.enqueue_in(60, "btu.samples.whoami", run_as="Administrator")
        self.assertEqual(user, frappe.db.get_value("BTU Run Later", mine, "run_as"))

    def test_guest_refused(self):
        with acting_as("Guest"):
            with self.assertRaisesRegex(frappe.ValidationError, "cannot run as Guest"):
                btu.enqueue_in(60, "btu.samples.hello")

    def test_cancel_by_unique_key(self):
        """cancel() finds the item by its key, cancels it once, and says so."""
        key = unique("cancel-me")
        name = btu.enqueue_in(60, "btu.samples.hello", unique_key=key)
        self.assertEqual((True, False), (btu.cancel(key), btu.cancel(name)))
        self.assertEqual("Cancelled", btu.get_item(name)["status"])

    def test_cancel_unknown(self):
        with self.assertRaises(frappe.DoesNotExistError):
            btu.cancel(unique("nothing"))
        self.assertIsNone(btu.get_item(unique("nothing")))

    def test_many_calls_flush_in_one_pipeline(self):
        """200 calls in one transaction: the flush reads Redis once and writes once,
        and each item's event is the one current_event gives."""
        names = [btu.enqueue_in(300, "btu.samples.hello") for _ in range(200)]
        pending = {("BTU Run Later", n) for n in names}
        batched = publishing.current_events(pending)
        single = [publishing.current_event("BTU Run Later", n) for n in sorted(names)]
        self.assertEqual(
            [(e.id, e.at, e.enabled) for e in single], [(e.id, e.at, e.enabled) for e in batched]
        )
        queued = pending_publishes()  # with what earlier tests left queued
        self.assertLessEqual(pending, queued)
        upserts = [e for e in publishing.current_events(queued) if isinstance(e, ScheduleUpsert)]
        with isolated_keys() as (r, keys):
            calls = []
            real = r.pipeline

            def counting(*a, **k):
                calls.append("pipeline")
                return real(*a, **k)

            with patch.object(r, "pipeline", side_effect=counting):
                publishing._flush()
            self.assertEqual((["pipeline"], len(upserts)), (calls, r.hlen(keys.state)))


def btu_samples_add() -> str:
    return "btu.samples.add"
