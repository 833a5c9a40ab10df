"""Batch firing without Frappe: the batch body, per-fire decisions, result order and the
Task Log rows a batch inserts."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from btu.core import batch, firing
from btu.core.batch import (
    MAX_FIRES,
    Accepted,
    BatchRejected,
    Context,
    Failed,
    Repeat,
)
from btu.core.naming import series_names, series_of

# 2027-03-15 07:30 Europe/Paris: an instant of "30 7 * * *" there.
DUE = 1_805_092_200_000
CRON = firing.ItemFacts(
    kind="cron",
    name="TS-000001",
    task="Nightly",
    enabled=True,
    task_exists=True,
    task_enabled=True,
    function_path=None,
    queue=None,
    task_queue="long",
    max_duration_s=900,
    cron="30 7 * * *",
    tz="Europe/Paris",
)
ONCE = firing.ItemFacts(
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
    at_ms=DUE + 5_000,
)
QUEUES = {"short": 300, "default": 300, "long": 1500}


def fire(item: str, due: int, kind: str = "cron", **extra: Any) -> dict[str, Any]:
    return {"id": item, "kind": kind, "due": due, "fire_id": f"{item}@{due}", **extra}


def context(**facts: firing.ItemFacts) -> Context:
    return Context(
        facts={(f.kind, f.name): f for f in facts.values()},
        known_queues=set(QUEUES),
        default_queue="default",
        now_ms=DUE + 1_000,
        late_limit_ms=600_000,
    )


def run(
    fires: list[Any],
    ctx: Context,
    known: dict[str, str] | None = None,
    ours: set[str] | None = None,
    failed: dict[str, Failed] | None = None,
) -> list[dict[str, Any]]:
    """A batch as the service runs it, with every accepted fire recorded as ours unless
    ``ours`` says otherwise; job ids are ``job:{fire_id}``."""
    slots = batch.parse_fires(batch.parse_batch({"fires": fires, "cmd": "btu.api.x"}))
    batch.decide(slots, known or {}, ctx)
    accepted = [a.request.fire_id for a in batch.accepted(slots)]
    job_ids = {**(known or {}), **{f: f"job:{f}" for f in accepted}}
    batch.settle(slots, job_ids, set(accepted) if ours is None else ours, failed or {})
    return batch.results(slots, job_ids)


class TestParseBatch:
    def test_entries(self) -> None:
        """A batch is its list of fire objects (Frappe's cmd aside)."""
        fires = [fire("TS-000001", DUE)]
        assert fires == batch.parse_batch({"fires": fires, "cmd": "btu.api.enqueue_batch"})

    def test_json_text(self) -> None:
        """A form-encoded body's fires (JSON text) are parsed."""
        assert [{"id": "x"}] == batch.parse_batch({"fires": '[{"id": "x"}]'})

    def test_empty(self) -> None:
        """An empty batch is valid (and answers no results)."""
        assert [] == batch.parse_batch({"fires": []})

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            pytest.param({}, "missing fires", id="missing"),
            pytest.param({"fires": [], "site": "x"}, "unknown field 'site'", id="unknown"),
            pytest.param({"fires": {"id": "x"}}, "fires must be a list", id="object"),
            pytest.param({"fires": "[1,"}, "fires is not valid JSON", id="bad-json"),
            pytest.param({"fires": [{}, 3]}, r"fires\[1\] must be an object", id="entry"),
            pytest.param(
                {"fires": [{}] * (MAX_FIRES + 1)}, "501 fires in one batch: at most 500", id="big"
            ),
        ],
    )
    def test_malformed(self, body: dict[str, Any], message: str) -> None:
        """A malformed batch is refused as a whole with a one-line reason."""
        with pytest.raises(BatchRejected, match=message) as info:
            batch.parse_batch(body)
        assert "\n" not in info.value.message

    def test_at_most_max(self) -> None:
        """Exactly the maximum is accepted."""
        assert MAX_FIRES == len(batch.parse_batch({"fires": [{}] * MAX_FIRES}))


