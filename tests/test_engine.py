"""The daemon's pure core (btu_scheduler/engine.py) under a fake clock: plain int ``now_ms``.

T0 is 2027-01-15T08:00:00Z, on an hour boundary; the grace period is 5 minutes.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from btu_scheduler.catchup import latest_at_or_before
from btu_scheduler.engine import Engine, Fire
from streams.cron import compile_schedule
from streams.errors import CronError
from streams.keys import Kind
from streams.messages import ScheduleDelete, ScheduleUpsert

T0 = 1_800_000_000_000  # 2027-01-15T08:00:00Z
SEC = 1_000
MIN = 60 * SEC
HOUR = 60 * MIN
GRACE = 5 * MIN


def ms(text: str) -> int:
    """Epoch ms of an ISO 8601 instant with an offset."""
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def cron(
    item_id: str = "TS-1",
    expr: str = "* * * * *",
    tz: str = "UTC",
    *,
    enabled: bool = True,
    ts: int = T0,
    task: str = "task",
) -> ScheduleUpsert:
    return ScheduleUpsert(
        id=item_id, kind=Kind.CRON, task=task, enabled=enabled, ts=ts, cron=expr, tz=tz
    )


def once(
    item_id: str = "RL-1", at: int = T0 + HOUR, *, enabled: bool = True, ts: int = T0
) -> ScheduleUpsert:
    return ScheduleUpsert(id=item_id, kind=Kind.ONCE, task="task", enabled=enabled, ts=ts, at=at)


def fires_of(fires: list[Fire]) -> list[tuple[str, int, bool]]:
    return [(f.id, f.due, f.missed) for f in fires]


@pytest.fixture
def engine() -> Engine:
    return Engine(grace_ms=GRACE)


def due_of(engine: Engine, item_id: str) -> int | None:
    item = engine.armed.get(item_id)
    assert item is not None, f"{item_id} is not known"
    return item.due


class TestApply:
    def test_upsert_arms_strictly_after_now(self, engine: Engine) -> None:
        """An upsert at exactly a fire instant arms the item at the following instant."""
        applied = engine.apply(cron(), T0)
        assert ("armed", T0 + MIN, T0 + MIN) == (applied.action, applied.due, engine.next_due())

    def test_upsert_between_instants(self, engine: Engine) -> None:
        """An upsert between two instants arms the item at the next one."""
        applied = engine.apply(cron(expr="*/15 * * * *"), T0 + 1)
        assert ("armed", T0 + 15 * MIN) == (applied.action, applied.due)

    def test_unchanged_upsert_keeps_due(self, engine: Engine) -> None:
        """An upsert that changes nothing about timing keeps the current instant and spec."""
        engine.apply(cron(expr="0 * * * *"), T0 + 1)
        applied = engine.apply(cron(expr="0 * * * *", ts=T0 + 2, task="renamed"), T0 + 2 * HOUR)
        item = engine.armed.get("TS-1")
        assert item is not None
        assert ("unchanged", T0 + HOUR, "renamed", 1) == (
            applied.action,
            item.due,
            item.spec.task,
            engine.armed.armed,
        )

    @pytest.mark.parametrize(
        ("changed", "expected_due"),
        [
            pytest.param(cron(expr="*/5 * * * *"), T0 + 5 * MIN, id="cron"),
            pytest.param(cron(expr="0 * * * *", tz="Asia/Kolkata"), T0 + 30 * MIN, id="tz"),
        ],
    )
    def test_changed_timing_rearms(
        self, engine: Engine, changed: ScheduleUpsert, expected_due: int
    ) -> None:
        """Changing the expression or the zone re-arms at the new schedule's next instant."""
        engine.apply(cron(expr="0 * * * *"), T0)
        applied = engine.apply(changed, T0 + 1)
        assert ("rearmed", expected_due, 1, [(expected_due, "TS-1")]) == (
            applied.action,
            applied.due,
            engine.armed.armed,
            engine.upcoming(10),
        )

    def test_disabled_upsert_disarms_but_keeps(self, engine: Engine) -> None:
        """enabled=0 disarms the item but keeps it known; nothing fires afterwards."""
        engine.apply(cron(), T0)
        applied = engine.apply(cron(enabled=False), T0 + 1)
        assert ("disarmed", None, 1, 0, None, []) == (
            applied.action,
            due_of(engine, "TS-1"),
            len(engine.armed),
            engine.armed.armed,
            engine.next_due(),
            engine.due(T0 + HOUR),
        )

    def test_reenable_rearms(self, engine: Engine) -> None:
        """Enabling a disabled item arms it at its next instant after now."""
        engine.apply(cron(enabled=False), T0)
        applied = engine.apply(cron(), T0 + 90 * SEC)
        assert ("rearmed", T0 + 2 * MIN) == (applied.action, applied.due)

    def test_delete_removes(self, engine: Engine) -> None:
        """A delete forgets the item; deleting an unknown id reports 'unknown'."""
        engine.apply(cron(), T0)
        removed = engine.apply(ScheduleDelete(id="TS-1", ts=T0), T0 + 1)
        unknown = engine.apply(ScheduleDelete(id="TS-1", ts=T0), T0 + 2)
        assert ("removed", "unknown", None, 0, 0, []) == (
            removed.action,
            unknown.action,
            engine.armed.get("TS-1"),
            len(engine.armed),
            engine.armed.armed,
            engine.due(T0 + HOUR),
        )

    def test_invalid_cron_raises_and_disarms(self, engine: Engine) -> None:
        """An upsert with an invalid expression raises CronError and disarms the old item."""
        engine.apply(cron(), T0)
        with pytest.raises(CronError):
            engine.apply(cron(expr="61 * * * *"), T0 + 1)
        item = engine.armed.get("TS-1")
        assert (0, None, None, []) == (
            engine.armed.armed,
            engine.next_due(),
            None if item is None else item.due,
            engine.due(T0 + HOUR),
        )

    def test_invalid_zone_raises(self, engine: Engine) -> None:
        """An upsert with an unknown zone raises CronError and arms nothing."""
        with pytest.raises(CronError):
            engine.apply(cron(tz="Mars/Olympus_Mons"), T0)
        assert 0 == engine.armed.armed

    def test_expired_year_field_disarms(self, engine: Engine) -> None:
        """A cron item whose year field is over is kept but never armed."""
        applied = engine.apply(cron(expr="0 0 0 1 1 * 2020"), T0)
        assert ("disarmed", None, 1) == (applied.action, applied.due, len(engine.armed))


