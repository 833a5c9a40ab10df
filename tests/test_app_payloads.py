"""Documents to wire events: Task Schedules are cron items, Run Later items are once items."""

from __future__ import annotations

import pytest

from btu.core.doctypes import RUN_LATER, SCHEDULE
from btu.core.payloads import (
    event_for,
    run_later_event,
    schedule_upsert,
    wanted_state,
)
from streams.messages import ScheduleDelete, ScheduleUpsert

TS = 1_800_000_000_000


def schedule_row(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "name": "TS-000001",
        "task": "Send digest",
        "enabled": 1,
        "cron_expression": "30 7 * * *",
        "time_zone": "Europe/Paris",
    }
    row.update(changes)
    return row


def run_later_row(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "name": "RL-000001",
        "task": "Send digest",
        "function_path": None,
        "run_at": "2027-03-14 07:30:00",
        "status": "Pending",
    }
    row.update(changes)
    return row


class TestScheduleUpsert:
    def test_enabled_schedule_of_enabled_task(self) -> None:
        """An enabled schedule of an enabled task is an armed cron item."""
        expected = ScheduleUpsert(
            id="TS-000001",
            kind="cron",
            task="Send digest",
            cron="30 7 * * *",
            tz="Europe/Paris",
            enabled=True,
            ts=TS,
        )
        assert expected == schedule_upsert(schedule_row(), task_enabled=True, ts=TS)

    @pytest.mark.parametrize(
        ("schedule_enabled", "task_enabled", "expected"),
        [(1, True, True), (0, True, False), (1, False, False), (0, False, False)],
    )
    def test_enabled_needs_both(
        self, schedule_enabled: int, task_enabled: bool, expected: bool
    ) -> None:
        """A schedule is armed only when it and its task are both enabled."""
        event = schedule_upsert(schedule_row(enabled=schedule_enabled), task_enabled, TS)
        assert expected == event.enabled

    def test_encoded_fields(self) -> None:
        """The stream entry carries the protocol's field names and string values."""
        expected = {
            "v": "1",
            "op": "upsert",
            "id": "TS-000001",
            "kind": "cron",
            "task": "Send digest",
            "enabled": "1",
            "ts": str(TS),
            "cron": "30 7 * * *",
            "tz": "Europe/Paris",
        }
        assert expected == schedule_upsert(schedule_row(), True, TS).encode()


class TestRunLaterEvent:
    def test_pending_is_armed_at_utc_instant(self) -> None:
        """A Pending item is an armed once item at its instant, converted from the system zone."""
        expected = ScheduleUpsert(
            id="RL-000001",
            kind="once",
            task="Send digest",
            at=1_805_005_800_000,  # 07:30 in Paris on 2027-03-14 is 06:30 UTC
            enabled=True,
            ts=TS,
        )
        assert expected == run_later_event(run_later_row(), True, "Europe/Paris", TS)

    def test_in_flight_is_kept_disarmed(self) -> None:
        """An In Flight item stays in the state hash, disarmed."""
        event = run_later_event(run_later_row(status="In Flight"), True, "UTC", TS)
        assert (True, False) == (isinstance(event, ScheduleUpsert), event.enabled)  # type: ignore[union-attr]

    @pytest.mark.parametrize("status", ["Done", "Failed", "Cancelled"])
    def test_finished_items_are_deleted(self, status: str) -> None:
        """Finished or cancelled items leave the state hash."""
        expected = ScheduleDelete(id="RL-000001", ts=TS)
        assert expected == run_later_event(run_later_row(status=status), True, "UTC", TS)

    def test_disabled_task_disarms(self) -> None:
        """A Pending item of a disabled task is kept but disarmed."""
        event = run_later_event(run_later_row(), False, "UTC", TS)
        assert isinstance(event, ScheduleUpsert) and event.enabled is False

    def test_function_path_labels_the_item(self) -> None:
        """Without a task, the function path is the item's label on the wire."""
        row = run_later_row(task=None, function_path="myapp.jobs.cleanup")
        event = run_later_event(row, True, "UTC", TS)
        assert "myapp.jobs.cleanup" == event.task  # type: ignore[union-attr]


class TestEventFor:
    def test_missing_row_is_delete(self) -> None:
        """A document that no longer exists becomes a delete."""
        expected = ScheduleDelete(id="TS-000009", ts=TS)
        assert expected == event_for(SCHEDULE, None, "TS-000009", True, "UTC", TS)

    def test_dispatch_by_doctype(self) -> None:
        """Schedules and Run Later items are mapped by their own rules."""
        kinds = (
            event_for(SCHEDULE, schedule_row(), "TS-000001", True, "UTC", TS).kind,  # type: ignore[union-attr]
            event_for(RUN_LATER, run_later_row(), "RL-000001", True, "UTC", TS).kind,  # type: ignore[union-attr]
        )
        assert ("cron", "once") == kinds

    def test_other_doctypes_are_refused(self) -> None:
        """Only schedules and run-later items are published."""
        with pytest.raises(ValueError, match="not published"):
            event_for("BTU Task", {"name": "x"}, "x", True, "UTC", TS)


class TestWantedState:
    def test_everything_the_hash_should_hold(self) -> None:
        """All schedules and live run-later items, each with its task's enabled state."""
        schedules = [schedule_row(), schedule_row(name="TS-000002", task="Off task")]
        run_laters = [
            run_later_row(),
            run_later_row(name="RL-000002", task=None, function_path="m.f"),
            run_later_row(name="RL-000003", status="Done"),
        ]
        tasks = {"Send digest": True, "Off task": False}
        actual = [(u.id, u.enabled) for u in wanted_state(schedules, run_laters, tasks, "UTC", TS)]
        expected = [
            ("TS-000001", True),
            ("TS-000002", False),
            ("RL-000001", True),
            ("RL-000002", True),
        ]
        assert expected == actual

    def test_unknown_task_counts_as_disabled(self) -> None:
        """A schedule whose task is missing from the map is disarmed."""
        [upsert] = wanted_state([schedule_row()], [], {}, "UTC", TS)
        assert upsert.enabled is False
