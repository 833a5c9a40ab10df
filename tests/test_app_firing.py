"""Fire requests from the daemon: checks, plans and rejections."""

from __future__ import annotations

import dataclasses

import pytest

from btu.core.firing import (
    BAD_REQUEST,
    DISABLED,
    NOT_FOUND,
    FirePlan,
    FireRejected,
    ItemFacts,
    base_job_id,
    check_request,
    manual_fire_id,
    plan_fire,
)

QUEUES = {"short", "default", "long"}

SCHEDULE = ItemFacts(
    kind="cron",
    name="TS-000001",
    task="Nightly export",
    enabled=True,
    task_exists=True,
    task_enabled=True,
    function_path=None,
    queue=None,
    task_queue="long",
    max_duration_s=900,
)
RUN_LATER = ItemFacts(
    kind="once",
    name="RL-000001",
    task=None,
    enabled=True,
    task_exists=False,
    task_enabled=False,
    function_path="myapp.jobs.cleanup",
    queue=None,
    task_queue=None,
    max_duration_s=None,
    status="Pending",
)


class TestCheckRequest:
    def test_well_formed(self) -> None:
        """A request whose fire_id is {id}@{due} passes."""
        assert check_request("TS-000001", "cron", 1795747880000, "TS-000001@1795747880000") is None

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            pytest.param(
                ("TS-1", "daily", 1, "TS-1@1"), "kind must be 'cron' or 'once'", id="kind"
            ),
            pytest.param(("TS-1", "cron", 1, "TS-1@2"), "does not match id and due", id="mismatch"),
            pytest.param(("TS-1", "cron", -1, "TS-1@-1"), "due must be epoch", id="negative"),
            pytest.param(("", "cron", 1, "@1"), "id and fire_id are required", id="empty-id"),
        ],
    )
    def test_malformed(self, args: tuple[str, str, int, str], message: str) -> None:
        """Malformed requests are bad requests (permanent 4xx for the daemon)."""
        with pytest.raises(FireRejected, match=message) as info:
            check_request(*args)
        assert BAD_REQUEST == info.value.reason


class TestPlanFire:
    def test_schedule_uses_task_queue_and_limit(self) -> None:
        """Without an override, a schedule runs on its task's queue with its time limit."""
        expected = FirePlan(queue="long", timeout_s=900, trigger="Schedule")
        assert expected == plan_fire(SCHEDULE, "cron", "TS-000001", QUEUES, "default")

    def test_schedule_override_wins(self) -> None:
        """The schedule's queue override beats the task's queue."""
        facts = dataclasses.replace(SCHEDULE, queue="short")
        assert "short" == plan_fire(facts, "cron", "TS-000001", QUEUES, "default").queue

    def test_run_later_defaults(self) -> None:
        """A function-only run-later item runs on the default queue with the queue's limit."""
        expected = FirePlan(queue="default", timeout_s=None, trigger="Run Later")
        assert expected == plan_fire(RUN_LATER, "once", "RL-000001", QUEUES, "default")

    @pytest.mark.parametrize(
        ("facts", "kind", "reason", "message"),
        [
            pytest.param(None, "cron", NOT_FOUND, "There is no schedule 'X'.", id="no-schedule"),
            pytest.param(None, "once", NOT_FOUND, "There is no run-later item 'X'.", id="no-item"),
            pytest.param(
                dataclasses.replace(SCHEDULE, enabled=False),
                "cron",
                DISABLED,
                "Schedule 'X' is disabled.",
                id="schedule-disabled",
            ),
            pytest.param(
                dataclasses.replace(SCHEDULE, task_enabled=False),
                "cron",
                DISABLED,
                "Task 'Nightly export' of 'X' is disabled.",
                id="task-disabled",
            ),
            pytest.param(
                dataclasses.replace(SCHEDULE, task_exists=False),
                "cron",
                NOT_FOUND,
                "Task 'Nightly export' of 'X' no longer exists.",
                id="task-gone",
            ),
            pytest.param(
                dataclasses.replace(RUN_LATER, enabled=False, status="Cancelled"),
                "once",
                DISABLED,
                "Run-later item 'X' is Cancelled, not Pending.",
                id="run-later-cancelled",
            ),
            pytest.param(SCHEDULE, "once", BAD_REQUEST, "'X' is not a once item.", id="kind-swap"),
            pytest.param(
                dataclasses.replace(SCHEDULE, queue="gpu"),
                "cron",
                BAD_REQUEST,
                "Queue 'gpu' of 'X' is not one of this bench's queues (default, long, short).",
                id="unknown-queue",
            ),
            pytest.param(
                dataclasses.replace(RUN_LATER, function_path=None),
                "once",
                BAD_REQUEST,
                "'X' has neither a task nor a function to run.",
                id="nothing-to-run",
            ),
        ],
    )
    def test_rejections(
        self, facts: ItemFacts | None, kind: str, reason: str, message: str
    ) -> None:
        """Unknown, disabled or broken items are rejected with a reason and a plain message."""
        with pytest.raises(FireRejected) as info:
            plan_fire(facts, kind, "X", QUEUES, "default")
        assert (reason, message) == (info.value.reason, info.value.message)


def test_job_id_is_rq_safe() -> None:
    """The job id derived from a fire_id uses only characters RQ 2 accepts."""
    assert "TS-000001_1795747880000" == base_job_id("TS-000001@1795747880000")


def test_manual_fire_id() -> None:
    """Run-now fires are named manual-<uuid>, distinct from any schedule fire."""
    assert ("manual-abc", True) == (
        manual_fire_id("abc"),
        manual_fire_id().startswith("manual-") and len(manual_fire_id()) == 39,
    )
