"""UTC offsets of a time zone as a list of segments, from pytz's tz database.

A :class:`Zone` cuts the UTC time line at every offset change. Inside one segment the
wall clock is ``utc + offset`` and moves at the speed of real time, so a wall time maps
to at most one instant there; at a segment's end the clock either jumps forward (a gap:
some wall times never happen) or back (an overlap: some wall times happen twice).
Instants and wall times are integer seconds (see :mod:`streams.cronwalk`).

The segments come from the zone file pytz ships, read as :mod:`zoneinfo` reads it
(:mod:`streams.tzfile`): its listed transitions, then the POSIX rule that follows them.
pytz itself stops at 2037 and keeps the last offset for ever; here the rule's changes are
generated year by year, on demand, up to the year 9999 (a zone asked about 2040 holds
segments up to about 2040, not up to 9999). Zones without transitions (``UTC``,
``Etc/GMT+5``) and zones whose rule has no daylight saving end in one endless segment.

Thread safety: the segments are one immutable :class:`Table`, replaced (never changed)
when more years are generated. Segments that start before :attr:`Zone.until` never change
again, so an index found for an instant before it stays valid in every later table.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from datetime import date
from functools import lru_cache
from typing import NamedTuple

import pytz

from streams.errors import CronError
from streams.tzfile import PosixRule, TzFileError, parse_rule, read_tzif

BEGINNING = -(2**62)  # the start of the first segment: before any representable instant
FOREVER = 2**62  # "until" of a zone that never changes again
MAX_ZONE_NAME = 255
LAST_RULE_YEAR = 9999  # rule changes are generated up to this year
_YEARS_PER_EXTENSION = 8
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class Table(NamedTuple):
    """One consistent view of a zone's segments."""

    starts: tuple[int, ...]  # starts[0] is BEGINNING
    offsets: tuple[int, ...]  # seconds east of UTC
    abbreviations: tuple[str, ...]
    until: int  # segments that start before this instant are final


def _year_start(year: int) -> int:
    return (date(year, 1, 1).toordinal() - _EPOCH_ORDINAL) * 86_400


