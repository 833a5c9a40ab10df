"""Task Log Statistics: per task, runs by outcome, success rate and durations."""

from btu.services.reports import task_log_statistics_report


def execute(filters=None):
    return task_log_statistics_report(dict(filters or {}))
