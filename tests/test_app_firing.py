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


# -- the request body and its due instant (issue 7) -------------------------------------

from btu.core.firing import (  # noqa: E402
    EARLY_TOLERANCE_MS,
    FireRequest,
    check_due,
    parse_request,
)
from btu_scheduler.engine import Engine  # noqa: E402
from streams.messages import ScheduleUpsert  # noqa: E402

HOUR_MS = 3_600_000
# 2027-03-14 07:00 UTC: 03:00 EDT, where New York's `30 2 * * *` fires on the
# spring-forward day (Debian cron's rule; PROTOCOL.md "Time").
NY_SPRING_FIRE = 1_805_007_600_000
LIMIT_MS = 600_000


def body(**changes: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "cmd": "btu.api.enqueue_scheduled",
        "id": "TS-000001",
        "kind": "cron",
        "due": NY_SPRING_FIRE,
        "fire_id": f"TS-000001@{NY_SPRING_FIRE}",
    }
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


class TestParseRequest:
    def test_well_formed(self) -> None:
        """The four fields make a request; Frappe's own ``cmd`` is ignored."""
        expected = FireRequest("TS-000001", "cron", NY_SPRING_FIRE, f"TS-000001@{NY_SPRING_FIRE}")
        assert expected == parse_request(body())

    def test_digit_string_due(self) -> None:
        """A form-encoded due (ASCII digits) is read as an integer."""
        assert NY_SPRING_FIRE == parse_request(body(due=str(NY_SPRING_FIRE))).due

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            pytest.param(body(due=None), "missing due: a fire request has", id="missing-due"),
            pytest.param({"cmd": "x"}, "missing id, kind, due, fire_id", id="empty-body"),
            pytest.param({"data": [1, 2]}, "missing id", id="json-list-body"),
            pytest.param(body(extra=1), "unknown field 'extra'", id="extra-field"),
            pytest.param(body(due=True), "due must be an integer", id="bool-due"),
            pytest.param(body(due=1.5), "due must be an integer", id="float-due"),
            pytest.param(body(due="12a"), "due must be an integer", id="text-due"),
            pytest.param(body(due="\uff11\uff12"), "due must be an integer", id="unicode-digits"),
            pytest.param(body(id=7), "id must be a non-empty string", id="int-id"),
            pytest.param(body(id=" "), "id must be a non-empty string", id="blank-id"),
            pytest.param(body(id="x" * 141), "id is longer than 140", id="long-id"),
            pytest.param(body(kind="daily"), "kind must be 'cron' or 'once'", id="kind"),
            pytest.param(body(fire_id="TS-000001@1"), "does not match", id="fire-id"),
        ],
    )
    def test_malformed_bodies_are_bad_requests(
        self, fields: dict[str, object], message: str
    ) -> None:
        """Each malformed body is a 400 whose one-line message names the problem."""
        with pytest.raises(FireRejected) as info:
            parse_request(fields)
        assert BAD_REQUEST == info.value.reason
        assert message in info.value.message
        assert "\n" not in info.value.message


NY_SCHEDULE = dataclasses.replace(SCHEDULE, cron="30 2 * * *", tz="America/New_York")


class TestCheckDue:
    def test_an_instant_of_the_schedule_passes(self) -> None:
        """The DST-shifted instant the daemon computes is an instant for the app too."""
        assert check_due(NY_SCHEDULE, NY_SPRING_FIRE, NY_SPRING_FIRE + 5, LIMIT_MS) is None

    @pytest.mark.parametrize(
        ("due", "now", "message"),
        [
            pytest.param(
                NY_SPRING_FIRE - 30 * 60_000,
                NY_SPRING_FIRE - 30 * 60_000,
                "is not an instant of schedule 'TS-000001' ('30 2 * * *' in America/New_York)",
                id="not-an-instant",
            ),
            pytest.param(
                NY_SPRING_FIRE + 1,
                NY_SPRING_FIRE + 1,
                "is not an instant",
                id="off-by-one-ms",
            ),
            pytest.param(
                NY_SPRING_FIRE,
                NY_SPRING_FIRE + LIMIT_MS + 1,
                "older than the late-fire limit of 600 s",
                id="stale",
            ),
            pytest.param(
                NY_SPRING_FIRE,
                NY_SPRING_FIRE - EARLY_TOLERANCE_MS - 1,
                "ahead of this site's clock",
                id="future",
            ),
        ],
    )
    def test_refused(self, due: int, now: int, message: str) -> None:
        """A due that is not an instant, too old, or ahead of the clock is a 400."""
        with pytest.raises(FireRejected) as info:
            check_due(NY_SCHEDULE, due, now, LIMIT_MS)
        assert BAD_REQUEST == info.value.reason
        assert message in info.value.message

    def test_broken_schedule_is_refused(self) -> None:
        """A schedule whose cron no longer compiles cannot fire."""
        facts = dataclasses.replace(SCHEDULE, cron="61 * * * *", tz="UTC")
        with pytest.raises(FireRejected, match="cannot fire"):
            check_due(facts, NY_SPRING_FIRE, NY_SPRING_FIRE, LIMIT_MS)

    def test_once_item_only_at_its_instant(self) -> None:
        """A run-later fire passes only at the item's own instant."""
        facts = dataclasses.replace(RUN_LATER, at_ms=NY_SPRING_FIRE)
        assert check_due(facts, NY_SPRING_FIRE, NY_SPRING_FIRE + 5, LIMIT_MS) is None
        with pytest.raises(FireRejected, match="is not the instant of run-later item"):
            check_due(facts, NY_SPRING_FIRE + 1000, NY_SPRING_FIRE, LIMIT_MS)

    @pytest.mark.parametrize(
        ("now", "message"),
        [
            pytest.param(NY_SPRING_FIRE - 4 * 365 * 86_400_000, "ahead of", id="years-early"),
            pytest.param(NY_SPRING_FIRE + LIMIT_MS + 1, "older than the late-fire", id="stale"),
        ],
    )
    def test_once_item_not_before_nor_long_after_its_instant(self, now: int, message: str) -> None:
        """A run-later item is never fired before its instant (a token holder firing a 2030
        item in 2026), nor long after it."""
        facts = dataclasses.replace(RUN_LATER, at_ms=NY_SPRING_FIRE)
        with pytest.raises(FireRejected, match=message):
            check_due(facts, NY_SPRING_FIRE, now, LIMIT_MS)

    @pytest.mark.parametrize(
        ("cron", "tz"),
        [
            ("30 2 * * *", "America/New_York"),
            ("30 1 * * *", "America/New_York"),
            ("*/7 * * * *", "Australia/Lord_Howe"),
            ("0 */3 * * *", "Europe/London"),
            ("15 10 * * MON-FRI", "Asia/Kolkata"),
        ],
    )
    def test_the_daemons_fires_pass(self, cron: str, tz: str) -> None:
        """Every fire the daemon's engine makes over a DST-crossing month is accepted."""
        start = 1_804_982_400_000 - 10 * 86_400_000  # ten days before 14 March 2027
        engine = Engine(grace_ms=300_000)
        spec = ScheduleUpsert(
            id="TS-1", kind="cron", task="t", cron=cron, tz=tz, enabled=True, ts=start
        )
        engine.apply(spec, start)
        facts = dataclasses.replace(SCHEDULE, name="TS-1", cron=cron, tz=tz)
        fired = 0
        while fired < 200:
            due = engine.next_due()
            assert due is not None
            for fire in engine.due(due):
                check_due(facts, fire.due, fire.due + 3, LIMIT_MS)
                fired += 1
        assert 200 == fired
