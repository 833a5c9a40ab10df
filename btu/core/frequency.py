"""The schedule form's frequency helper: Hourly, Daily, Weekly, Monthly, Yearly or Cron,
turned into a cron expression evaluated on the wall clock of the schedule's time zone.

Seconds in the time of day produce a six-field expression (seconds first), as the cron
syntax of PROTOCOL.md allows; otherwise the classic five fields are written.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from streams.crondescribe import MONTHS as CRON_MONTHS

FREQUENCIES = ("Hourly", "Daily", "Weekly", "Monthly", "Yearly", "Cron")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# cron's day-of-week numbers: Sunday is 0.
WEEKDAY_NUMBER = {day: (i + 1) % 7 for i, day in enumerate(WEEKDAYS)}
MONTHS = CRON_MONTHS[1:]  # the same names the schedule descriptions use
DAYS_IN_MONTH = dict(zip(MONTHS, (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31), strict=True))

_TIME = re.compile(r"^\s*(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.\d+)?)?\s*$")


class FrequencyError(ValueError):
    """The helper's fields do not describe a schedule; the message names the field."""


@dataclass(frozen=True, slots=True)
class FrequencySpec:
    """The helper fields of a Task Schedule form."""

    frequency: str
    minute: int = 0
    time_of_day: str | dt.time | dt.timedelta | None = None
    weekday: str | None = None
    day_of_month: int = 1
    month: str | None = None
    cron: str = ""


def parse_time_of_day(value: str | dt.time | dt.timedelta | None) -> tuple[int, int, int]:
    """(hour, minute, second) from a Desk Time value: ``"HH:MM[:SS]"``, a ``time``, or the
    ``timedelta`` MariaDB returns for Time columns. Empty means midnight."""
    if value is None or value == "":
        return 0, 0, 0
    if isinstance(value, dt.timedelta):
        total = int(value.total_seconds())
        if not 0 <= total < 86_400:
            raise FrequencyError("Time of Day must be between 00:00 and 23:59:59.")
        return total // 3600, total % 3600 // 60, total % 60
    if isinstance(value, dt.time):
        return value.hour, value.minute, value.second
    match = _TIME.match(str(value))
    if not match:
        raise FrequencyError(f"Time of Day '{value}' is not a time like 07:30.")
    hour, minute, second = (int(g or 0) for g in match.groups())
    if hour > 23 or minute > 59 or second > 59:
        raise FrequencyError(f"Time of Day '{value}' is not a time between 00:00 and 23:59:59.")
    return hour, minute, second


def _int(value: object, field: str, lo: int, hi: int) -> int:
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError) as e:
        raise FrequencyError(f"{field} must be a whole number from {lo} to {hi}.") from e
    if not lo <= number <= hi:
        raise FrequencyError(f"{field} must be from {lo} to {hi}, not {number}.")
    return number


def _choice(value: str | None, field: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise FrequencyError(f"Choose the {field} ({', '.join(choices)}).")
    return value


def _clock(spec: FrequencySpec) -> tuple[str, int]:
    """The leading ``[sec] min hour`` fields and the hour, from Time of Day."""
    hour, minute, second = parse_time_of_day(spec.time_of_day)
    lead = f"{minute} {hour}" if second == 0 else f"{second} {minute} {hour}"
    return lead, hour


def to_cron(spec: FrequencySpec) -> str:
    """The cron expression for ``spec`` (local wall time of the schedule's zone)."""
    frequency = _choice(spec.frequency, "frequency", FREQUENCIES)
    if frequency == "Cron":
        expression = " ".join((spec.cron or "").split())
        if not expression:
            raise FrequencyError("Enter a cron expression, e.g. '30 7 * * 1-5'.")
        return expression
    if frequency == "Hourly":
        return f"{_int(spec.minute, 'Minute', 0, 59)} * * * *"
    lead, _hour = _clock(spec)
    if frequency == "Daily":
        return f"{lead} * * *"
    if frequency == "Weekly":
        day = _choice(spec.weekday, "day of the week", WEEKDAYS)
        return f"{lead} * * {WEEKDAY_NUMBER[day]}"
    day_of_month = _int(spec.day_of_month, "Day of Month", 1, 31)
    if frequency == "Monthly":
        return f"{lead} {day_of_month} * *"
    month = _choice(spec.month, "month", MONTHS)
    if day_of_month > DAYS_IN_MONTH[month]:
        raise FrequencyError(
            f"{month} has at most {DAYS_IN_MONTH[month]} days, so day {day_of_month} never comes."
        )
    return f"{lead} {day_of_month} {MONTHS.index(month) + 1} *"


def notes(spec: FrequencySpec) -> list[str]:
    """Plain-English caveats worth showing next to the description."""
    out: list[str] = []
    if spec.frequency == "Monthly":
        day = int(spec.day_of_month or 1)
        if day > 28:
            out.append(f"Months with fewer than {day} days are skipped.")
    if (
        spec.frequency == "Yearly"
        and spec.month == "February"
        and int(spec.day_of_month or 1) == 29
    ):
        out.append("Runs only in leap years.")
    return out
