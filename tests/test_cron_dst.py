"""Fire instants across daylight-saving changes (PROTOCOL.md "Time", Debian cron(8) rules).

Dates used (2027): New York changes on 14 March (02:00 EST -> 03:00 EDT) and 7 November
(02:00 EDT -> 01:00 EST); London on 28 March (01:00 GMT -> 02:00 BST) and 31 October
(02:00 BST -> 01:00 GMT); Lord Howe on 4 April (02:00 +11 -> 01:30 +1030) and 3 October
(02:00 +1030 -> 02:30 +11).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
import pytz

from streams.cron import compile_schedule, explain, iso_local
from streams.cronspec import CronSpec, parse
from streams.tzmath import zone

NY = "America/New_York"
LONDON = "Europe/London"
LORD_HOWE = "Australia/Lord_Howe"
KOLKATA = "Asia/Kolkata"
ADELAIDE = "Australia/Adelaide"
MINUTE_MS = 60_000


def ms(text: str) -> int:
    """Epoch ms of an ISO 8601 instant with an offset."""
    return int(datetime.fromisoformat(text).timestamp()) * 1000


def fires(expr: str, tz: str, after: str, count: int) -> list[str]:
    """The next ``count`` fire instants, as ISO 8601 in the zone."""
    schedule = compile_schedule(expr, tz)
    return [iso_local(t, tz) for t in schedule.next_n(ms(after), count)]


CASES = [
    pytest.param(
        "30 2 * * *",
        NY,
        "2027-03-13T12:00:00-05:00",
        ["2027-03-14T03:00:00-04:00", "2027-03-15T02:30:00-04:00"],
        id="ny-spring-forward-fixed",
    ),
    pytest.param(
        "30 1 * * *",
        NY,
        "2027-11-06T12:00:00-04:00",
        ["2027-11-07T01:30:00-04:00", "2027-11-08T01:30:00-05:00"],
        id="ny-fall-back-fixed-first-only",
    ),
    pytest.param(
        "30 1 * * *",
        NY,
        "2027-11-07T01:10:00-05:00",
        ["2027-11-08T01:30:00-05:00"],
        id="ny-fall-back-fixed-after-inside-second-occurrence",
    ),
    pytest.param(
        "0 1 * * *",
        NY,
        "2027-11-06T12:00:00-04:00",
        ["2027-11-07T01:00:00-04:00", "2027-11-08T01:00:00-05:00"],
        id="ny-fall-back-fixed-overlap-start",
    ),
    pytest.param(
        "0,30 2 * * *",
        NY,
        "2027-03-13T12:00:00-05:00",
        ["2027-03-14T03:00:00-04:00", "2027-03-15T02:00:00-04:00"],
        id="ny-spring-forward-fixed-two-walls-coalesce",
    ),
    pytest.param(
        "0 2,3 * * *",
        NY,
        "2027-03-13T12:00:00-05:00",
        ["2027-03-14T03:00:00-04:00", "2027-03-15T02:00:00-04:00", "2027-03-15T03:00:00-04:00"],
        id="ny-spring-forward-fixed-gap-end-coalesces",
    ),
    pytest.param(
        "30 * * * *",
        NY,
        "2027-03-14T00:45:00-05:00",
        ["2027-03-14T01:30:00-05:00", "2027-03-14T03:30:00-04:00"],
        id="ny-spring-forward-star-skips",
    ),
    pytest.param(
        "30 * * * *",
        NY,
        "2027-11-07T00:45:00-04:00",
        ["2027-11-07T01:30:00-04:00", "2027-11-07T01:30:00-05:00", "2027-11-07T02:30:00-05:00"],
        id="ny-fall-back-star-fires-twice",
    ),
    pytest.param(
        "10 30 2 * * *",
        NY,
        "2027-03-13T12:00:00-05:00",
        ["2027-03-14T03:00:00-04:00", "2027-03-15T02:30:10-04:00"],
        id="ny-spring-forward-fixed-with-seconds",
    ),
    pytest.param(
        "* 30 2 * * *",
        NY,
        "2027-03-14T01:59:59-05:00",
        ["2027-03-14T03:00:00-04:00", "2027-03-15T02:30:00-04:00", "2027-03-15T02:30:01-04:00"],
        id="ny-spring-forward-fixed-every-second-of-a-skipped-minute",
    ),
    pytest.param(
        "30 1 * * *",
        LONDON,
        "2027-03-27T12:00:00+00:00",
        ["2027-03-28T02:00:00+01:00", "2027-03-29T01:30:00+01:00"],
        id="london-spring-forward-fixed",
    ),
    pytest.param(
        "30 1 * * *",
        LONDON,
        "2027-10-30T12:00:00+01:00",
        ["2027-10-31T01:30:00+01:00", "2027-11-01T01:30:00+00:00"],
        id="london-fall-back-fixed-first-only",
    ),
    pytest.param(
        "*/30 1 * * *",
        LONDON,
        "2027-10-31T00:45:00+01:00",
        [
            "2027-10-31T01:00:00+01:00",
            "2027-10-31T01:30:00+01:00",
            "2027-10-31T01:00:00+00:00",
            "2027-10-31T01:30:00+00:00",
            "2027-11-01T01:00:00+00:00",
        ],
        id="london-fall-back-star-fires-twice",
    ),
    pytest.param(
        "15 2 * * *",
        LORD_HOWE,
        "2027-10-02T12:00:00+10:30",
        ["2027-10-03T02:30:00+11:00", "2027-10-04T02:15:00+11:00"],
        id="lord-howe-spring-forward-fixed-half-hour",
    ),
    pytest.param(
        "30 2 * * *",
        LORD_HOWE,
        "2027-10-02T12:00:00+10:30",
        ["2027-10-03T02:30:00+11:00", "2027-10-04T02:30:00+11:00"],
        id="lord-howe-spring-forward-gap-end-exists",
    ),
    pytest.param(
        "*/15 2 * * *",
        LORD_HOWE,
        "2027-10-03T01:50:00+10:30",
        ["2027-10-03T02:30:00+11:00", "2027-10-03T02:45:00+11:00"],
        id="lord-howe-spring-forward-star-skips",
    ),
    pytest.param(
        "45 1 * * *",
        LORD_HOWE,
        "2027-04-03T12:00:00+11:00",
        ["2027-04-04T01:45:00+11:00", "2027-04-05T01:45:00+10:30"],
        id="lord-howe-fall-back-fixed-first-only",
    ),
    pytest.param(
        "*/15 1 * * *",
        LORD_HOWE,
        "2027-04-04T01:20:00+11:00",
        [
            "2027-04-04T01:30:00+11:00",
            "2027-04-04T01:45:00+11:00",
            "2027-04-04T01:30:00+10:30",
            "2027-04-04T01:45:00+10:30",
            "2027-04-05T01:00:00+10:30",
        ],
        id="lord-howe-fall-back-star-fires-twice",
    ),
    pytest.param(
        "30 2 * * *",
        KOLKATA,
        "2027-03-13T00:00:00+05:30",
        ["2027-03-13T02:30:00+05:30", "2027-03-14T02:30:00+05:30"],
        id="kolkata-no-dst-march",
    ),
    pytest.param(
        "30 1 * * *",
        KOLKATA,
        "2027-11-06T12:00:00+05:30",
        ["2027-11-07T01:30:00+05:30", "2027-11-08T01:30:00+05:30"],
        id="kolkata-no-dst-november",
    ),
    pytest.param(
        "0 0 31 * *",
        "UTC",
        "2027-01-31T00:00:00+00:00",
        [
            "2027-03-31T00:00:00+00:00",
            "2027-05-31T00:00:00+00:00",
            "2027-07-31T00:00:00+00:00",
            "2027-08-31T00:00:00+00:00",
        ],
        id="month-end-skips-short-months",
    ),
    pytest.param(
        "0 0 29 2 *",
        "UTC",
        "2025-03-01T00:00:00+00:00",
        ["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"],
        id="leap-day-next-leap-year",
    ),
    pytest.param(
        "0 0 29 2 *",
        NY,
        "2027-01-01T00:00:00-05:00",
        ["2028-02-29T00:00:00-05:00"],
        id="leap-day-in-a-zone",
    ),
    pytest.param(
        "0 0 * * *",
        "America/Santiago",
        "2027-09-04T12:00:00-04:00",
        ["2027-09-05T01:00:00-03:00", "2027-09-06T00:00:00-03:00"],
        id="santiago-midnight-skipped-fires-at-01",
    ),
    # Past 2037, where pytz's own tables stop: the zone file's POSIX rule (as zoneinfo).
    pytest.param(
        "30 2 * * *",
        NY,
        "2040-03-10T12:00:00-05:00",
        ["2040-03-11T03:00:00-04:00", "2040-03-12T02:30:00-04:00"],
        id="ny-2040-spring-forward-fixed",
    ),
    pytest.param(
        "30 1 * * *",
        NY,
        "2040-11-03T12:00:00-04:00",
        ["2040-11-04T01:30:00-04:00", "2040-11-05T01:30:00-05:00"],
        id="ny-2040-fall-back-fixed-first-only",
    ),
    pytest.param(
        "0 12 1 7 *",
        ADELAIDE,
        "2039-01-01T00:00:00+10:30",
        ["2039-07-01T12:00:00+09:30", "2040-07-01T12:00:00+09:30"],
        id="adelaide-2039-winter-is-standard-time",
    ),
    pytest.param(
        "30 2 * * *",
        ADELAIDE,
        "2045-09-30T12:00:00+09:30",
        ["2045-10-01T03:00:00+10:30", "2045-10-02T02:30:00+10:30"],
        id="adelaide-2045-spring-forward-fixed",
    ),
    pytest.param(
        "30 2 * * *",
        ADELAIDE,
        "2045-04-01T12:00:00+10:30",
        ["2045-04-02T02:30:00+10:30", "2045-04-03T02:30:00+09:30"],
        id="adelaide-2045-fall-back-fixed-first-only",
    ),
    pytest.param(
        "0 12 1 1,7 *",
        "Australia/Sydney",
        "2050-01-01T00:00:00+11:00",
        ["2050-01-01T12:00:00+11:00", "2050-07-01T12:00:00+10:00", "2051-01-01T12:00:00+11:00"],
        id="sydney-2050-summer-and-winter",
    ),
    pytest.param(
        "30 1 * * *",
        LONDON,
        "2060-03-27T12:00:00+00:00",
        ["2060-03-28T02:00:00+01:00", "2060-03-29T01:30:00+01:00"],
        id="london-2060-spring-forward-fixed",
    ),
    pytest.param(
        "*/30 1 * * *",
        LONDON,
        "2060-10-30T12:00:00+01:00",
        [
            "2060-10-31T01:00:00+01:00",
            "2060-10-31T01:30:00+01:00",
            "2060-10-31T01:00:00+00:00",
            "2060-10-31T01:30:00+00:00",
        ],
        id="london-2060-fall-back-interval-fires-twice",
    ),
    pytest.param(
        "0 12 1 7 *",
        ADELAIDE,
        "9000-01-01T00:00:00+10:30",
        ["9000-07-01T12:00:00+09:30"],
        id="adelaide-year-9000",
    ),
    pytest.param(
        "59 23 31 12 *",
        NY,
        "9999-06-01T00:00:00-04:00",
        [],
        id="ny-last-wall-time-maps-past-9999-utc-never-fires",
    ),
    pytest.param(
        "59 23 31 12 *",
        "Asia/Tokyo",
        "9999-06-01T00:00:00+09:00",
        ["9999-12-31T23:59:00+09:00"],
        id="tokyo-last-wall-time-of-9999",
    ),
]


@pytest.mark.parametrize(("expr", "tz", "after", "expected"), CASES)
def test_fire_instants(expr: str, tz: str, after: str, expected: list[str]) -> None:
    """The next fire instants follow the wall clock and Debian's DST rules."""
    assert expected == fires(expr, tz, after, len(expected))