class TestCancel:
    def test_cancel_disarms_until_next_upsert(self, engine: Engine) -> None:
        """cancel disarms an armed item; it stays known and does not fire."""
        engine.apply(cron(), T0)
        first, second = engine.cancel("TS-1"), engine.cancel("TS-1")
        assert (True, False, 1, 0, []) == (
            first,
            second,
            len(engine.armed),
            engine.armed.armed,
            engine.due(T0 + HOUR),
        )

    def test_identical_upsert_after_cancel_rearms(self, engine: Engine) -> None:
        """An upsert identical to the cancelled one arms the item again."""
        engine.apply(cron(), T0)
        engine.cancel("TS-1")
        applied = engine.apply(cron(), T0 + 90 * SEC)
        assert ("rearmed", T0 + 2 * MIN, 1) == (applied.action, applied.due, engine.armed.armed)

    def test_cancel_unknown(self, engine: Engine) -> None:
        """Cancelling an unknown id reports False."""
        assert False is engine.cancel("nope")


class TestOnce:
    def test_fires_once_then_disarmed(self, engine: Engine) -> None:
        """A once item fires at its instant and is then disarmed and kept."""
        engine.apply(once(at=T0 + HOUR), T0)
        early = engine.due(T0 + HOUR - 1)
        fired = engine.due(T0 + HOUR)
        later = engine.due(T0 + 10 * HOUR)
        assert ([], [("RL-1", T0 + HOUR, False)], [], None, 1) == (
            early,
            fires_of(fired),
            later,
            due_of(engine, "RL-1"),
            len(engine.armed),
        )

    def test_fire_carries_kind_task_and_fire_id(self, engine: Engine) -> None:
        """The fire of a once item names its kind, task and fire_id {id}@{due}."""
        engine.apply(once(at=T0 + HOUR), T0)
        [fire] = engine.due(T0 + HOUR)
        assert ("once", "task", f"RL-1@{T0 + HOUR}") == (fire.kind, fire.task, fire.fire_id)

    def test_identical_upsert_after_fire_does_not_rearm(self, engine: Engine) -> None:
        """Republishing a once item that already fired does not arm it again."""
        engine.apply(once(at=T0 + HOUR), T0)
        engine.due(T0 + HOUR)
        applied = engine.apply(once(at=T0 + HOUR, ts=T0 + 2 * HOUR), T0 + 2 * HOUR)
        assert ("disarmed", None, [], 0) == (
            applied.action,
            due_of(engine, "RL-1"),
            engine.due(T0 + 3 * HOUR),
            engine.armed.armed,
        )

    def test_moved_after_fire_rearms(self, engine: Engine) -> None:
        """A once item moved to a later instant after it fired is armed for the new one."""
        engine.apply(once(at=T0 + HOUR), T0)
        engine.due(T0 + HOUR)
        applied = engine.apply(once(at=T0 + 5 * HOUR), T0 + 2 * HOUR)
        assert ("rearmed", T0 + 5 * HOUR) == (applied.action, applied.due)

    def test_past_within_grace_fires(self, engine: Engine) -> None:
        """A once item published slightly in the past fires on the next tick."""
        engine.apply(once(at=T0 - 2 * MIN), T0)
        assert [("RL-1", T0 - 2 * MIN, False)] == fires_of(engine.due(T0))

    def test_past_beyond_grace_missed(self, engine: Engine) -> None:
        """A once item further in the past than the grace period is reported missed."""
        engine.apply(once(at=T0 - GRACE - 1), T0)
        assert [("RL-1", T0 - GRACE - 1, True)] == fires_of(engine.due(T0))

    def test_exactly_grace_is_not_missed(self, engine: Engine) -> None:
        """A fire exactly the grace period late is still sent."""
        engine.apply(once(at=T0 - GRACE), T0)
        assert [("RL-1", T0 - GRACE, False)] == fires_of(engine.due(T0))

    def test_disabled_once_never_fires(self, engine: Engine) -> None:
        """A once item published with enabled=0 never fires."""
        engine.apply(once(at=T0 + 1, enabled=False), T0)
        assert ([], 1) == (engine.due(T0 + HOUR), len(engine.armed))