class TestDecide:
    def test_mixed_batch_answers_per_fire_in_order(self) -> None:
        """Valid cron and once fires, an unknown item, a disabled one and a bad due each get
        their own answer, with the single request's status, in request order."""
        off = dataclasses.replace(CRON, name="TS-000002", enabled=False)
        ctx = context(a=CRON, b=ONCE, c=off)
        fires = [
            fire("TS-000001", DUE),
            fire("TS-999999", DUE),
            fire("RL-000001", DUE + 5_000, kind="once"),
            fire("TS-000002", DUE),
            fire("TS-000001", DUE + 60_000),
        ]
        answers = run(fires, ctx)
        assert [r["fire_id"] for r in answers] == [f["fire_id"] for f in fires]
        first = {
            "fire_id": f"TS-000001@{DUE}",
            "job_id": f"job:TS-000001@{DUE}",
            "duplicate": False,
        }
        assert first == answers[0]
        assert [None, 404, None, 409, 400] == [r.get("error", {}).get("status") for r in answers]
        assert "There is no schedule 'TS-999999'." == answers[1]["error"]["message"]
        assert "is not an instant of schedule" in answers[4]["error"]["message"]
        assert (False, False) == (answers[0]["duplicate"], answers[2]["duplicate"])

    def test_malformed_fire_is_its_own_400(self) -> None:
        """A malformed fire gets a 400 result; the other fires go through."""
        answers = run(
            [
                {"id": "TS-000001", "kind": "cron", "due": DUE},
                fire("TS-000001", DUE, run_as="Administrator"),
                {"id": "TS-000001", "kind": "cron", "due": DUE, "fire_id": 7},
                fire("TS-000001", DUE),
            ],
            context(a=CRON),
        )
        assert [400, 400, 400] == [r["error"]["status"] for r in answers[:3]]
        assert "missing fire_id" in answers[0]["error"]["message"]
        assert "unknown field 'run_as'" in answers[1]["error"]["message"]
        assert [None, f"TS-000001@{DUE}", None] == [r["fire_id"] for r in answers[:3]]
        assert (False, f"job:TS-000001@{DUE}") == (answers[3]["duplicate"], answers[3]["job_id"])

    def test_known_fire_id_is_duplicate_before_checks(self) -> None:
        """A recorded fire_id answers duplicate with its job id, even if the item is gone."""
        known = {f"TS-000001@{DUE}": "site::TS-000001_1"}
        answers = run([fire("TS-000001", DUE)], context(), known=known)
        expected = {"fire_id": f"TS-000001@{DUE}", "job_id": "site::TS-000001_1"}
        assert [expected | {"duplicate": True}] == answers

    def test_repeat_within_batch(self) -> None:
        """A fire_id twice in one batch is recorded once; the second is its duplicate."""
        slots = batch.parse_fires([fire("TS-000001", DUE), fire("TS-000001", DUE)])
        batch.decide(slots, {}, context(a=CRON))
        assert isinstance(slots[0].decision, Accepted)
        assert Repeat(0) == slots[1].decision
        assert 1 == len(batch.accepted(slots))
        answers = run([fire("TS-000001", DUE)] * 2, context(a=CRON))
        assert [False, True] == [r["duplicate"] for r in answers]
        assert answers[0]["job_id"] == answers[1]["job_id"]

    def test_repeat_of_a_rejected_fire(self) -> None:
        """A repeat of a rejected fire gets the same error."""
        answers = run([fire("TS-999999", DUE)] * 2, context())
        assert [404, 404] == [r["error"]["status"] for r in answers]

    def test_lost_race_is_duplicate(self) -> None:
        """A fire_id recorded by a concurrent request (not ours) answers duplicate."""
        answers = run([fire("TS-000001", DUE)], context(a=CRON), ours=set())
        assert [True] == [r["duplicate"] for r in answers]

    def test_queue_refused_is_503_per_fire(self) -> None:
        """Fires whose jobs Redis refused answer 503; the others keep their answers."""
        refused = {f"TS-000001@{DUE}": Failed(503, "The job queue (Redis) did not accept")}
        fires = [fire("TS-000001", DUE), fire("TS-999999", DUE), fire("TS-000001", DUE)]
        answers = run(fires, context(a=CRON), failed=refused)
        assert [503, 404, 503] == [r["error"]["status"] for r in answers]

    def test_item_keys_are_only_undecided(self) -> None:
        """Only items of well-formed fires are looked up, by kind."""
        slots = batch.parse_fires(
            [fire("TS-000001", DUE), fire("RL-000001", DUE, kind="once"), {"id": "X"}]
        )
        assert {"cron": {"TS-000001"}, "once": {"RL-000001"}} == batch.item_keys(slots)

    def test_undecided_slot_is_an_error(self) -> None:
        """Building a result of a fire never decided is a bug, not a silent answer."""
        slots = batch.parse_fires([fire("TS-000001", DUE)])
        with pytest.raises(AssertionError, match="never decided"):
            batch.results(slots, {})


