"""Fire instants as text, with a sentence for each one a daylight-saving change affected.

Used by ``btu-scheduler explain`` and by the daemon's ``reload`` reply (:func:`iso_local`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from streams.cronschedule import CronSchedule, compile_schedule
from streams.errors import CronError
from streams.tzmath import Zone, validate_tz, zone

MAX_LISTED_WALLS = 1000
_EPOCH = datetime(1970, 1, 1)
_FIRST = int((datetime.min - _EPOCH).total_seconds())
_LAST = int((datetime.max - _EPOCH).total_seconds())


@dataclass(frozen=True, slots=True)
class FireInstant:
    """One fire instant: epoch ms, ISO 8601 in the zone and in UTC, and a DST note."""

    utc_ms: int
    local_iso: str
    utc_iso: str
    note: str = ""


def iso_local(ms: int, tz: str) -> str:
    """Instant ``ms`` as ISO 8601 on the wall clock of ``tz``, with its offset:
    ``2027-03-14T03:00:00-04:00`` (milliseconds only when not zero)."""
    return zone_iso(ms, zone(validate_tz(tz)))


def iso_utc(ms: int) -> str:
    """Instant ``ms`` as ISO 8601 UTC: ``2027-03-14T07:00:00Z``."""
    return _wall_text(ms // 1000, ms % 1000) + "Z"


def zone_iso(ms: int, tz: Zone) -> str:
    """Like :func:`iso_local` for an already looked-up :class:`Zone`."""
    offset = tz.offset_at(ms // 1000)
    return _wall_text(ms // 1000 + offset, ms % 1000) + offset_text(offset)


def offset_text(offset: int) -> str:
    """``-04:00``, ``+10:30``; seconds only when the offset has them (old local times)."""
    sign = "-" if offset < 0 else "+"
    hours, rest = divmod(abs(offset), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")


def _wall_text(wall: int, millis: int = 0) -> str:
    if not _FIRST <= wall <= _LAST:
        raise CronError(f"instant {wall * 1000 + millis} ms is outside the years 1-9999")
    text = (_EPOCH + timedelta(seconds=wall)).isoformat(timespec="seconds")
    return f"{text}.{millis:03d}" if millis else text


def explain(expr: str, tz: str, after_ms: int, count: int) -> list[FireInstant]:
    """The next ``count`` fire instants of ``expr`` in ``tz`` strictly after ``after_ms``,
    each with a note when a daylight-saving change moved it, made it a first or second
    occurrence of a repeated wall time, or skipped wall times just before it."""
    schedule = compile_schedule(expr, tz)
    tz_zone = schedule.zone
    out: list[FireInstant] = []
    previous = after_ms // 1000
    for ms in schedule.next_n(after_ms, count):
        second = ms // 1000
        note = "; ".join(_notes(schedule, previous, second))
        out.append(FireInstant(ms, zone_iso(ms, tz_zone), iso_utc(ms), note))
        previous = second
    return out


def _notes(schedule: CronSchedule, previous: int, fire: int) -> list[str]:
    """Sentences about the fire at ``fire`` (UTC seconds); the previous one was at
    ``previous``."""
    tz = schedule.zone
    end = tz.end(tz.index(fire))  # first: they may publish a longer table
    i = tz.index(fire)
    starts, offsets = tz.starts, tz.offsets
    notes: list[str] = []
    if schedule.fixed_time:
        if i > 0 and starts[i] == fire and offsets[i] > offsets[i - 1]:
            notes.extend(_gap_note(schedule, i, moved=True))
    else:
        for j in tz.transitions_between(previous, fire):
            if offsets[j] > offsets[j - 1]:
                notes.extend(_gap_note(schedule, j, moved=False))
    wall = fire + offsets[i]
    twice = f"{_clock(schedule, wall)} happens twice on {_date(wall)} (clocks went back)"
    if end is not None and offsets[i + 1] < offsets[i] and wall >= end + offsets[i + 1]:
        if schedule.fixed_time:
            notes.append(f"{twice}; fired at the first one only")
        else:
            notes.append(f"{twice}; this is the first one ({tz.abbreviations[i]})")
    repeated = i > 0 and offsets[i - 1] > offsets[i] and wall < starts[i] + offsets[i - 1]
    if repeated and not schedule.fixed_time:
        notes.append(f"{twice}; this is the second one ({tz.abbreviations[i]})")
    return notes


def _gap_note(schedule: CronSchedule, j: int, *, moved: bool) -> list[str]:
    """The sentence for the wall times the jump forward starting segment ``j`` skipped."""
    tz = schedule.zone
    low = tz.starts[j] + tz.offsets[j - 1]
    high = tz.starts[j] + tz.offsets[j]
    walls: list[int] = []
    wall = low - 1
    while len(walls) < MAX_LISTED_WALLS:
        found = schedule.walker.next_wall(wall)
        if found is None or found >= high:
            break
        walls.append(found)
        wall = found
    if not walls:
        return []
    clocks = [_clock(schedule, w) for w in walls]
    if len(walls) == 1:
        what, verb = clocks[0], "does"
    elif len(walls) == 2:
        what, verb = f"{clocks[0]} and {clocks[1]}", "do"
    else:
        more = "or more " if len(walls) == MAX_LISTED_WALLS else ""
        what, verb = f"{len(walls)} {more}wall times from {clocks[0]} to {clocks[-1]}", "do"
    day = _date(low)
    if moved:
        once = " once" if len(walls) > 1 else ""
        instead = f"{_clock(schedule, high)} {tz.abbreviations[j]}"
        return [
            f"{what} {verb} not exist on {day} (clocks went forward); fired{once} at "
            f"{instead} instead"
        ]
    if len(walls) == 1:
        return [f"{what} was skipped on {day}: it does not exist (clocks went forward)"]
    return [f"{what} were skipped on {day}: they do not exist (clocks went forward)"]


def _clock(schedule: CronSchedule, wall: int) -> str:
    """``02:30``, or ``02:30:10`` for expressions with seconds other than 0."""
    text = _wall_text(wall)[11:]
    return text if schedule.spec.seconds != (0,) else text[:5]


def _date(wall: int) -> str:
    return _wall_text(wall)[:10]
