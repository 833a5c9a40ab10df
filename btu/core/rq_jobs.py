"""The RQ failed-jobs panel: which failed jobs are BTU's, and how they are shown.

Frappe wraps every job: RQ's kwargs are ``{"site", "user", "method", "job_name",
"kwargs": {...}}`` and the method BTU enqueues is :data:`RUNNER`. Functions here take
any object with ``id``, ``kwargs``, ``origin`` and ``ended_at`` (an ``rq.job.Job``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

RUNNER = "btu.runner.run_task"


class JobLike(Protocol):
    id: str
    origin: str
    ended_at: dt.datetime | None

    @property
    def kwargs(self) -> Mapping[str, Any]: ...


def is_btu_job(job: JobLike, site: str) -> bool:
    """A job of this site that runs a BTU task."""
    kwargs = job.kwargs or {}
    return kwargs.get("site") == site and kwargs.get("method") == RUNNER


def task_log_of(job: JobLike) -> str | None:
    inner = (job.kwargs or {}).get("kwargs") or {}
    value = inner.get("task_log")
    return str(value) if value else None


def last_line(exc_string: str | None) -> str:
    """The exception line of a traceback (its last non-blank line)."""
    for line in reversed((exc_string or "").splitlines()):
        if line.strip():
            return line.strip()
    return ""


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    # RQ stores naive UTC datetimes.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def describe(job: JobLike, exc_string: str | None) -> dict[str, Any]:
    """A row of the panel."""
    ended = _utc(job.ended_at)
    return {
        "job_id": job.id,
        "queue": (job.origin or "").rsplit(":", 1)[-1],
        "task_log": task_log_of(job),
        "failed_at": ended.isoformat() if ended else None,
        "error": last_line(exc_string),
    }


def in_range(job: JobLike, start: dt.datetime | None, end: dt.datetime | None) -> bool:
    """Whether the job failed within ``[start, end]`` (aware datetimes; open ends allowed)."""
    ended = _utc(job.ended_at)
    if ended is None:
        return start is None and end is None
    if start is not None and ended < start:
        return False
    return not (end is not None and ended > end)


def select(jobs: Iterable[JobLike], site: str) -> list[JobLike]:
    """BTU's jobs of ``site``, newest failure first."""
    mine = [j for j in jobs if j is not None and is_btu_job(j, site)]
    floor = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    return sorted(mine, key=lambda j: _utc(j.ended_at) or floor, reverse=True)