class TestDue:
    def test_cron_rearms_after_fire(self, engine: Engine) -> None:
        """A cron fire re-arms the item at its following instant."""
        engine.apply(cron(), T0)
        fired = engine.due(T0 + MIN)
        assert ([("TS-1", T0 + MIN, False)], T0 + 2 * MIN, 1) == (
            fires_of(fired),
            engine.next_due(),
            engine.armed.armed,
        )

    def test_successive_ticks(self, engine: Engine) -> None:
        """Ticking at every instant fires each instant once, in order."""
        engine.apply(cron(), T0)
        got = []
        for n in range(1, 6):
            got += fires_of(engine.due(T0 + n * MIN))
            got += fires_of(engine.due(T0 + n * MIN + 10))  # a second tick fires nothing
        assert [("TS-1", T0 + n * MIN, False) for n in range(1, 6)] == got

    def test_passed_instants_coalesce(self, engine: Engine) -> None:
        """Ten passed minutes give one fire at the latest minute, then the next is armed."""
        engine.apply(cron(), T0)
        fired = engine.due(T0 + 10 * MIN + 30 * SEC)
        assert ([("TS-1", T0 + 10 * MIN, False)], T0 + 11 * MIN) == (
            fires_of(fired),
            engine.next_due(),
        )

    def test_coalesced_instant_landing_on_now(self, engine: Engine) -> None:
        """When now is exactly an instant, the coalesced fire is that instant."""
        engine.apply(cron(), T0)
        fired = engine.due(T0 + 10 * MIN)
        assert ([("TS-1", T0 + 10 * MIN, False)], T0 + 11 * MIN) == (
            fires_of(fired),
            engine.next_due(),
        )

    def test_beyond_grace_missed(self, engine: Engine) -> None:
        """An hourly fire noticed 10 minutes late is missed; the next hour is armed."""
        engine.apply(cron(expr="0 * * * *"), T0)
        fired = engine.due(T0 + HOUR + 10 * MIN)
        assert ([("TS-1", T0 + HOUR, True)], T0 + 2 * HOUR) == (
            fires_of(fired),
            engine.next_due(),
        )

    def test_many_items_earliest_first(self, engine: Engine) -> None:
        """Several items due at one tick fire earliest first."""
        engine.apply(cron("B", "*/2 * * * *"), T0)
        engine.apply(once("A", at=T0 + 30 * SEC), T0)
        engine.apply(cron("C", "*/3 * * * *"), T0)
        fired = engine.due(T0 + 3 * MIN)
        expected = [
            ("A", T0 + 30 * SEC, False),
            ("B", T0 + 2 * MIN, False),
            ("C", T0 + 3 * MIN, False),
        ]
        assert expected == fires_of(fired)

    def test_last_fired_recorded(self, engine: Engine) -> None:
        """A fire records its due as the item's last fire."""
        engine.apply(cron(), T0)
        engine.due(T0 + 3 * MIN)
        item = engine.armed.get("TS-1")
        assert item is not None
        assert T0 + 3 * MIN == item.last_fired