def test_protocol_examples_in_utc() -> None:
    """PROTOCOL.md's examples: 07:00 UTC on 14 March and 05:30 UTC on 7 November 2027."""
    spring = compile_schedule("30 2 * * *", NY).next_after(ms("2027-03-14T00:00:00+00:00"))
    fall = compile_schedule("30 1 * * *", NY).next_n(ms("2027-11-07T00:00:00+00:00"), 2)
    assert (
        ms("2027-03-14T07:00:00+00:00"),
        [ms("2027-11-07T05:30:00+00:00"), ms("2027-11-08T06:30:00+00:00")],
    ) == (spring, fall)


REAL_TIME_CASES = [
    pytest.param("*/15 * * * *", NY, "2027-03-13T22:00:00-05:00", 15, id="ny-spring-15min"),
    pytest.param("*/15 * * * *", NY, "2027-11-06T22:00:00-04:00", 15, id="ny-fall-15min"),
    pytest.param("*/30 * * * *", NY, "2027-03-13T22:00:00-05:00", 30, id="ny-spring-30min"),
    pytest.param("*/30 * * * *", NY, "2027-11-06T22:00:00-04:00", 30, id="ny-fall-30min"),
    pytest.param("*/15 * * * *", LONDON, "2027-03-27T22:00:00+00:00", 15, id="london-spring"),
    pytest.param("*/15 * * * *", LONDON, "2027-10-30T22:00:00+01:00", 15, id="london-fall"),
    pytest.param("*/15 * * * *", LORD_HOWE, "2027-10-02T22:00:00+10:30", 15, id="lhi-spring"),
    pytest.param("*/15 * * * *", LORD_HOWE, "2027-04-03T22:00:00+11:00", 15, id="lhi-fall"),
]


