"""UTC offsets of a time zone as a list of segments, from pytz's database.

A :class:`Zone` cuts the UTC time line at every offset change. Inside one segment the
wall clock is ``utc + offset`` and moves at the speed of real time, so a wall time maps
to at most one instant there; at a segment's end the clock either jumps forward (a gap:
some wall times never happen) or back (an overlap: some wall times happen twice).
Instants and wall times are integer seconds (see :mod:`streams.cronwalk`).

pytz limitation: its compiled tables list transitions only up to 2037 (the 32-bit data of
the zoneinfo files it ships). After a zone's last listed transition pytz, and therefore
this module, keeps that transition's offset for ever: no daylight-saving changes are
applied from 2038 on (New York stays on EST, London on GMT). Zones without transitions
(``UTC``, ``Etc/GMT+5``) are one segment.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import pytz

from streams.errors import CronError

BEGINNING = -(2**62)  # the start of the first segment: before any representable instant
MAX_ZONE_NAME = 255
_EPOCH = datetime(1970, 1, 1)
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Zone:
    """The offset segments of one IANA zone; ``starts[0]`` is :data:`BEGINNING`."""

    name: str
    starts: tuple[int, ...]
    offsets: tuple[int, ...]  # seconds east of UTC
    abbreviations: tuple[str, ...]

    def index(self, utc: int) -> int:
        """The segment containing instant ``utc``."""
        return bisect_right(self.starts, utc) - 1

    def end(self, i: int) -> int | None:
        """The instant segment ``i`` ends (the next segment's start), or None: never."""
        return self.starts[i + 1] if i + 1 < len(self.starts) else None

    def offset_at(self, utc: int) -> int:
        return self.offsets[self.index(utc)]

    def wall(self, utc: int) -> int:
        """The wall time at instant ``utc``."""
        return utc + self.offsets[self.index(utc)]

    def to_utc(self, wall: int) -> int:
        """The earliest instant showing ``wall``; for a wall time skipped by a jump
        forward, the instant of the jump."""
        low = self.index(wall - 2 * 86_400)
        high = self.index(wall + 2 * 86_400)
        for i in range(low, high + 1):
            utc = wall - self.offsets[i]
            end = self.end(i)
            if utc >= self.starts[i] and (end is None or utc < end):
                return utc
        for i in range(max(low, 1), high + 1):
            if self.starts[i] + self.offsets[i - 1] <= wall < self.starts[i] + self.offsets[i]:
                return self.starts[i]
        raise AssertionError(f"wall time {wall} not placed in zone {self.name}")  # unreachable

    def transitions_between(self, after: int, until: int) -> range:
        """Indices of the segments that start in ``(after, until]``."""
        return range(bisect_right(self.starts, after), bisect_right(self.starts, until))


def validate_tz(tz: object) -> str:
    """The canonical spelling of zone ``tz`` (pytz's, e.g. ``us/eastern`` -> ``US/Eastern``);
    CronError ``unknown time zone 'Mars/Base'`` otherwise."""
    if not isinstance(tz, str):
        raise CronError(f"time zone must be a string, not {type(tz).__name__}")
    return zone(tz).name


@lru_cache(maxsize=1024)
def zone(name: str) -> Zone:
    """The :class:`Zone` called ``name`` (any case), built once per name."""
    if not name or len(name) > MAX_ZONE_NAME:
        raise CronError(f"unknown time zone {name!r}")
    try:
        info = pytz.timezone(name)
    except pytz.UnknownTimeZoneError as e:
        raise CronError(f"unknown time zone {name!r}") from e
    canonical = str(info.zone)
    times = getattr(info, "_utc_transition_times", None)
    details = getattr(info, "_transition_info", None)
    if not times or not details:
        probe = datetime(2000, 1, 1)
        delta = info.utcoffset(probe) or timedelta(0)
        return Zone(canonical, (BEGINNING,), (delta // _SECOND,), (info.tzname(probe) or "",))
    starts: list[int] = []
    offsets: list[int] = []
    names: list[str] = []
    for moment, (delta, _dst, abbreviation) in zip(times, details, strict=True):
        starts.append(BEGINNING if not starts else (moment - _EPOCH) // _SECOND)
        offsets.append(delta // _SECOND)
        names.append(str(abbreviation))
    return Zone(canonical, tuple(starts), tuple(offsets), tuple(names))
