"""Retention cut-off and the sweep's decisions about unfinished Task Logs."""

from __future__ import annotations

import datetime as dt

import pytest

from btu.core.housekeeping import (
    FAILED,
    IN_PROGRESS,
    QUEUED,
    TIMEOUT,
    LogFacts,
    SweepPolicy,
    Verdict,
    retention_cutoff,
    run_is_due,
    sweep_verdict,
)

NOW = dt.datetime(2027, 3, 14, 12, 0, 0)
POLICY = SweepPolicy(queued_grace_s=600, running_grace_s=120, settle_s=60)


def ago(seconds: float) -> dt.datetime:
    return NOW - dt.timedelta(seconds=seconds)


class TestRetention:
    @pytest.mark.parametrize(
        ("days", "expected"),
        [
            (30, dt.datetime(2027, 2, 12, 12, 0, 0)),
            (1, dt.datetime(2027, 3, 13, 12, 0, 0)),
            (0, None),
            (-5, None),
            (None, None),
        ],
    )
    def test_cutoff(self, days: int | None, expected: dt.datetime | None) -> None:
        """Logs older than the retention go; zero or less keeps everything."""
        assert expected == retention_cutoff(NOW, days)


def queued(age: float, job_state: str | None) -> LogFacts:
    return LogFacts(QUEUED, ago(age), None, 300, job_state)


def running(started_ago: float, job_state: str | None, limit: float = 300) -> LogFacts:
    return LogFacts(IN_PROGRESS, ago(started_ago + 5), ago(started_ago), limit, job_state)


class TestSweep:
    @pytest.mark.parametrize(
        ("facts", "expected"),
        [
            pytest.param(queued(3600, "queued"), None, id="queued-job-waiting"),
            pytest.param(queued(30, None), None, id="queued-just-created"),
            pytest.param(queued(599, None), None, id="queued-missing-within-grace"),
            pytest.param(
                queued(601, None),
                Verdict(
                    FAILED,
                    "The job disappeared from the queue before it started (Redis restarted "
                    "without persistence, or the job expired).",
                ),
                id="queued-lost",
            ),
            pytest.param(
                queued(120, "canceled"),
                Verdict(FAILED, "The job was canceled before the task started."),
                id="queued-canceled",
            ),
            pytest.param(queued(30, "failed"), None, id="queued-failed-settling"),
            pytest.param(
                queued(120, "finished"),
                Verdict(FAILED, "The job ended without running the task."),
                id="queued-finished",
            ),
        ],
    )
    def test_queued(self, facts: LogFacts, expected: Verdict | None) -> None:
        """Queued logs are closed only when their job is dead or lost past the grace."""
        assert expected == sweep_verdict(facts, NOW, POLICY)

    @pytest.mark.parametrize(
        ("facts", "expected"),
        [
            pytest.param(running(100, "started"), None, id="running-fine"),
            pytest.param(running(419, "started"), None, id="running-within-grace"),
            pytest.param(
                running(421, "started"),
                Verdict(
                    TIMEOUT,
                    "Still marked running 421 s after it started, past its limit of 300 s.",
                ),
                id="running-past-limit",
            ),
            pytest.param(
                running(90, "failed"),
                Verdict(
                    FAILED,
                    "The worker stopped while the task was running (RQ job failed; killed, out "
                    "of memory, or restarted).",
                ),
                id="horse-killed",
            ),
            pytest.param(running(30, "failed"), None, id="failure-callback-settling"),
            pytest.param(
                running(90, "finished"),
                Verdict(FAILED, "The job ended without recording the task's result."),
                id="finished-without-result",
            ),
            pytest.param(running(200, None), None, id="job-gone-within-limit"),
            pytest.param(
                running(500, None),
                Verdict(
                    TIMEOUT,
                    "No result 500 s after it started (limit 300 s) and the job is gone: the "
                    "worker was probably killed.",
                ),
                id="job-gone-past-limit",
            ),
        ],
    )
    def test_in_progress(self, facts: LogFacts, expected: Verdict | None) -> None:
        """Running logs become Failed when the worker died and Timeout past their limit."""
        assert expected == sweep_verdict(facts, NOW, POLICY)

    @pytest.mark.parametrize("status", ["Success", "Failed", "Timeout", "Cancelled"])
    def test_finished_logs_are_left_alone(self, status: str) -> None:
        """Finished logs are never touched by the sweep."""
        facts = LogFacts(status, ago(99_999), ago(99_999), 1, None)
        assert sweep_verdict(facts, NOW, POLICY) is None

    def test_default_policy(self) -> None:
        """Without a policy the defaults apply (a lost queued job after ten minutes)."""
        assert FAILED == sweep_verdict(queued(601, None), NOW).status  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("status", "expected"),
    [("Queued", True), ("In Progress", False), ("Success", False), ("Failed", False)],
)
def test_run_is_due(status: str, expected: bool) -> None:
    """Only a Queued log runs: a second delivery of the same job does nothing."""
    assert expected == run_is_due(status)
