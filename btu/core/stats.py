"""Aggregations behind the reports: Task Log Statistics and Schedule Overview."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

OUTCOMES = ("Success", "Failed", "Timeout", "Cancelled")


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(slots=True)
class _Bucket:
    runs: int = 0
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    durations: list[float] = field(default_factory=list)
    last_run: Any = None
    last_outcome: str = ""


def _bucketize(rows: Iterable[Mapping[str, Any]], key: str) -> dict[str, _Bucket]:
    buckets: dict[str, _Bucket] = defaultdict(_Bucket)
    for row in rows:
        name = row.get(key)
        if not name:
            continue
        bucket = buckets[str(name)]
        status = str(row.get("status") or "")
        bucket.runs += 1
        bucket.counts[status] += 1
        if status in ("Success", "Failed", "Timeout") and row.get("duration") is not None:
            bucket.durations.append(float(row["duration"]))
        started = row.get("started") or row.get("creation")
        if started is not None and (bucket.last_run is None or started > bucket.last_run):
            bucket.last_run = started
            bucket.last_outcome = status
    return buckets


def _avg(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def task_log_statistics(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per task: runs, outcomes, success rate (of finished runs), durations."""
    out = []
    for task, bucket in sorted(_bucketize(rows, "task").items()):
        finished = sum(bucket.counts[s] for s in ("Success", "Failed", "Timeout"))
        rate = round(100.0 * bucket.counts["Success"] / finished, 1) if finished else None
        p95 = percentile(bucket.durations, 95)
        out.append(
            {
                "task": task,
                "runs": bucket.runs,
                "success": bucket.counts["Success"],
                "failed": bucket.counts["Failed"],
                "timeout": bucket.counts["Timeout"],
                "cancelled": bucket.counts["Cancelled"],
                "in_flight": bucket.counts["Queued"] + bucket.counts["In Progress"],
                "success_rate": rate,
                "avg_duration": _avg(bucket.durations),
                "p95_duration": round(p95, 3) if p95 is not None else None,
                "max_duration": round(max(bucket.durations), 3) if bucket.durations else None,
                "last_run": bucket.last_run,
                "last_outcome": bucket.last_outcome,
            }
        )
    return out


def schedule_overview(
    schedules: Iterable[Mapping[str, Any]],
    logs: Iterable[Mapping[str, Any]],
    next_run: Callable[[Mapping[str, Any]], str],
) -> list[dict[str, Any]]:
    """One row per schedule: its settings, its next run (``next_run(schedule)``), and
    from its logs the last run, last outcome, number of runs and average duration."""
    buckets = _bucketize(logs, "schedule")
    out = []
    for row in schedules:
        bucket = buckets.get(str(row["name"]), _Bucket())
        out.append(
            {
                "schedule": row["name"],
                "task": row.get("task"),
                "enabled": int(row.get("enabled") or 0),
                "cron_expression": row.get("cron_expression"),
                "time_zone": row.get("time_zone"),
                "description": row.get("description"),
                "next_run": next_run(row),
                "last_run": bucket.last_run or row.get("last_run"),
                "last_outcome": bucket.last_outcome or row.get("last_outcome") or "",
                "runs": bucket.runs,
                "failures": bucket.counts["Failed"] + bucket.counts["Timeout"],
                "avg_duration": _avg(bucket.durations),
            }
        )
    return out