@pytest.mark.parametrize(("expr", "tz", "after", "minutes"), REAL_TIME_CASES)
def test_interval_jobs_keep_real_time_spacing(expr: str, tz: str, after: str, minutes: int) -> None:
    """Every-N-minutes jobs fire every N minutes of real time through a DST change."""
    instants = compile_schedule(expr, tz).next_n(ms(after), 12 * 60 // minutes)
    gaps = {b - a for a, b in pairwise(instants)}
    assert {minutes * MINUTE_MS} == gaps


def test_fifteen_minute_job_skips_the_wall_clock_gap() -> None:
    """On the spring-forward day the wall clock reads 01:45 EST then 03:00 EDT."""
    local = fires("*/15 * * * *", NY, "2027-03-14T01:30:00-05:00", 3)
    assert [
        "2027-03-14T01:45:00-05:00",
        "2027-03-14T03:00:00-04:00",
        "2027-03-14T03:15:00-04:00",
    ] == local


class TestExplainNotes:
    def test_moved_instant_is_explained(self) -> None:
        """A fixed-time job moved by a jump forward gets a sentence saying so."""
        note = explain("30 2 * * *", NY, ms("2027-03-13T12:00:00-05:00"), 1)[0].note
        expected = (
            "02:30 does not exist on 2027-03-14 (clocks went forward); fired at 03:00 EDT instead"
        )
        assert expected == note

    def test_first_occurrence_only_is_explained(self) -> None:
        """A fixed-time job in a repeated hour says it fired at the first occurrence only."""
        note = explain("30 1 * * *", NY, ms("2027-11-06T12:00:00-04:00"), 1)[0].note
        expected = (
            "01:30 happens twice on 2027-11-07 (clocks went back); fired at the first one only"
        )
        assert expected == note

    def test_star_job_occurrences_are_explained(self) -> None:
        """A wall-clock job in a repeated hour names the first and the second occurrence."""
        notes = [i.note for i in explain("30 1 * * *", LONDON, ms("2027-10-30T12:00:00+01:00"), 2)]
        star = [i.note for i in explain("*/30 1 * * *", LONDON, ms("2027-10-31T01:15:00+01:00"), 2)]
        assert [
            "01:30 happens twice on 2027-10-31 (clocks went back); fired at the first one only",
            "",
        ] == notes
        assert [
            "01:30 happens twice on 2027-10-31 (clocks went back); this is the first one (BST)",
            "01:00 happens twice on 2027-10-31 (clocks went back); this is the second one (GMT)",
        ] == star

    def test_skipped_wall_times_are_explained(self) -> None:
        """A wall-clock job names the wall times a jump forward skipped before an instant."""
        instants = explain("*/30 * * * *", NY, ms("2027-03-14T01:15:00-05:00"), 2)
        expected = [
            ("2027-03-14T01:30:00-05:00", ""),
            (
                "2027-03-14T03:00:00-04:00",
                "02:00 and 02:30 were skipped on 2027-03-14: they do not exist (clocks went "
                "forward)",
            ),
        ]
        assert expected == [(i.local_iso, i.note) for i in instants]

    def test_coalesced_wall_times_are_counted(self) -> None:
        """Several skipped wall times of a fixed-time job are reported as one fire."""
        moved = explain("0-50/10 2 * * *", NY, ms("2027-03-14T01:00:00-05:00"), 1)[0]
        expected = (
            "2027-03-14T03:00:00-04:00",
            "6 wall times from 02:00 to 02:50 do not exist on 2027-03-14 (clocks went "
            "forward); fired once at 03:00 EDT instead",
        )
        assert expected == (moved.local_iso, moved.note)

    def test_wall_clock_job_skips_a_whole_skipped_hour(self) -> None:
        """A job whose minute field starts with '*' does not fire in the skipped hour."""
        skipped = explain("*/10 2 * * *", NY, ms("2027-03-14T01:00:00-05:00"), 1)[0]
        expected = (
            "2027-03-15T02:00:00-04:00",
            "6 wall times from 02:00 to 02:50 were skipped on 2027-03-14: they do not exist "
            "(clocks went forward)",
        )
        assert expected == (skipped.local_iso, skipped.note)

    def test_utc_and_local_text(self) -> None:
        """Each instant carries ISO 8601 text in the zone and in UTC."""
        first = explain("30 2 * * *", LORD_HOWE, ms("2027-01-01T00:00:00+11:00"), 1)[0]
        assert (
            ms("2027-01-01T02:30:00+11:00"),
            "2027-01-01T02:30:00+11:00",
            "2026-12-31T15:30:00Z",
        ) == (first.utc_ms, first.local_iso, first.utc_iso)


# An independent oracle: scan every UTC minute around each change with pytz's public API.


def _matches(spec: CronSpec, wall: datetime) -> bool:
    dow = (wall.weekday() + 1) % 7
    dom_ok, dow_ok = wall.day in spec.doms, dow in spec.dows
    day_ok = (dom_ok or dow_ok) if spec.day_or_rule else (dom_ok and dow_ok)
    return (
        wall.second in spec.seconds
        and wall.minute in spec.minutes
        and wall.hour in spec.hours
        and wall.month in spec.months
        and day_ok
    )


def _earliest(zone: pytz.BaseTzInfo, wall: datetime) -> datetime:
    try:
        return zone.localize(wall, is_dst=None).astimezone(pytz.utc)
    except pytz.AmbiguousTimeError:
        pair = [zone.localize(wall, is_dst=flag).astimezone(pytz.utc) for flag in (True, False)]
        return min(pair)


def oracle(expr: str, tz: str, start: datetime, hours: int) -> list[int]:
    """Minute-level fire instants in ``[start, start + hours)`` by brute force."""
    spec = parse(expr)
    zone = pytz.timezone(tz)
    fixed = spec.fixed_time
    out: list[int] = []
    previous_wall = start.astimezone(zone).replace(tzinfo=None) - timedelta(minutes=1)
    for minute in range(hours * 60):
        instant = start + timedelta(minutes=minute)
        wall = instant.astimezone(zone).replace(tzinfo=None)
        fire = _matches(spec, wall) and (not fixed or _earliest(zone, wall) == instant)
        if fixed and wall - previous_wall > timedelta(minutes=1):
            skipped = previous_wall + timedelta(minutes=1)
            while skipped < wall and not fire:
                fire = _matches(spec, skipped)
                skipped += timedelta(minutes=1)
        if fire:
            out.append(int(instant.timestamp()) * 1000)
        previous_wall = wall
    return out


ORACLE_EXPRESSIONS = [
    "30 2 * * *",
    "30 1 * * *",
    "0 1 * * *",
    "0,30 2 * * *",
    "0 2,3 * * *",
    "15 2 * * *",
    "45 1 * * *",
    "0 0 * * *",
    "30 * * * *",
    "*/30 * * * *",
    "*/15 1,2 * * *",
    "0-59/20 0-3 * * *",
]
ORACLE_WINDOWS = [
    pytest.param(NY, "2027-03-13T18:00:00-05:00", id="ny-spring"),
    pytest.param(NY, "2027-11-06T18:00:00-04:00", id="ny-fall"),
    pytest.param(LONDON, "2027-03-27T18:00:00+00:00", id="london-spring"),
    pytest.param(LONDON, "2027-10-30T18:00:00+01:00", id="london-fall"),
    pytest.param(LORD_HOWE, "2027-10-02T18:00:00+10:30", id="lord-howe-spring"),
    pytest.param(LORD_HOWE, "2027-04-03T18:00:00+11:00", id="lord-howe-fall"),
    pytest.param(KOLKATA, "2027-03-13T18:00:00+05:30", id="kolkata"),
    pytest.param("America/Santiago", "2027-09-04T18:00:00-04:00", id="santiago-spring"),
    pytest.param("America/Santiago", "2027-04-03T18:00:00-03:00", id="santiago-fall"),
]


@pytest.mark.parametrize(("tz", "start"), ORACLE_WINDOWS)
@pytest.mark.parametrize("expr", ORACLE_EXPRESSIONS)
def test_agrees_with_brute_force_oracle(expr: str, tz: str, start: str) -> None:
    """Over 12 hours around a change, the engine fires exactly when a minute scan does."""
    begin = datetime.fromisoformat(start)
    expected = oracle(expr, tz, begin, 12)
    schedule = compile_schedule(expr, tz)
    end = ms(start) + 12 * 3600 * 1000
    actual = [t for t in schedule.next_n(ms(start) - 1, len(expected) + 1) if t < end]
    assert expected == actual


@pytest.mark.parametrize(("tz", "start"), ORACLE_WINDOWS)
def test_next_after_is_strictly_after(tz: str, start: str) -> None:
    """next_after(t) > t, and asking one millisecond before a fire gives that fire."""
    schedule = compile_schedule("*/15 1,2 * * *", tz)
    for instant in schedule.next_n(ms(start), 16):
        following = schedule.next_after(instant)
        assert (True, instant) == (
            following is not None and following > instant,
            schedule.next_after(instant - 1),
        )


# Past 2037 (pytz's own tables stop there): the standard library's zoneinfo, reading the
# same file pytz ships, is the oracle.

LATE_ZONES = [NY, LONDON, ADELAIDE, "Australia/Sydney", LORD_HOWE, "America/Santiago"]
LATE_YEARS = [2038, 2039, 2051, 2077, 2100]


def _zoneinfo(tz: str) -> ZoneInfo:
    with pytz.open_resource(tz) as f:
        return ZoneInfo.from_file(f, key=tz)


def _changes(info: ZoneInfo, year: int) -> list[datetime]:
    """The UTC instants where ``info``'s offset changes during ``year`` (to the second)."""

    def offset(t: int) -> timedelta | None:
        return datetime.fromtimestamp(t, tz=info).utcoffset()

    out: list[datetime] = []
    day = int(datetime(year, 1, 1, tzinfo=timezone.utc).timestamp())
    end = int(datetime(year + 1, 1, 1, tzinfo=timezone.utc).timestamp())
    for lo in range(day, end, 86_400):
        hi = lo + 86_400
        if offset(lo) != offset(hi):
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if offset(mid) == offset(lo) else (lo, mid)
            out.append(datetime.fromtimestamp(hi, tz=timezone.utc))
    return out


def zoneinfo_oracle(expr: str, info: ZoneInfo, start: datetime, hours: int) -> list[int]:
    """Like :func:`oracle`, on zoneinfo's clock: fold=0 is the earlier of two."""
    spec = parse(expr)
    fixed = spec.fixed_time
    out: list[int] = []
    previous_wall = start.astimezone(info).replace(tzinfo=None) - timedelta(minutes=1)
    for minute in range(hours * 60):
        instant = start + timedelta(minutes=minute)
        wall = instant.astimezone(info).replace(tzinfo=None)
        earliest = wall.replace(tzinfo=info, fold=0).astimezone(timezone.utc)
        fire = _matches(spec, wall) and (not fixed or earliest == instant)
        if fixed and wall - previous_wall > timedelta(minutes=1):
            skipped = previous_wall + timedelta(minutes=1)
            while skipped < wall and not fire:
                fire = _matches(spec, skipped)
                skipped += timedelta(minutes=1)
        if fire:
            out.append(int(instant.timestamp()) * 1000)
        previous_wall = wall
    return out


@pytest.mark.parametrize("year", LATE_YEARS)
@pytest.mark.parametrize("tz", LATE_ZONES)
def test_offsets_after_2037_agree_with_zoneinfo(tz: str, year: int) -> None:
    """Every offset change of the year happens at zoneinfo's instant, with its offsets,
    and a sample every 6 hours shows zoneinfo's offset (pytz alone keeps the 2037 one)."""
    info, table = _zoneinfo(tz), zone(tz)
    expected = _changes(info, year)
    begin = int(datetime(year, 1, 1, tzinfo=timezone.utc).timestamp())
    end = int(datetime(year + 1, 1, 1, tzinfo=timezone.utc).timestamp())
    actual = [
        datetime.fromtimestamp(table.starts[i], tz=timezone.utc)
        for i in table.transitions_between(begin, end - 1)
    ]
    assert (2, expected) == (len(expected), actual)
    samples = range(begin, end, 6 * 3600)
    wrong = [
        (t, table.offset_at(t))
        for t in samples
        if table.offset_at(t)
        != datetime.fromtimestamp(t, tz=info).utcoffset() // timedelta(seconds=1)
    ]
    assert [] == wrong


@pytest.mark.parametrize("year", LATE_YEARS)
@pytest.mark.parametrize("tz", LATE_ZONES)
def test_fire_instants_after_2037_agree_with_zoneinfo_brute_force(tz: str, year: int) -> None:
    """Over 12 hours around each change of the year, every oracle expression fires
    exactly when a minute scan of zoneinfo's wall clock says (Debian rules included)."""
    info = _zoneinfo(tz)
    differences = []
    for change in _changes(info, year):
        start = change - timedelta(hours=6)
        after = int(start.timestamp()) * 1000
        for expr in ORACLE_EXPRESSIONS:
            expected = zoneinfo_oracle(expr, info, start, 12)
            schedule = compile_schedule(expr, tz)
            end = after + 12 * 3600 * 1000
            actual = [t for t in schedule.next_n(after - 1, len(expected) + 1) if t < end]
            if expected != actual:
                differences.append((expr, change.isoformat(), expected, actual))
    assert [] == differences