class Zone:
    """The offset segments of one IANA zone, extended on demand by its POSIX rule."""

    __slots__ = ("_floor", "_lock", "_next_year", "_rule", "name", "table")

    def __init__(
        self,
        name: str,
        starts: list[int],
        types: list[tuple[int, str]],
        rule: PosixRule | None = None,
    ) -> None:
        self.name = name
        self._rule = rule
        self._lock = threading.Lock()
        # The rule applies strictly after the last listed change, from its year on.
        self._floor = starts[-1]
        self._next_year = 1970 if self._floor == BEGINNING else _year_of(self._floor)
        until = FOREVER if rule is None else self._floor + 1
        self.table = Table(
            tuple(starts),
            tuple(t[0] for t in types),
            tuple(t[1] for t in types),
            until,
        )

    # -- views (tests and explanations; the hot paths unpack ``table``) ---------------

    @property
    def starts(self) -> tuple[int, ...]:
        return self.table.starts

    @property
    def offsets(self) -> tuple[int, ...]:
        return self.table.offsets

    @property
    def abbreviations(self) -> tuple[str, ...]:
        return self.table.abbreviations

    @property
    def until(self) -> int:
        return self.table.until

    # -- questions ----------------------------------------------------------------------

    def cover(self, utc: int) -> Table:
        """A table whose final segments reach past instant ``utc``."""
        table = self.table
        if utc < table.until:
            return table
        with self._lock:
            while utc >= self.table.until:
                self._extend(utc)
            return self.table

    def index(self, utc: int) -> int:
        """The segment containing instant ``utc``."""
        return bisect_right(self.cover(utc).starts, utc) - 1

    def end(self, i: int) -> int | None:
        """The instant segment ``i`` ends (the next segment's start), or None: never.
        Segment ``i`` must start before :attr:`until` (any index :meth:`index` gave)."""
        table = self.table
        while True:
            starts = table.starts
            if i + 1 < len(starts) and starts[i + 1] < table.until:
                return starts[i + 1]
            if table.until >= FOREVER:
                return starts[i + 1] if i + 1 < len(starts) else None
            table = self.cover(starts[i + 1] if i + 1 < len(starts) else table.until)

    def offset_at(self, utc: int) -> int:
        i = self.index(utc)  # first: it may publish a longer table
        return self.table.offsets[i]

    def wall(self, utc: int) -> int:
        """The wall time at instant ``utc``."""
        i = self.index(utc)
        return utc + self.table.offsets[i]

    def to_utc(self, wall: int) -> int:
        """The earliest instant showing ``wall``; for a wall time skipped by a jump
        forward, the instant of the jump."""
        low = self.index(wall - 2 * 86_400)
        high = self.index(wall + 2 * 86_400)
        offsets, starts = self.table.offsets, self.table.starts
        for i in range(low, high + 1):
            utc = wall - offsets[i]
            end = self.end(i)
            if utc >= starts[i] and (end is None or utc < end):
                return utc
        for i in range(max(low, 1), high + 1):
            if starts[i] + offsets[i - 1] <= wall < starts[i] + offsets[i]:
                return starts[i]
        raise AssertionError(f"wall time {wall} not placed in zone {self.name}")  # unreachable

    def transitions_between(self, after: int, until: int) -> range:
        """Indices of the segments that start in ``(after, until]``."""
        starts = self.cover(until).starts
        return range(bisect_right(starts, after), bisect_right(starts, until))

    # -- generating rule years --------------------------------------------------------

    def _extend(self, target: int) -> None:
        """Add the rule's changes of the years up to ``target``'s and a few more (lock
        held). The copy is private until published: readers never see a half-built
        table."""
        old = self.table
        rule = self._rule
        assert rule is not None
        if self._next_year > LAST_RULE_YEAR:
            self.table = old._replace(until=FOREVER)
            return
        starts, offsets = list(old.starts), list(old.offsets)
        names = list(old.abbreviations)
        first = self._next_year
        stop = min(max(first, _year_of(target)) + _YEARS_PER_EXTENSION, LAST_RULE_YEAR + 1)
        for year in range(first, stop):
            for instant, (offset, name) in rule.changes(year):
                if instant <= self._floor:
                    continue  # the listed changes say what happens up to there
                if instant == starts[-1] and starts[-1] > self._floor:
                    # Two changes at one instant (all-year DST written as a rule): the
                    # segment between them is empty. It started after ``until``, so no
                    # reader relies on it yet.
                    starts.pop(), offsets.pop(), names.pop()
                if instant <= starts[-1] or (offsets[-1], names[-1]) == (offset, name):
                    continue
                starts.append(instant)
                offsets.append(offset)
                names.append(name)
        self._next_year = stop
        # Changes of the years not generated yet happen no earlier than nine days before
        # their 1 January (a rule time may be -167 h, an offset -26 h): all before is final.
        until = FOREVER if stop > LAST_RULE_YEAR else _year_start(stop) - 9 * 86_400
        self.table = Table(tuple(starts), tuple(offsets), tuple(names), max(until, old.until))


def _year_of(utc: int) -> int:
    """The UTC year of instant ``utc``, clamped to 1-9999."""
    ordinal = min(max(_EPOCH_ORDINAL + utc // 86_400, 1), date.max.toordinal())
    return date.fromordinal(ordinal).year


def validate_tz(tz: object) -> str:
    """The canonical spelling of zone ``tz`` (pytz's, e.g. ``us/eastern`` -> ``US/Eastern``);
    CronError ``unknown time zone 'Mars/Base'`` otherwise."""
    if not isinstance(tz, str):
        raise CronError(f"time zone must be a string, not {type(tz).__name__}")
    return zone(tz).name


@lru_cache(maxsize=1024)
def zone(name: str) -> Zone:
    """The :class:`Zone` called ``name`` (any case); one object per canonical name."""
    if not name or len(name) > MAX_ZONE_NAME:
        raise CronError(f"unknown time zone {name!r}")
    try:
        info = pytz.timezone(name)
    except pytz.UnknownTimeZoneError as e:
        raise CronError(f"unknown time zone {name!r}") from e
    return _zone(str(info.zone))


@lru_cache(maxsize=1024)
def _zone(canonical: str) -> Zone:
    with pytz.open_resource(canonical) as f:  # type: ignore[attr-defined]
        data = read_tzif(f.read())
    starts = [BEGINNING]
    types = [data.before]
    for instant, kind in zip(data.times, data.types, strict=True):
        if kind == types[-1]:
            continue  # not a change of offset or abbreviation
        if instant <= starts[-1]:
            types[-1] = kind
            continue
        starts.append(instant)
        types.append(kind)
    try:
        rule = parse_rule(data.rule)
    except TzFileError:
        rule = None  # an unreadable rule: keep the last listed offset, as pytz does
    if not isinstance(rule, PosixRule):
        rule = None  # no daylight saving after the listed changes: the last offset stays
    return Zone(canonical, starts, types, rule)
