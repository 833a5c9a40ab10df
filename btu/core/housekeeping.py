"""House-keeping decisions: how far back Task Logs are kept, and what a stale log (a
worker killed, a job lost) should become.

RQ calls BTU's failure callback when a job raises or hits its timeout, but not when the
work horse is killed outright (out of memory, ``kill -9``) or the job vanishes from
Redis. The periodic sweep closes those logs with a reason instead of leaving them
Queued or In Progress forever.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

QUEUED = "Queued"
IN_PROGRESS = "In Progress"
FAILED = "Failed"
TIMEOUT = "Timeout"

# RQ job states (rq.job.JobStatus values).
ALIVE = frozenset({"queued", "started", "deferred", "scheduled"})
DEAD = frozenset({"failed", "stopped", "canceled"})
FINISHED = "finished"


def retention_cutoff(now: dt.datetime, days: int | None) -> dt.datetime | None:
    """Logs created before the returned instant are removed; ``None`` keeps everything
    (retention of 0 days or less means "keep forever")."""
    if not days or days <= 0:
        return None
    return now - dt.timedelta(days=int(days))


@dataclass(frozen=True, slots=True)
class LogFacts:
    """What the sweep knows about one unfinished Task Log."""

    status: str
    created: dt.datetime
    started: dt.datetime | None
    max_duration_s: float
    job_state: str | None  # None: the RQ job no longer exists


@dataclass(frozen=True, slots=True)
class SweepPolicy:
    queued_grace_s: float = 600.0  # a job missing this long after the log was created is lost
    running_grace_s: float = 120.0  # slack past the time limit before declaring a timeout
    settle_s: float = 60.0  # time for RQ's own failure callback to write its verdict


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str
    reason: str


def _age(now: dt.datetime, then: dt.datetime | None) -> float:
    return (now - then).total_seconds() if then else 0.0


def _queued(facts: LogFacts, now: dt.datetime, policy: SweepPolicy) -> Verdict | None:
    age = _age(now, facts.created)
    if facts.job_state in ALIVE:
        return None
    if facts.job_state in DEAD and age >= policy.settle_s:
        return Verdict(FAILED, f"The job was {facts.job_state} before the task started.")
    if facts.job_state == FINISHED and age >= policy.settle_s:
        return Verdict(FAILED, "The job ended without running the task.")
    if facts.job_state is None and age >= policy.queued_grace_s:
        return Verdict(
            FAILED,
            "The job disappeared from the queue before it started "
            "(Redis restarted without persistence, or the job expired).",
        )
    return None


def _running(facts: LogFacts, now: dt.datetime, policy: SweepPolicy) -> Verdict | None:
    elapsed = _age(now, facts.started or facts.created)
    limit = facts.max_duration_s + policy.running_grace_s
    if facts.job_state in ALIVE:
        if elapsed >= limit:
            return Verdict(
                TIMEOUT,
                f"Still marked running {int(elapsed)} s after it started, past its limit of "
                f"{int(facts.max_duration_s)} s.",
            )
        return None
    if elapsed < policy.settle_s:
        return None
    if facts.job_state in DEAD:
        return Verdict(
            FAILED,
            f"The worker stopped while the task was running (RQ job {facts.job_state}; "
            "killed, out of memory, or restarted).",
        )
    if facts.job_state == FINISHED:
        return Verdict(FAILED, "The job ended without recording the task's result.")
    if elapsed >= limit:
        return Verdict(
            TIMEOUT,
            f"No result {int(elapsed)} s after it started (limit {int(facts.max_duration_s)} s) "
            "and the job is gone: the worker was probably killed.",
        )
    return None


def sweep_verdict(
    facts: LogFacts, now: dt.datetime, policy: SweepPolicy | None = None
) -> Verdict | None:
    """What an unfinished log should become now, or ``None`` to leave it alone."""
    policy = policy or SweepPolicy()
    if facts.status == QUEUED:
        return _queued(facts, now, policy)
    if facts.status == IN_PROGRESS:
        return _running(facts, now, policy)
    return None


def run_is_due(status: str) -> bool:
    """Whether the runner should run a log in ``status``: only Queued logs run, so a
    repeated delivery of the same job never runs the task twice."""
    return status == QUEUED
