"""The zone data past pytz's 2037 tables (streams/tzfile.py, streams/tzmath.py): every
zone of the database agrees with the standard library's zoneinfo reading the same file,
and the POSIX TZ rule forms the database uses are read right."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import pytz

from streams.tzfile import PosixRule, TzFileError, parse_rule
from streams.tzmath import BEGINNING, FOREVER, Zone, zone

YEAR_2038 = int(datetime(2038, 1, 1, tzinfo=timezone.utc).timestamp())
YEAR_10000 = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp())


def _offset(info: ZoneInfo, t: int) -> int:
    return datetime.fromtimestamp(t, tz=info).utcoffset() // timedelta(seconds=1)


def test_every_zone_agrees_with_zoneinfo_after_2037() -> None:
    """For every zone pytz knows: at random instants from 2038 to 9999, and one second
    before and at each change our tables list for 2040, the offset and abbreviation are
    zoneinfo's (pytz alone keeps the 2037 offset for ever)."""
    rng = random.Random(8)
    wrong: list[tuple[str, int, int, int]] = []
    for name in pytz.all_timezones:
        with pytz.open_resource(name) as f:  # type: ignore[attr-defined]
            info = ZoneInfo.from_file(f, key=name)
        table = zone(name)
        begin = int(datetime(2040, 1, 1, tzinfo=timezone.utc).timestamp())
        changes = [table.starts[i] for i in table.transitions_between(begin, begin + 366 * 86_400)]
        samples = [rng.randrange(YEAR_2038, YEAR_10000) for _ in range(40)]
        for t in [*samples, *changes, *(c - 1 for c in changes)]:
            ours = (table.offset_at(t), table.abbreviations[table.index(t)])
            theirs = (_offset(info, t), datetime.fromtimestamp(t, tz=info).tzname())
            if ours != theirs:
                wrong.append((name, t, ours[0], theirs[0]))
                break
    assert [] == wrong


@pytest.mark.parametrize(
    ("text", "year", "expected"),
    [
        # New York: second Sunday of March 02:00 EST, first Sunday of November 02:00 EDT.
        ("EST5EDT,M3.2.0,M11.1.0", 2045, ["2045-03-12T07:00", "2045-11-05T06:00"]),
        # Adelaide (southern): the year starts in summer time.
        ("ACST-9:30ACDT,M10.1.0,M4.1.0/3", 2045, ["2045-04-01T16:30", "2045-09-30T16:30"]),
        # Week 5: the last Sunday; a time of -1 h, the day before (Nuuk).
        ("<-02>2<-01>,M3.5.0/-1,M10.5.0/0", 2045, ["2045-03-26T01:00", "2045-10-29T01:00"]),
        # A time past 24 h on a weekday (Jerusalem: the Friday before the last Sunday).
        ("IST-2IDT,M3.4.4/26,M10.5.0", 2045, ["2045-03-24T00:00", "2045-10-28T23:00"]),
        # Julian days: J60 is 1 March even in a leap year; plain 59 is 29 February then
        # (the end of summer time is read on the summer clock).
        ("XST3XDT,J60/0,59/0", 2048, ["2048-02-29T02:00", "2048-03-01T03:00"]),
    ],
)
def test_rule_changes(text: str, year: int, expected: list[str]) -> None:
    """The instants (UTC) of a year's two changes for the rule forms in the database."""
    rule = parse_rule(text)
    assert isinstance(rule, PosixRule)
    got = [
        datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M")
        for t, _kind in rule.changes(year)
    ]
    assert expected == got


def test_rule_without_daylight_saving_and_bad_rules() -> None:
    """A TZ string without DST is a fixed offset; an empty one is None; an unreadable
    one is an error (the zone then keeps its last listed offset)."""
    assert ((19800, "IST"), None) == (parse_rule("IST-5:30"), parse_rule(""))
    with pytest.raises(TzFileError):
        parse_rule("EST5EDT")  # DST without its rule: zic never writes it


def test_all_year_daylight_saving_written_as_a_rule() -> None:
    """``EST5EDT,0/0,J365/25`` (DST from 1 January to past 31 December) is summer time
    all year: the empty standard-time segments between years are dropped."""
    rule = parse_rule("EST5EDT,0/0,J365/25")
    assert isinstance(rule, PosixRule)
    tz = Zone("Test/AllYear", [BEGINNING], [(-18_000, "EST")], rule)
    t = int(datetime(2045, 6, 1, tzinfo=timezone.utc).timestamp())
    jan = int(datetime(2046, 1, 1, 5, tzinfo=timezone.utc).timestamp())
    assert (-14_400, -14_400, -14_400) == (
        tz.offset_at(t),
        tz.offset_at(jan),
        tz.offset_at(jan - 1),
    )
    assert tz.index(t) == tz.index(jan)  # one segment across the new year


def test_a_zone_holds_segments_only_as_far_as_it_was_asked() -> None:
    """Rule years are generated on demand: asking about 2045 does not build 9999."""
    tz = Zone("Test/Lazy", [BEGINNING], [(-18_000, "EST")], parse_rule("EST5EDT,M3.2.0,M11.1.0"))  # type: ignore[arg-type]
    tz.offset_at(int(datetime(2045, 6, 1, tzinfo=timezone.utc).timestamp()))
    assert len(tz.starts) < 2 * 2 * (2045 - 1970 + 20)
    tz.offset_at(YEAR_10000)
    assert (FOREVER, True) == (tz.until, len(tz.starts) > 2 * (9999 - 1970))
