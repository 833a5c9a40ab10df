"""Desk datetimes (wall time of a zone) to and from epoch milliseconds."""

from __future__ import annotations

import datetime as dt

import pytest

from btu.core.timeconv import TimeZoneError, from_epoch_ms, parse_datetime, to_epoch_ms, zone


@pytest.mark.parametrize(
    ("wall", "tz", "expected_ms"),
    [
        pytest.param("1970-01-01 00:00:00", "UTC", 0, id="epoch"),
        pytest.param("2027-03-14 07:30:00", "UTC", 1_805_009_400_000, id="utc"),
        pytest.param("2027-07-01 09:00:00", "Asia/Kolkata", 1_814_412_600_000, id="kolkata"),
        pytest.param("2027-01-15 12:00:00.250000", "Europe/Paris", 1_800_010_800_250, id="millis"),
        pytest.param(
            "2027-03-14 02:30:00", "America/New_York", 1_805_009_400_000, id="dst-gap-moves-forward"
        ),
        pytest.param(
            "2027-11-07 01:30:00", "America/New_York", 1_825_565_400_000, id="dst-overlap-first"
        ),
    ],
)
def test_to_epoch_ms(wall: str, tz: str, expected_ms: int) -> None:
    """A wall time in a zone becomes the right UTC instant, DST edges included."""
    assert expected_ms == to_epoch_ms(wall, tz)


def test_aware_datetime_keeps_its_zone() -> None:
    """An aware datetime is converted from its own zone, not the given one."""
    moment = dt.datetime(2027, 1, 1, 0, 0, tzinfo=dt.timezone.utc)
    assert 1_798_761_600_000 == to_epoch_ms(moment, "Asia/Tokyo")


@pytest.mark.parametrize(
    ("ms", "tz", "expected"),
    [
        pytest.param(1_805_009_400_000, "UTC", dt.datetime(2027, 3, 14, 7, 30), id="utc"),
        pytest.param(
            1_805_009_400_000, "America/New_York", dt.datetime(2027, 3, 14, 3, 30), id="ny"
        ),
        pytest.param(
            1_800_010_800_250, "Europe/Paris", dt.datetime(2027, 1, 15, 12, 0, 0, 250_000), id="ms"
        ),
    ],
)
def test_from_epoch_ms(ms: int, tz: str, expected: dt.datetime) -> None:
    """An instant becomes the naive wall time of the zone, as the Desk stores it."""
    assert expected == from_epoch_ms(ms, tz)


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata", "America/Sao_Paulo", "Australia/Lord_Howe"])
def test_round_trip(tz: str) -> None:
    """Converting to ms and back gives the same wall time for ordinary times."""
    wall = dt.datetime(2027, 6, 15, 10, 45, 30)
    assert wall == from_epoch_ms(to_epoch_ms(wall, tz), tz)


def test_unknown_zone() -> None:
    """An unknown zone name is refused with a readable message."""
    with pytest.raises(TimeZoneError) as info:
        zone("Mars/Olympus_Mons")
    assert "'Mars/Olympus_Mons' is not a known time zone (IANA name expected)." == str(info.value)


def test_bad_datetime_text() -> None:
    """Text that is not a date and time is refused with an example."""
    with pytest.raises(ValueError, match="not a date and time like"):
        parse_datetime("next tuesday")
