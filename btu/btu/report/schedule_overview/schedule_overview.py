"""Schedule Overview: every schedule with its next run, last run and outcome, and the
number, failures and average duration of its runs in the period."""

from btu.services.reports import schedule_overview_report


def execute(filters=None):
    return schedule_overview_report(dict(filters or {}))
