"""The failed-jobs panel: which RQ jobs are BTU's and how they are described."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import fakeredis
import pytest
from rq.job import Job

from btu.core.rq_jobs import RUNNER, describe, in_range, is_btu_job, last_line, select, task_log_of

SITE = "erp.example.com"
UTC = dt.timezone.utc


@dataclass
class FakeJob:
    id: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    origin: str = "a1b2c3:default"
    ended_at: dt.datetime | None = None


def frappe_kwargs(
    site: str = SITE, method: str = RUNNER, log: str | None = "TL-00000001"
) -> dict[str, Any]:
    """What Frappe's enqueue stores as the RQ job's kwargs."""
    inner = {"task_log": log} if log else {}
    return {
        "site": site,
        "user": "api@example.com",
        "method": method,
        "job_name": method,
        "kwargs": inner,
    }


class TestIsBtuJob:
    @pytest.mark.parametrize(
        ("kwargs", "expected"),
        [
            pytest.param(frappe_kwargs(), True, id="btu-job-of-site"),
            pytest.param(frappe_kwargs(site="other.example.com"), False, id="other-site"),
            pytest.param(
                frappe_kwargs(method="frappe.email.queue.flush"), False, id="other-method"
            ),
            pytest.param({}, False, id="no-kwargs"),
        ],
    )
    def test_selection(self, kwargs: dict[str, Any], expected: bool) -> None:
        """Only runner jobs of this site are BTU's."""
        assert expected == is_btu_job(FakeJob("j", kwargs), SITE)

    def test_real_rq_job(self) -> None:
        """A real rq Job built the way Frappe builds it is recognised, with its Task Log."""
        job = Job.create(
            "frappe.utils.background_jobs.execute_job",
            kwargs=frappe_kwargs(log="TL-00000042"),
            connection=fakeredis.FakeRedis(),
            id="erp_example_com__TS-000001_1795747880000",
        )
        assert (True, "TL-00000042") == (is_btu_job(job, SITE), task_log_of(job))


def test_task_log_missing() -> None:
    """A job without a task_log argument has none."""
    assert task_log_of(FakeJob("j", frappe_kwargs(log=None))) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Traceback (most recent call last):\n  ...\nValueError: boom\n\n", "ValueError: boom"),
        ("", ""),
        (None, ""),
    ],
)
def test_last_line(text: str | None, expected: str) -> None:
    """The exception line is the last non-blank line of the traceback."""
    assert expected == last_line(text)


def test_describe() -> None:
    """A row names the job, its queue (without the bench prefix), its log, time and error."""
    job = FakeJob("erp::TS-1_1", frappe_kwargs(), "a1b2c3:long", dt.datetime(2027, 3, 14, 7, 0))
    expected = {
        "job_id": "erp::TS-1_1",
        "queue": "long",
        "task_log": "TL-00000001",
        "failed_at": "2027-03-14T07:00:00+00:00",
        "error": "TaskFailed: boom",
    }
    assert expected == describe(job, "Traceback\nTaskFailed: boom")


class TestInRange:
    JOB = FakeJob("j", ended_at=dt.datetime(2027, 3, 14, 12, 0))

    @pytest.mark.parametrize(
        ("start", "end", "expected"),
        [
            (dt.datetime(2027, 3, 14, tzinfo=UTC), dt.datetime(2027, 3, 15, tzinfo=UTC), True),
            (dt.datetime(2027, 3, 14, 12, 0, 1, tzinfo=UTC), None, False),
            (None, dt.datetime(2027, 3, 14, 11, 59, tzinfo=UTC), False),
            (None, None, True),
        ],
    )
    def test_bounds(
        self, start: dt.datetime | None, end: dt.datetime | None, expected: bool
    ) -> None:
        """Failure times are compared in UTC, ends inclusive, open ends allowed."""
        assert expected == in_range(self.JOB, start, end)

    def test_unknown_time(self) -> None:
        """A job without an end time matches only an unbounded range."""
        job = FakeJob("j")
        assert (True, False) == (
            in_range(job, None, None),
            in_range(job, dt.datetime(2027, 1, 1, tzinfo=UTC), None),
        )


def test_select_newest_first() -> None:
    """BTU's jobs of the site are kept, newest failure first; None entries are skipped."""
    jobs = [
        FakeJob("old", frappe_kwargs(), ended_at=dt.datetime(2027, 1, 1)),
        FakeJob("foreign", frappe_kwargs(site="x"), ended_at=dt.datetime(2027, 2, 1)),
        None,
        FakeJob("new", frappe_kwargs(), ended_at=dt.datetime(2027, 3, 1)),
        FakeJob("undated", frappe_kwargs()),
    ]
    assert ["new", "old", "undated"] == [j.id for j in select(jobs, SITE)]  # type: ignore[arg-type]