class TestLogRows:
    def test_rows_match_a_single_fire(self) -> None:
        """Rows carry the values a single request's Task Log gets, under the given names."""
        slots = batch.parse_fires(
            [fire("TS-000001", DUE), fire("RL-000001", DUE + 5_000, kind="once")]
        )
        batch.decide(slots, {}, context(a=CRON, b=ONCE))
        now = dt.datetime(2027, 3, 15, 7, 30, 1)
        rows = batch.log_rows(
            batch.accepted(slots),
            ["TL-00000007", "TL-00000008"],
            lambda f: f"site::{firing.base_job_id(f)}",
            QUEUES,
            "Europe/Paris",
            "daemon@example.com",
            now,
        )
        fields = [*batch.STANDARD_FIELDS, *batch.LOG_FIELDS]
        cron, once = (dict(zip(fields, row, strict=True)) for row in rows)
        assert {
            "name": "TL-00000007",
            "owner": "daemon@example.com",
            "modified_by": "daemon@example.com",
            "creation": now,
            "modified": now,
            "docstatus": 0,
            "idx": 0,
            "fire_id": f"TS-000001@{DUE}",
            "job_id": f"site::TS-000001_{DUE}",
            "queue": "long",
            "time_limit": 900,
            "triggered_by": "Schedule",
            "status": "Queued",
            "attempt": 1,
            "task": "Nightly",
            "schedule": "TS-000001",
            "run_later": None,
            "due": dt.datetime(2027, 3, 15, 7, 30),
        } == cron
        assert ("default", 300, "Run Later", None, "RL-000001", None) == (
            once["queue"],
            once["time_limit"],
            once["triggered_by"],
            once["schedule"],
            once["run_later"],
            once["task"],
        )

    def test_names_and_rows_must_pair(self) -> None:
        """Fewer names than fires is an error, never a row without a name."""
        slots = batch.parse_fires([fire("TS-000001", DUE)])
        batch.decide(slots, {}, context(a=CRON))
        with pytest.raises(ValueError):
            batch.log_rows(batch.accepted(slots), [], str, QUEUES, "UTC", "u", dt.datetime.now())


class TestSeriesNames:
    def test_series_of(self) -> None:
        """The Series key and width of an old-style expression."""
        assert ("TL-", 8) == series_of("TL-.########")
        assert series_of("hash") is None

    def test_names_follow_the_counter(self) -> None:
        """Names after the counter, zero-padded like Frappe's getseries, never cut."""
        assert ["TL-00000042", "TL-00000043"] == series_names("TL-", 8, 41, 2)
        assert ["TL-100000000"] == series_names("TL-", 8, 99_999_999, 1)
        assert [] == series_names("TL-", 8, 5, 0)


class TestFactsFromRows:
    def test_schedule(self) -> None:
        """A schedule row and its task's row give the facts the single path used."""
        row = {
            "name": "TS-000001",
            "task": "Nightly",
            "enabled": 1,
            "queue_override": None,
            "cron_expression": "30 7 * * *",
            "time_zone": "Europe/Paris",
        }
        task = {"enabled": 1, "queue": "long", "max_duration": 900}
        assert CRON == firing.schedule_facts(row, task)

    def test_run_later_missing_task(self) -> None:
        """A run-later item whose task row is gone has a task that does not exist."""
        row = {"name": "RL-000001", "task": "Gone", "status": "Pending", "max_duration": 0}
        facts = firing.run_later_facts(row, None, DUE)
        assert (False, True, DUE) == (facts.task_exists, facts.enabled, facts.at_ms)
