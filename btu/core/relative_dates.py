"""Report filters with dates relative to the run, evaluated in a time zone.

A filter value that is a string starting with ``@`` is a relative date:

* ``@today``, ``@yesterday``, ``@tomorrow``, ``@today-7``, ``@today+1`` (days);
* a period: ``@this_week``, ``@last_week``, ``@this_month``, ``@last_month``,
  ``@this_quarter``, ``@last_quarter``, ``@this_year``, ``@last_year``,
  ``@last_7_days``, ``@last_30_days``; alone it is the ``[start, end]`` pair a date-range
  filter takes, ``@last_month.start`` and ``@last_month.end`` are its first and last day.

"Today" is the date of the run's instant in the schedule's time zone: a delivery at
00:30 in Paris on a Monday reports on the Sunday before, although it is still Sunday in
UTC. Weeks start on ``week_start`` (0 = Monday ... 6 = Sunday). Dates come out as
``YYYY-MM-DD``, as Frappe's report filters take them. Any other value is kept as is;
``@@text`` is the literal ``@text``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from btu.core.timeconv import TimeZoneError, zone

PERIODS = (
    "this_week",
    "last_week",
    "this_month",
    "last_month",
    "this_quarter",
    "last_quarter",
    "this_year",
    "last_year",
    "last_7_days",
    "last_30_days",
)
_DAY = re.compile(r"^@(today|yesterday|tomorrow)(?:([+-])(\d{1,4}))?$")
_PERIOD = re.compile(rf"^@({'|'.join(PERIODS)})(?:\.(start|end))?$")


class RelativeDateError(ValueError):
    """A relative date that cannot be read; the message names it and lists what can."""


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date

    def text(self) -> str:
        if self.start == self.end:
            return self.start.isoformat()
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


def local_today(now: dt.datetime, tz: str) -> dt.date:
    """The date of the aware instant ``now`` in ``tz``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    try:
        return now.astimezone(zone(tz)).date()
    except TimeZoneError as e:
        raise RelativeDateError(str(e)) from e


def _month_start(day: dt.date, back: int = 0) -> dt.date:
    index = day.year * 12 + (day.month - 1) - back
    return dt.date(index // 12, index % 12 + 1, 1)


def _month_end(start: dt.date) -> dt.date:
    return _month_start(start, back=-1) - dt.timedelta(days=1)


def period(name: str, today: dt.date, week_start: int = 0) -> Period:
    """The named period around ``today`` (its first and last day, inclusive)."""
    if name in ("this_week", "last_week"):
        start = today - dt.timedelta(days=(today.weekday() - week_start) % 7)
        if name == "last_week":
            start -= dt.timedelta(days=7)
        return Period(start, start + dt.timedelta(days=6))
    if name in ("this_month", "last_month"):
        start = _month_start(today, 1 if name == "last_month" else 0)
        return Period(start, _month_end(start))
    if name in ("this_quarter", "last_quarter"):
        first = _month_start(today, (today.month - 1) % 3)
        start = _month_start(first, 3) if name == "last_quarter" else first
        return Period(start, _month_end(_month_start(start, -2)))
    if name in ("this_year", "last_year"):
        year = today.year - (1 if name == "last_year" else 0)
        return Period(dt.date(year, 1, 1), dt.date(year, 12, 31))
    if name in ("last_7_days", "last_30_days"):
        days = 7 if name == "last_7_days" else 30
        return Period(today - dt.timedelta(days=days), today - dt.timedelta(days=1))
    raise RelativeDateError(f"'{name}' is not a period ({', '.join(PERIODS)}).")


def _help() -> str:
    return (
        "use @today, @yesterday, @tomorrow, @today-N, @today+N, or a period "
        f"({', '.join('@' + p for p in PERIODS)}) optionally followed by .start or .end"
    )


def resolve_value(value: Any, today: dt.date, week_start: int = 0) -> tuple[Any, Period | None]:
    """One filter value resolved, and the period it names (None for a single day or a
    value that is not relative)."""
    if not isinstance(value, str) or not value.startswith("@"):
        return value, None
    if value.startswith("@@"):
        return value[1:], None
    text = value.strip()
    day = _DAY.match(text)
    if day:
        base = {"today": 0, "yesterday": -1, "tomorrow": 1}[day.group(1)]
        offset = int(day.group(3) or 0) * (-1 if day.group(2) == "-" else 1)
        moment = today + dt.timedelta(days=base + offset)
        return moment.isoformat(), None
    match = _PERIOD.match(text)
    if match:
        span = period(match.group(1), today, week_start)
        part = match.group(2)
        if part == "start":
            return span.start.isoformat(), span
        if part == "end":
            return span.end.isoformat(), span
        return [span.start.isoformat(), span.end.isoformat()], span
    raise RelativeDateError(f"'{value}' is not a relative date: {_help()}.")


def _walk(value: Any, today: dt.date, week_start: int, periods: list[Period]) -> Any:
    if isinstance(value, Mapping):
        return {k: _walk(v, today, week_start, periods) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, today, week_start, periods) for v in value]
    resolved, span = resolve_value(value, today, week_start)
    if span is not None and span not in periods:
        periods.append(span)
    return resolved


@dataclass(frozen=True)
class Resolved:
    filters: Any
    today: dt.date
    period: Period  # the first period the filters name, else the run's day

    @property
    def period_text(self) -> str:
        return self.period.text()


def resolve_filters(filters: Any, now: dt.datetime, tz: str, week_start: int = 0) -> Resolved:
    """Every relative date in ``filters`` (a dict, or a list of filter rows) resolved for
    a run at the aware instant ``now`` in ``tz``."""
    if not 0 <= week_start <= 6:
        raise RelativeDateError(f"week_start must be 0 (Monday) to 6 (Sunday), not {week_start}.")
    today = local_today(now, tz)
    periods: list[Period] = []
    out = _walk(filters, today, week_start, periods)
    return Resolved(
        filters=out, today=today, period=periods[0] if periods else Period(today, today)
    )


__all__ = [
    "PERIODS",
    "Period",
    "RelativeDateError",
    "Resolved",
    "local_today",
    "period",
    "resolve_filters",
    "resolve_value",
]
