"""The schedule form's checks on the Frappe side."""

import time

import frappe
from frappe import _

from btu.core.frequency import FrequencySpec
from btu.core.schedules import Preview, ScheduleError, check_time_zone, preview


def checked_preview(spec: FrequencySpec, time_zone: str) -> Preview:
    """The schedule's cron, zone and description; an invalid one blocks the save."""
    try:
        return preview(spec, time_zone, int(time.time() * 1000))
    except ScheduleError as e:
        frappe.throw(str(e), title=_("Invalid schedule"))
    raise AssertionError("unreachable")


def checked_time_zone(name: str) -> str:
    try:
        return check_time_zone(name.strip())
    except ScheduleError as e:
        frappe.throw(str(e), title=_("Invalid time zone"))
    raise AssertionError("unreachable")
