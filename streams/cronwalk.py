"""Naive wall-clock iteration of a parsed cron expression.

A *wall time* here is an integer count of seconds since 1970-01-01 00:00:00 on a clock
that has no time zone and no daylight saving: the local date and time an expression is
written against, encoded like a UTC instant. :class:`WallWalker` answers "the first wall
time strictly after ``w`` that the expression matches" without knowing about zones;
:mod:`streams.tzmath` and :mod:`streams.cron` map wall times to real instants.

The search advances field by field (year, month, day, then hour, minute and second by
bisection), so an every-second expression costs O(1) per step and a leap-day expression
looks only at February days. It never goes past :data:`LAST_YEAR` (or the last value of
the year field) and returns ``None`` there.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left
from datetime import date

from streams.cronspec import CronSpec

DAY = 86_400
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
FIRST_ORDINAL = date(1, 1, 1).toordinal()
LAST_YEAR = 9999
_LAST_ORDINAL = date(LAST_YEAR, 12, 31).toordinal()
_MONTH_LENGTHS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class WallWalker:
    """Precomputed lookups for :meth:`next_wall` over one :class:`CronSpec`."""

    __slots__ = (
        "_day_always",
        "_dom_ok",
        "_dow_ok",
        "_every_day",
        "_first_time",
        "_hours",
        "_minutes",
        "_months",
        "_or_rule",
        "_seconds",
        "_years",
    )

    def __init__(self, spec: CronSpec) -> None:
        self._seconds = spec.seconds
        self._minutes = spec.minutes
        self._hours = spec.hours
        self._months = spec.months
        self._years = spec.years
        self._dom_ok = tuple(d in spec.doms for d in range(32))
        self._dow_ok = tuple(d in spec.dows for d in range(7))
        self._or_rule = spec.day_or_rule
        dom_full = len(spec.doms) == 31
        dow_full = len(spec.dows) == 7
        self._day_always = (dom_full or dow_full) if self._or_rule else (dom_full and dow_full)
        self._every_day = self._day_always and len(spec.months) == 12 and spec.years is None
        self._first_time = spec.hours[0] * 3600 + spec.minutes[0] * 60 + spec.seconds[0]

    def next_wall(self, after: int) -> int | None:
        """The first matching wall time strictly after ``after``, or None past the horizon."""
        day, second = divmod(after + 1, DAY)
        ordinal = day + EPOCH_ORDINAL
        if ordinal < FIRST_ORDINAL:
            ordinal, second = FIRST_ORDINAL, 0
        found = self.day_at_or_after(ordinal)
        if found == ordinal:
            time = self.time_at_or_after(second)
            if time is not None:
                return (found - EPOCH_ORDINAL) * DAY + time
            found = self.day_at_or_after(ordinal + 1)
        if found is None:
            return None
        return (found - EPOCH_ORDINAL) * DAY + self._first_time

    def time_at_or_after(self, second: int) -> int | None:
        """The first matching second of a day at or after ``second``, or None."""
        hours, minutes, seconds = self._hours, self._minutes, self._seconds
        hour, rest = divmod(second, 3600)
        minute, sec = divmod(rest, 60)
        i = bisect_left(hours, hour)
        if i == len(hours):
            return None
        if hours[i] == hour:
            j = bisect_left(minutes, minute)
            if j < len(minutes) and minutes[j] == minute:
                k = bisect_left(seconds, sec)
                if k < len(seconds):
                    return hour * 3600 + minute * 60 + seconds[k]
                j += 1
            if j < len(minutes):
                return hour * 3600 + minutes[j] * 60 + seconds[0]
            i += 1
            if i == len(hours):
                return None
        return hours[i] * 3600 + minutes[0] * 60 + seconds[0]

    def day_at_or_after(self, ordinal: int) -> int | None:
        """The first matching day (proleptic Gregorian ordinal) at or after ``ordinal``."""
        if ordinal > _LAST_ORDINAL:
            return None
        if self._every_day:
            return ordinal
        start = date.fromordinal(ordinal)
        year, month, day = start.year, start.month, start.day
        months = self._months
        while True:
            allowed = self._allowed_year(year)
            if allowed is None:
                return None
            if allowed != year:
                year, month, day = allowed, 1, 1
            for candidate in months[bisect_left(months, month) :]:
                found = self._day_in_month(year, candidate, day if candidate == month else 1)
                if found:
                    return date(year, candidate, found).toordinal()
            year, month, day = year + 1, 1, 1

    def _allowed_year(self, year: int) -> int | None:
        if self._years is None:
            return year if year <= LAST_YEAR else None
        i = bisect_left(self._years, year)
        return self._years[i] if i < len(self._years) else None

    def _day_in_month(self, year: int, month: int, day: int) -> int:
        """The first matching day of the month at or after ``day``, or 0."""
        length = _MONTH_LENGTHS[month]
        if month == 2 and not calendar.isleap(year):
            length = 28
        if self._day_always:
            return day if day <= length else 0
        dom_ok, dow_ok = self._dom_ok, self._dow_ok
        # Cron's day of week: 0 = Sunday. date.toordinal() % 7 is 0 on Sundays.
        dow = date(year, month, day).toordinal() % 7
        or_rule = self._or_rule
        for d in range(day, length + 1):
            if or_rule:
                if dom_ok[d] or dow_ok[dow]:
                    return d
            elif dom_ok[d] and dow_ok[dow]:
                return d
            dow = (dow + 1) % 7
        return 0