class TestLoad:
    def test_catch_up_within_grace(self, engine: Engine) -> None:
        """Instants missed since the last fire coalesce into one catch-up fire at the latest."""
        catch_up = engine.load(
            [cron(expr="0 * * * *", ts=T0 - 5 * HOUR)], {"TS-1": T0 - 3 * HOUR}, T0 + 2 * MIN
        )
        assert ([("TS-1", T0, False)], T0 + HOUR, []) == (
            fires_of(catch_up),
            engine.next_due(),
            engine.due(T0 + 2 * MIN),
        )

    def test_catch_up_beyond_grace_missed(self, engine: Engine) -> None:
        """A latest missed instant older than the grace period is reported missed."""
        catch_up = engine.load(
            [cron(expr="0 * * * *", ts=T0 - 5 * HOUR)], {"TS-1": T0 - 3 * HOUR}, T0 + 10 * MIN
        )
        assert ([("TS-1", T0, True)], T0 + HOUR) == (fires_of(catch_up), engine.next_due())

    def test_no_catch_up_when_last_fire_is_latest(self, engine: Engine) -> None:
        """An item whose latest instant already fired is only armed."""
        catch_up = engine.load(
            [cron(expr="0 * * * *", ts=T0 - 5 * HOUR)], {"TS-1": T0}, T0 + 2 * MIN
        )
        assert ([], T0 + HOUR) == (catch_up, engine.next_due())

    def test_no_last_fire_uses_publication_time(self, engine: Engine) -> None:
        """Without a last fire, instants before the item was published are not caught up."""
        catch_up = engine.load([cron(expr="0 * * * *", ts=T0 + MIN)], {}, T0 + 2 * MIN)
        assert ([], T0 + HOUR) == (catch_up, engine.next_due())

    def test_no_last_fire_after_publication(self, engine: Engine) -> None:
        """Without a last fire, an instant after publication is caught up."""
        catch_up = engine.load([cron(expr="0 * * * *", ts=T0 - MIN)], {}, T0 + 2 * MIN)
        assert [("TS-1", T0, False)] == fires_of(catch_up)

    def test_disabled_not_caught_up(self, engine: Engine) -> None:
        """A disabled item is loaded but neither caught up nor armed."""
        catch_up = engine.load(
            [cron(expr="0 * * * *", ts=T0 - 5 * HOUR, enabled=False)], {}, T0 + 2 * MIN
        )
        assert ([], 1, 0) == (catch_up, len(engine.armed), engine.armed.armed)

    def test_once_items(self, engine: Engine) -> None:
        """Once items: past and unfired are caught up (or missed), fired ones stay disarmed,
        future ones are armed."""
        catch_up = engine.load(
            [
                once("past", at=T0 - MIN, ts=T0 - HOUR),
                once("old", at=T0 - HOUR, ts=T0 - 2 * HOUR),
                once("done", at=T0 - MIN, ts=T0 - HOUR),
                once("future", at=T0 + HOUR, ts=T0 - HOUR),
            ],
            {"done": T0 - MIN},
            T0,
        )
        assert (
            [("past", T0 - MIN, False), ("old", T0 - HOUR, True)],
            [(T0 + HOUR, "future")],
            [],
        ) == (fires_of(catch_up), engine.upcoming(10), engine.due(T0))

    def test_load_replaces_everything(self, engine: Engine) -> None:
        """load() forgets items that are not in the snapshot."""
        engine.apply(cron("gone"), T0)
        engine.load([cron("kept")], {}, T0)
        assert (None, ["kept"]) == (engine.armed.get("gone"), [i.id for i in engine.armed])

    def test_invalid_raises_without_on_error(self, engine: Engine) -> None:
        """Without on_error an invalid expression in the snapshot raises CronError."""
        with pytest.raises(CronError):
            engine.load([cron("ok"), cron("bad", "99 * * * *")], {}, T0)

    def test_on_error_collects_invalid(self, engine: Engine) -> None:
        """With on_error, invalid items are reported and skipped, valid ones armed."""
        bad: list[tuple[str, str]] = []
        engine.load(
            [cron("ok"), cron("bad", "99 * * * *"), cron("badtz", tz="No/Where")],
            {},
            T0,
            on_error=lambda spec, e: bad.append((spec.id, type(e).__name__)),
        )
        assert ([("bad", "CronError"), ("badtz", "CronError")], ["ok"], 1) == (
            bad,
            [i.id for i in engine.armed],
            engine.armed.armed,
        )

    def test_shared_schedules(self, engine: Engine) -> None:
        """10,000 items with the same expression and zone share one CronSchedule object."""
        specs = [cron(f"TS-{n:05d}", "*/7 * * * *", "Europe/Paris") for n in range(10_000)]
        catch_up = engine.load(specs, {}, T0)
        schedules = {id(item.schedule) for item in engine.armed}
        assert ([], 1, 10_000, T0 + 7 * MIN) == (
            catch_up,
            len(schedules),
            engine.armed.armed,
            engine.next_due(),
        )

    def test_equivalent_spellings_share_a_schedule(self) -> None:
        """Expressions that differ only in whitespace compile to the same object."""
        assert compile_schedule("0  *  * * *", "UTC") is compile_schedule("0 * * * *", "UTC")


