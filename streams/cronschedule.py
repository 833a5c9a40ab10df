"""Compiled schedules: a cron expression evaluated on the wall clock of one zone.

:class:`CronSchedule` maps the naive wall times of :class:`~streams.cronwalk.WallWalker`
to UTC instants with the offset segments of :class:`~streams.tzmath.Zone`, applying
Debian cron(8)'s daylight-saving rules (PROTOCOL.md, "Time"):

* a *fixed-time* job (neither the minute nor the hour field starts with ``*``) whose wall
  time is skipped by a jump forward fires once, at the instant of the jump (several
  skipped wall times, and a wall time equal to the end of the gap, coalesce into that
  one instant); a wall time that happens twice when clocks go back fires at its first
  occurrence only;
* any other job follows the wall clock: skipped wall times do not fire, repeated wall
  times fire at both occurrences.

Schedules are immutable and interned while in use: :func:`compile_schedule` returns the
same object for the same (expression, zone) as long as something (an armed item) holds
it, and forgets it when nothing does. ``next_after`` answers are memoized in one table
shared by all schedules and bounded in total (:data:`MEMO_ENTRIES`), so the thousands of
items sharing one pair compute each instant once, and memory does not grow with the
number of distinct expressions ever seen.
"""

from __future__ import annotations

import calendar
import threading
import time
import weakref
from bisect import bisect_right
from collections import OrderedDict
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from streams.crondescribe import describe_spec
from streams.cronspec import CronSpec, parse
from streams.cronwalk import DAY, WallWalker
from streams.errors import CronError
from streams.tzmath import Zone, validate_tz, zone

# Raw (expression, zone) spellings remembered with their normalized form (strings only).
CACHE_SIZE = 4_096
# next_after answers kept, all schedules together (about 200 bytes each: ~13 MB at most).
MEMO_ENTRIES = 65_536
# Every instant the engine gives is in the years 1-9999 UTC, so it can always be written
# as ISO 8601 text (PROTOCOL.md "Time"); a schedule whose next wall time maps past the
# end never fires again.
FIRST_SECOND = calendar.timegm((1, 1, 1, 0, 0, 0))
LAST_SECOND = calendar.timegm((9999, 12, 31, 23, 59, 59))


