"""What a compiled zone file says: its transitions and the rule that follows them.

A TZif file (RFC 8536) lists a zone's offset changes one by one, then ends with a POSIX
TZ string (``EST5EDT,M3.2.0,M11.1.0``) that gives the rule for every instant after the
last listed change. pytz reads only the 32-bit list, which stops in 2037, and ignores the
rule; this module reads the 64-bit list and the rule, as the standard library's
:mod:`zoneinfo` does, from the very file pytz ships (so the app and the daemon, which
both use pytz's database, agree).

:func:`read_tzif` gives the listed transitions; :class:`PosixRule` yields the changes of
any later year. Instants are integer seconds since the epoch, offsets seconds east of UTC.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from datetime import date

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAY = 86_400


class TzFileError(ValueError):
    """A zone file or TZ string this module cannot read."""


@dataclass(frozen=True, slots=True)
class TzData:
    """The listed transitions of one zone and the POSIX rule after them ("" if none).

    ``before`` is the local time type in force before the first transition."""

    times: tuple[int, ...]
    types: tuple[tuple[int, str], ...]  # (offset, abbreviation) of each transition
    before: tuple[int, str]
    rule: str


def read_tzif(data: bytes) -> TzData:
    """Parse a TZif file: its 64-bit section when present (version 2+), else the
    32-bit one."""
    if data[:4] != b"TZif":
        raise TzFileError("not a TZif file")
    version = data[4:5]
    counts, pos = _header(data, 0)
    if version in (b"2", b"3", b"4"):
        skip = _block_size(counts, 4)
        counts, pos = _header(data, pos + skip)
        parsed = _block(data, pos, counts, 8)
        rest = data[pos + _block_size(counts, 8) :]
        footer = rest.split(b"\n")[1].decode("ascii") if rest.startswith(b"\n") else ""
        return TzData(*parsed, rule=footer)
    return TzData(*_block(data, pos, counts, 4), rule="")


def _header(data: bytes, pos: int) -> tuple[tuple[int, ...], int]:
    if data[pos : pos + 4] != b"TZif":
        raise TzFileError("bad TZif header")
    return struct.unpack(">6l", data[pos + 20 : pos + 44]), pos + 44


def _block_size(counts: tuple[int, ...], width: int) -> int:
    isut, isstd, leap, times, types, chars = counts
    return times * width + times + types * 6 + chars + leap * (width + 4) + isstd + isut


def _block(
    data: bytes, pos: int, counts: tuple[int, ...], width: int
) -> tuple[tuple[int, ...], tuple[tuple[int, str], ...], tuple[int, str]]:
    _isut, _isstd, _leap, count, type_count, chars = counts
    times = struct.unpack(f">{count}{'q' if width == 8 else 'l'}", data[pos : pos + count * width])
    pos += count * width
    indices = data[pos : pos + count]
    pos += count
    infos = [struct.unpack(">lBB", data[pos + 6 * i : pos + 6 * i + 6]) for i in range(type_count)]
    pos += type_count * 6
    names = data[pos : pos + chars]

    def kind(i: int) -> tuple[int, str]:
        offset, _dst, at = infos[i]
        return offset, names[at : names.index(b"\0", at)].decode("ascii", "replace")

    if not infos:
        raise TzFileError("TZif file without local time types")
    # Before the first transition: the first standard-time type (as zoneinfo does).
    first_std = next((i for i, info in enumerate(infos) if not info[1]), 0)
    return tuple(times), tuple(kind(i) for i in indices), kind(first_std)


# -- POSIX TZ strings ------------------------------------------------------------------

_NAME = r"(?:<[+\-0-9A-Za-z]+>|[A-Za-z]{3,})"
_OFFSET = r"[+-]?\d{1,3}(?::\d{1,2}){0,2}"
_DATE = r"(?:J\d{1,3}|\d{1,3}|M\d{1,2}\.\d\.\d)"
_RULE = re.compile(
    rf"(?P<std>{_NAME})(?P<stdoff>{_OFFSET})"
    rf"(?:(?P<dst>{_NAME})(?P<dstoff>{_OFFSET})?"
    rf",(?P<start>{_DATE})(?:/(?P<starttime>{_OFFSET}))?"
    rf",(?P<end>{_DATE})(?:/(?P<endtime>{_OFFSET}))?)?"
)


def _seconds(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    parts = [int(p) for p in text.lstrip("+-").split(":")] + [0, 0]
    return sign * (parts[0] * 3600 + parts[1] * 60 + parts[2])


def _day_of_year(spec: str, year: int) -> int:
    """Days from 1 January of ``year`` to the day ``spec`` names (``J60``, ``59``,
    ``M3.2.0``)."""
    jan1 = date(year, 1, 1).toordinal()
    if spec.startswith("J"):  # 1-365, 29 February never counted
        n = int(spec[1:])
        leap = date(year, 3, 1).toordinal() - jan1 == 60
        return n - 1 + (1 if leap and n >= 60 else 0)
    if not spec.startswith("M"):  # 0-365, 29 February counted
        return int(spec)
    month, week, weekday = (int(p) for p in spec[1:].split("."))
    first = date(year, month, 1).toordinal()
    day = first + (weekday - first % 7) % 7 + 7 * (week - 1)  # ordinal % 7 == 0: Sunday
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    while day >= following.toordinal():
        day -= 7  # week 5 means the last such weekday of the month
    return day - jan1


@dataclass(frozen=True, slots=True)
class PosixRule:
    """The daylight-saving rule of a POSIX TZ string with a DST part."""

    std: tuple[int, str]
    dst: tuple[int, str]
    start: str
    start_time: int
    end: str
    end_time: int

    def changes(self, year: int) -> list[tuple[int, tuple[int, str]]]:
        """The year's two changes, ``(instant, (offset, abbreviation))``, in time order."""
        jan1 = (date(year, 1, 1).toordinal() - _EPOCH_ORDINAL) * _DAY
        begin = jan1 + _day_of_year(self.start, year) * _DAY + self.start_time - self.std[0]
        finish = jan1 + _day_of_year(self.end, year) * _DAY + self.end_time - self.dst[0]
        return sorted([(begin, self.dst), (finish, self.std)])


def parse_rule(text: str) -> PosixRule | tuple[int, str] | None:
    """A :class:`PosixRule`, the fixed ``(offset, abbreviation)`` of a TZ string without
    DST, or None for an empty string; TzFileError for anything else."""
    if not text:
        return None
    match = _RULE.fullmatch(text)
    if match is None:
        raise TzFileError(f"unsupported TZ rule {text!r}")
    std = (-_seconds(match["stdoff"]), match["std"].strip("<>"))
    if match["dst"] is None:
        return std
    dst_offset = -_seconds(match["dstoff"]) if match["dstoff"] else std[0] + 3600
    return PosixRule(
        std=std,
        dst=(dst_offset, match["dst"].strip("<>")),
        start=match["start"],
        start_time=_seconds(match["starttime"] or "2"),
        end=match["end"],
        end_time=_seconds(match["endtime"] or "2"),
    )