class TestLatestAtOrBefore:
    @pytest.mark.parametrize(
        ("expr", "tz", "at", "expected"),
        [
            pytest.param(
                "30 6 * * *", "UTC", "2027-06-10T06:29:59+00:00", "2027-06-09T06:30:00+00:00",
                id="daily-before-todays",
            ),
            pytest.param(
                "30 6 * * *", "UTC", "2027-06-10T06:30:00+00:00", "2027-06-10T06:30:00+00:00",
                id="daily-inclusive",
            ),
            pytest.param(
                "30 6 * * *", "Asia/Kolkata", "2027-06-10T12:00:00+05:30",
                "2027-06-10T06:30:00+05:30", id="daily-in-zone",
            ),
            pytest.param(
                "0 * * * *", "UTC", "2027-06-10T06:59:59.999+00:00", "2027-06-10T06:00:00+00:00",
                id="hourly",
            ),
            pytest.param(
                "@hourly", "UTC", "2027-06-10T07:00:00+00:00", "2027-06-10T07:00:00+00:00",
                id="hourly-alias-inclusive",
            ),
            pytest.param(
                "@yearly", "UTC", "2027-12-31T23:59:59+00:00", "2027-01-01T00:00:00+00:00",
                id="yearly-end-of-year",
            ),
            pytest.param(
                "0 12 29 2 *", "UTC", "2029-01-01T00:00:00+00:00", "2028-02-29T12:00:00+00:00",
                id="leap-day",
            ),
            pytest.param(
                "* * * * * *", "UTC", "2027-06-10T06:00:00.500+00:00",
                "2027-06-10T06:00:00+00:00", id="every-second",
            ),
            pytest.param(
                "* * * * * *", "UTC", "2027-06-10T06:00:01+00:00", "2027-06-10T06:00:01+00:00",
                id="every-second-inclusive",
            ),
            pytest.param(
                "30 2 * * *", "America/New_York", "2027-03-14T12:00:00-04:00",
                "2027-03-14T03:00:00-04:00", id="dst-gap-fixed-time",
            ),
        ],
    )  # fmt: skip
    def test_table(self, expr: str, tz: str, at: str, expected: str) -> None:
        """The last instant at or before ``at`` for a variety of schedules."""
        assert ms(expected) == latest_at_or_before(compile_schedule(expr, tz), ms(at))

    def test_none_beyond_horizon(self) -> None:
        """A schedule with no instant within the horizon gives None."""
        schedule = compile_schedule("0 0 1 1 *", "UTC")
        assert None is latest_at_or_before(
            schedule, ms("2027-06-01T00:00:00+00:00"), 30 * 86_400_000
        )

    def test_none_before_first_instant(self) -> None:
        """A schedule whose first instant is in the future gives None."""
        schedule = compile_schedule("0 0 0 1 1 * 2030", "UTC")
        assert None is latest_at_or_before(schedule, ms("2027-06-01T00:00:00+00:00"))

    @pytest.mark.parametrize(
        ("expr", "at", "expected"),
        [
            pytest.param(
                "* * 9-17 * * 1-5", "2027-06-07T08:00:00+00:00", "2027-06-04T17:59:59+00:00",
                id="office-hours-every-second-on-monday-morning",
            ),
            pytest.param(
                "* * * * 1 *", "2027-12-31T12:00:00+00:00", "2027-01-31T23:59:59+00:00",
                id="every-second-of-january-asked-in-december",
            ),
        ],
    )  # fmt: skip
    def test_bounded_work_for_dense_then_idle_schedule(
        self, expr: str, at: str, expected: str
    ) -> None:
        """A dense-then-idle schedule's latest instant takes at most 100 next_after calls."""
        # A forward walk from the start of the search window needs one call per instant:
        # tens of thousands for office hours, millions (15 s) for January.

        class Counting:
            def __init__(self) -> None:
                self.inner = compile_schedule(expr, "UTC")
                self.calls = 0

            def next_after(self, after_ms: int) -> int | None:
                self.calls += 1
                if self.calls > 100:
                    raise AssertionError("more than 100 next_after calls")
                return self.inner.next_after(after_ms)

        latest = latest_at_or_before(Counting(), ms(at))  # type: ignore[arg-type]
        assert ms(expected) == latest