class CronSchedule:
    """An immutable, compiled (expression, zone) pair. Instants are epoch ms, UTC."""

    __slots__ = ("__weakref__", "_fixed_time", "_spec", "_walker", "_zone")

    def __init__(self, spec: CronSpec, tz: Zone) -> None:
        self._spec = spec
        self._zone = tz
        self._walker = WallWalker(spec)
        self._fixed_time = spec.fixed_time

    @property
    def expr(self) -> str:
        """The normalized expression (whitespace collapsed, aliases in lower case)."""
        return self._spec.expr

    @property
    def tz(self) -> str:
        """The zone name, as pytz spells it."""
        return self._zone.name

    @property
    def fixed_time(self) -> bool:
        """True when neither the minute nor the hour field starts with ``*``."""
        return self._fixed_time

    @property
    def spec(self) -> CronSpec:
        return self._spec

    @property
    def zone(self) -> Zone:
        return self._zone

    @property
    def walker(self) -> WallWalker:
        return self._walker

    def __repr__(self) -> str:
        return f"CronSchedule({self.expr!r}, {self.tz!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CronSchedule):
            return NotImplemented
        return (self.expr, self.tz) == (other.expr, other.tz)

    def __hash__(self) -> int:
        return hash((self.expr, self.tz))

    def next_after(self, after_ms: int) -> int | None:
        """The first fire instant strictly after ``after_ms``; None when it never fires
        again. Answers are memoized (the last :data:`MEMO_ENTRIES` questions asked of
        any schedule)."""
        key = (self._spec.expr, self._zone.name, after_ms)
        hit: int | None = _MEMO.get(key, _MISSING)
        if hit is not _MISSING:
            return hit
        found = self._next_second(after_ms // 1000)
        result = None if found is None else found * 1000
        _MEMO[key] = result
        while len(_MEMO) > MEMO_ENTRIES:
            try:
                _MEMO.popitem(last=False)
            except KeyError:  # another thread emptied it first
                break
        return result

    def next_n(self, after_ms: int, n: int) -> list[int]:
        """The next ``n`` fire instants after ``after_ms`` (fewer when the year field ends)."""
        out: list[int] = []
        current = after_ms // 1000
        while len(out) < n:
            found = self._next_second(current)
            if found is None:
                break
            out.append(found * 1000)
            current = found
        return out

    def describe(self) -> str:
        """Plain English, e.g. ``At 02:30 every day``."""
        return describe_spec(self._spec)

    def _next_second(self, after: int) -> int | None:
        """The first fire instant (UTC seconds) strictly after ``after``; None past
        :data:`LAST_SECOND`. Walks the zone's segments from the one holding ``after``."""
        tz, walker, fixed = self._zone, self._walker, self._fixed_time
        if after < FIRST_SECOND:
            after = FIRST_SECOND - 1
        table = tz.table
        if after >= table.until:
            table = tz.cover(after)  # generates later years of the zone's rule
        starts, offsets, _names, until = table
        i = bisect_right(starts, after) - 1
        while True:
            offset = offsets[i]
            local_after = after + offset
            if fixed and i > 0 and offsets[i - 1] > offset:
                # The segment starts where clocks went back: wall times before
                # start + old offset are second occurrences, which fixed jobs skip.
                local_after = max(local_after, starts[i] + offsets[i - 1] - 1)
            wall = walker.next_wall(local_after)
            if wall is None:
                return None
            utc = wall - offset
            if i + 1 < len(starts) and starts[i + 1] < until:
                end: int | None = starts[i + 1]
            else:
                end = tz.end(i)  # generates later years of the zone's rule
                starts, offsets, _names, until = tz.table
            if end is None or utc < end:
                return utc if utc <= LAST_SECOND else None
            if fixed and offsets[i + 1] > offset and wall < end + offsets[i + 1]:
                # A wall time in the gap: fire once, when the clocks jump.
                return end if end <= LAST_SECOND else None
            if utc - end > 2 * DAY:
                # No match before ``wall``: go straight to the segments around it.
                i = max(i + 1, tz.index(utc - 2 * DAY))
                starts, offsets, _names, until = tz.table
            else:
                i += 1
            after = starts[i] - 1


def compile_schedule(expr: str, tz: str) -> CronSchedule:
    """The compiled schedule of ``expr`` in zone ``tz``; CronError naming the bad field,
    the unknown zone, or an expression that can never fire. Cached: equal pairs (after
    normalization) give the same object."""
    if not isinstance(expr, str) or not isinstance(tz, str):
        parse(expr)  # raises the CronError for a non-string expression
        validate_tz(tz)
    return _compile_text(expr, tz)


@lru_cache(maxsize=CACHE_SIZE)
def _normalized(expr: str, tz: str) -> tuple[str, str]:
    return parse(expr).expr, validate_tz(tz)


def _compile_text(expr: str, tz: str) -> CronSchedule:
    key = _normalized(expr, tz)
    schedule = _INTERNED.get(key)
    if schedule is None:
        built = CronSchedule(parse(key[0]), zone(key[1]))
        _check_can_fire(built)
        with _INTERN_LOCK:
            schedule = _INTERNED.setdefault(key, built)
    return schedule


def interned() -> list[CronSchedule]:
    """The compiled schedules something still holds (tests and diagnostics)."""
    return [s for s in list(_INTERNED.values()) if s is not None]


def memo_size() -> int:
    """How many ``next_after`` answers are memoized, all schedules together."""
    return len(_MEMO)


_MISSING: Any = object()
_MEMO: OrderedDict[tuple[str, str, int], int | None] = OrderedDict()
_INTERNED: weakref.WeakValueDictionary[tuple[str, str], CronSchedule] = (
    weakref.WeakValueDictionary()
)
_INTERN_LOCK = threading.Lock()


def validate(expr: str, tz: str, *, now_ms: int | None = None) -> CronSchedule:
    """Like :func:`compile_schedule`, and also a CronError when the expression never fires
    after ``now_ms`` (default: the current time), e.g. a year field in the past."""
    schedule = compile_schedule(expr, tz)
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    if not FIRST_SECOND <= now // 1000 <= LAST_SECOND:
        raise CronError(f"instant {now} ms is outside the years 1-9999")
    if schedule.next_after(now) is None:
        when = datetime.fromtimestamp(now // 1000, tz=timezone.utc)
        message = f"{schedule.expr!r} can never fire after {when:%Y-%m-%dT%H:%M:%SZ}"
        years = schedule.spec.years
        if years is not None and years[-1] < when.year:
            message += f": its year field {schedule.spec.fields[6]!r} is in the past"
        raise CronError(message)
    return schedule


def _check_can_fire(schedule: CronSchedule) -> None:
    spec = schedule.spec
    if spec.years is not None:
        first = calendar.timegm((spec.years[0], 1, 1, 0, 0, 0)) - 1
        if schedule.walker.next_wall(first) is None:
            raise CronError(
                f"{spec.expr!r} can never fire: no day in year field {spec.fields[6]!r} "
                "matches the day-of-month, month and day-of-week fields"
            )
        return
    if spec.day_or_rule or spec.dom_star:
        return  # some day of every allowed month matches in some year
    longest = max(29 if m == 2 else calendar.monthrange(2001, m)[1] for m in spec.months)
    if spec.doms[0] > longest:
        raise CronError(
            f"{spec.expr!r} can never fire: day-of-month field {spec.fields[3]!r} never "
            f"occurs in month field {spec.fields[4]!r}"
        )
