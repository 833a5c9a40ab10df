"""Report aggregations: Task Log Statistics and Schedule Overview."""

from __future__ import annotations

import datetime as dt

from btu.core.stats import percentile, schedule_overview, task_log_statistics

T0 = dt.datetime(2027, 3, 1, 8, 0)


def log(task: str, status: str, minutes: int, duration: float | None, schedule: str | None = None):  # type: ignore[no-untyped-def]
    return {
        "task": task,
        "schedule": schedule,
        "status": status,
        "duration": duration,
        "started": T0 + dt.timedelta(minutes=minutes),
    }


LOGS = [
    log("Export", "Success", 0, 2.0, "TS-1"),
    log("Export", "Success", 10, 4.0, "TS-1"),
    log("Export", "Failed", 20, 1.0, "TS-1"),
    log("Export", "Timeout", 30, 300.0, "TS-2"),
    log("Digest", "Success", 5, 0.5),
    log("Digest", "Queued", 50, None),
    log("Digest", "Cancelled", 40, None),
]


def test_percentile_nearest_rank() -> None:
    """Nearest-rank percentiles: p50 and p95 of a small list, None when empty."""
    assert (2.0, 4.0, None) == (
        percentile([4.0, 1.0, 2.0, 3.0], 50),
        percentile([4.0, 1.0, 2.0, 3.0], 95),
        percentile([], 95),
    )


def test_task_log_statistics() -> None:
    """One row per task with outcome counts, success rate of finished runs and durations."""
    expected = [
        {
            "task": "Digest",
            "runs": 3,
            "success": 1,
            "failed": 0,
            "timeout": 0,
            "cancelled": 1,
            "in_flight": 1,
            "success_rate": 100.0,
            "avg_duration": 0.5,
            "p95_duration": 0.5,
            "max_duration": 0.5,
            "last_run": T0 + dt.timedelta(minutes=50),
            "last_outcome": "Queued",
        },
        {
            "task": "Export",
            "runs": 4,
            "success": 2,
            "failed": 1,
            "timeout": 1,
            "cancelled": 0,
            "in_flight": 0,
            "success_rate": 50.0,
            "avg_duration": 76.75,
            "p95_duration": 300.0,
            "max_duration": 300.0,
            "last_run": T0 + dt.timedelta(minutes=30),
            "last_outcome": "Timeout",
        },
    ]
    assert expected == task_log_statistics(LOGS)


def test_no_logs() -> None:
    """No logs, no rows."""
    assert [] == task_log_statistics([])


def test_schedule_overview() -> None:
    """Each schedule gets its next run, last run, outcome, run count and average duration."""
    schedules = [
        {
            "name": "TS-1",
            "task": "Export",
            "enabled": 1,
            "cron_expression": "0 * * * *",
            "time_zone": "UTC",
            "description": "Every hour",
        },
        {
            "name": "TS-3",
            "task": "Export",
            "enabled": 0,
            "cron_expression": "0 0 * * *",
            "time_zone": "UTC",
            "description": "Daily",
            "last_run": T0,
            "last_outcome": "Success",
        },
    ]
    rows = schedule_overview(schedules, LOGS, next_run=lambda row: f"next of {row['name']}")
    expected = [
        {
            "schedule": "TS-1",
            "task": "Export",
            "enabled": 1,
            "cron_expression": "0 * * * *",
            "time_zone": "UTC",
            "description": "Every hour",
            "next_run": "next of TS-1",
            "last_run": T0 + dt.timedelta(minutes=20),
            "last_outcome": "Failed",
            "runs": 3,
            "failures": 1,
            "avg_duration": 2.333,
        },
        {
            "schedule": "TS-3",
            "task": "Export",
            "enabled": 0,
            "cron_expression": "0 0 * * *",
            "time_zone": "UTC",
            "description": "Daily",
            "next_run": "next of TS-3",
            "last_run": T0,
            "last_outcome": "Success",
            "runs": 0,
            "failures": 0,
            "avg_duration": None,
        },
    ]
    assert expected == rows