class TestSkipFired:
    def test_instants_the_previous_leader_fired_are_skipped_quietly(self, engine: Engine) -> None:
        """On promotion, items whose due instant last-fire already holds are re-armed at
        their following instant without a fire; the others stay due and fire."""
        engine.apply(cron("TS-1"), T0)
        engine.apply(cron("TS-2"), T0)
        now = T0 + MIN + 2 * SEC
        skipped = engine.skip_fired({"TS-1": T0 + MIN}, now)
        assert (1, T0 + 2 * MIN) == (skipped, due_of(engine, "TS-1"))
        assert [("TS-2", T0 + MIN, False)] == fires_of(engine.due(now))

    def test_once_item_fired_by_the_previous_leader_is_disarmed(self, engine: Engine) -> None:
        """A run-later item the previous leader fired is not fired again."""
        engine.apply(once(at=T0 + SEC), T0)
        assert 1 == engine.skip_fired({"RL-1": T0 + SEC}, T0 + 5 * SEC)
        assert ([], None) == (engine.due(T0 + 5 * SEC), due_of(engine, "RL-1"))


class TestBoundedScheduleCache:
    def test_churned_expressions_are_forgotten_and_the_memo_stays_bounded(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Five rounds of 1,500 distinct expressions armed, fired and deleted, with one item
        armed all along: afterwards only the armed item's schedule is still compiled, and
        the memo of answers never held more than its bound (the old cache kept every
        pair ever seen, each with up to 256 answers)."""
        import gc
        import weakref

        from streams import cronschedule

        monkeypatch.setattr(cronschedule, "MEMO_ENTRIES", 2_000, raising=False)
        engine = Engine(grace_ms=GRACE)
        engine.apply(cron("TS-KEEP", "17 3 * * *", "Europe/Paris"), T0)
        churned: list[weakref.ref[object]] = []
        largest_memo = 0
        for round_ in range(5):
            for n in range(1_500):
                item_id = f"TS-C{n}"
                expr = f"{n % 60} {n // 60 % 24} {1 + n // 1440 + round_} * *"
                engine.apply(cron(item_id, expr), T0)
                item = engine.armed.get(item_id)
                assert item is not None and item.schedule is not None
                churned.append(weakref.ref(item.schedule))
                largest_memo = max(largest_memo, cronschedule.memo_size())
                del item
            engine.due(T0 + 40 * 86_400_000)  # fire (and re-arm) them all
            for n in range(1_500):
                engine.apply(ScheduleDelete(id=f"TS-C{n}", ts=T0), T0)
        gc.collect()
        alive = {(s.expr, s.tz) for s in cronschedule.interned()}
        assert (0, True, True) == (
            sum(ref() is not None for ref in churned),
            ("17 3 * * *", "Europe/Paris") in alive,
            largest_memo <= 2_000 and cronschedule.memo_size() <= 2_000,
        )
