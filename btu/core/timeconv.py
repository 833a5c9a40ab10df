"""Conversions between the Desk's naive datetimes (wall time of a zone) and the wire's
epoch milliseconds (UTC).

Frappe stores Datetime fields without a zone, in the site's system time zone. A wall
time that does not exist (skipped when clocks move forward) maps to the instant the
same number of minutes after the change; an ambiguous one (clocks moved back) maps to
its first occurrence, as ``zoneinfo`` does with ``fold=0``.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


class TimeZoneError(ValueError):
    """An unknown IANA time zone name."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise TimeZoneError(f"'{name}' is not a known time zone (IANA name expected).") from e


def parse_datetime(value: str | dt.datetime) -> dt.datetime:
    """A Desk Datetime value (``"YYYY-MM-DD HH:MM[:SS[.ffffff]]"`` or a datetime)."""
    if isinstance(value, dt.datetime):
        return value
    text = str(value).strip()
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError as e:
        raise ValueError(f"'{value}' is not a date and time like 2027-03-14 07:30.") from e


def to_epoch_ms(value: str | dt.datetime, tz: str) -> int:
    """Epoch milliseconds of a wall time in ``tz`` (aware datetimes keep their own zone)."""
    moment = parse_datetime(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(tz))
    # Integer arithmetic: no float rounding, sub-millisecond parts are dropped.
    delta = moment.astimezone(UTC) - EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def from_epoch_ms(ms: int, tz: str) -> dt.datetime:
    """The naive wall time in ``tz`` of an instant, as the Desk stores Datetime values."""
    moment = (EPOCH + dt.timedelta(milliseconds=ms)).astimezone(zone(tz))
    return moment.replace(tzinfo=None)


def utc_now_ms(now: dt.datetime) -> int:
    """Epoch ms of an aware ``now`` (the caller owns the clock)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return to_epoch_ms(now, "UTC")
