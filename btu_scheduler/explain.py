"""``btu-scheduler explain``: when would a cron expression fire, and why.

Prints the next fire instants of an expression in a zone (ISO 8601 in the zone and in
UTC), a plain-English description, and a note on every instant a daylight-saving change
moved, made a first or second occurrence, or preceded by skipped wall times. It needs no
Redis and no daemon. Bad input exits with 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import orjson

from streams.cron import FireInstant, explain, iso_local, validate, validate_tz
from streams.cronschedule import FIRST_SECOND, LAST_SECOND
from streams.errors import CronError
from streams.tzmath import zone

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

DEFAULT_COUNT = 5
MAX_COUNT = 1000
_EPOCH_MS = re.compile(r"-?[0-9]{1,16}")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)

DESCRIPTION = """\
Show the next fire instants of a cron expression in a time zone, a plain-English
description, and the instants a daylight-saving change moved or skipped.

Syntax: 5 fields (min hour dom mon dow), 6 fields with seconds FIRST (sec min hour dom
mon dow), 7 fields with a trailing year, or @yearly, @monthly, @weekly, @daily, @hourly.
Jobs with no '*' at the start of the minute and hour fields run once when their wall
time is skipped by a jump forward and only at the first occurrence when clocks go back;
other jobs follow the wall clock."""


class InputError(ValueError):
    """A command-line value that cannot be used."""


def register(subparsers: SubParsers) -> None:
    """Add the ``explain`` sub-command."""
    parser = subparsers.add_parser(
        "explain",
        help="show when a cron expression fires (DST changes included)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "cron",
        nargs="+",
        metavar="CRON",
        help="the expression; quote it ('30 2 * * *'), or pass its fields as separate words",
    )
    parser.add_argument("--tz", default="UTC", help="IANA time zone (default: UTC)")
    parser.add_argument(
        "--after",
        metavar="INSTANT",
        help="list instants strictly after this ISO 8601 instant (default: now); with an "
        "offset or Z it is exact, without one (2027-03-14T01:00) it is read on the wall "
        "clock of --tz; a plain integer is epoch milliseconds",
    )
    parser.add_argument(
        "--count",
        metavar="N",
        default=str(DEFAULT_COUNT),
        help=f"how many instants (1-{MAX_COUNT}, default {DEFAULT_COUNT})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the explanation; 0 on success, 2 (one line on stderr) on bad input."""
    expr = " ".join(args.cron)
    try:
        tz = validate_tz(args.tz)
        count = parse_count(args.count)
        after_ms = parse_after(args.after, tz)
        schedule = validate(expr, tz, now_ms=after_ms)
        instants = explain(expr, tz, after_ms, count)
    except (CronError, InputError) as e:
        message = " ".join(str(e).split())
        print(f"error: {message}", file=sys.stderr)
        return 2
    description = schedule.describe()
    if args.json:
        document = {
            "expr": schedule.expr,
            "tz": tz,
            "description": description,
            "fixed_time": schedule.fixed_time,
            "after": iso_local(after_ms, tz),
            "instants": [
                {"utc_ms": i.utc_ms, "local": i.local_iso, "utc": i.utc_iso, "note": i.note}
                for i in instants
            ],
        }
        print(orjson.dumps(document).decode())
    else:
        print(render(description, tz, iso_local(after_ms, tz), instants))
    return 0


def render(description: str, tz: str, after: str, instants: list[FireInstant]) -> str:
    """The human-readable listing."""
    lines = [f"{description} ({tz})", f"  next {len(instants)} after {after}:"]
    local_width = max(len(i.local_iso) for i in instants)
    utc_width = max(len(i.utc_iso) for i in instants)
    for i in instants:
        line = f"  {i.local_iso:<{local_width}}   {i.utc_iso:<{utc_width}}"
        lines.append(f"{line}   {i.note}" if i.note else line)
    return "\n".join(lines)


def parse_count(text: str) -> int:
    """``--count``: an integer from 1 to :data:`MAX_COUNT`."""
    if not re.fullmatch(r"[0-9]{1,9}", text.strip()) or not 1 <= int(text) <= MAX_COUNT:
        raise InputError(f"--count {text!r} must be a whole number from 1 to {MAX_COUNT}")
    return int(text)


def parse_after(text: str | None, tz: str) -> int:
    """``--after`` as epoch ms: ISO 8601 with an offset or Z, a naive ISO 8601 value read
    on the wall clock of ``tz``, or an integer of epoch ms. Default: now."""
    if text is None:
        return time.time_ns() // 1_000_000
    after = _parse_instant(text, tz)
    # Instants the engine handles, on both clocks the listing shows (UTC and the zone).
    wall = after // 1000 + zone(tz).offset_at(after // 1000)
    if not (FIRST_SECOND <= after // 1000 <= LAST_SECOND and FIRST_SECOND <= wall <= LAST_SECOND):
        raise InputError(
            f"--after {text!r} is outside the years 1-9999 (in UTC or in {tz}), the range "
            "of instants the scheduler handles"
        )
    return after


def _parse_instant(text: str, tz: str) -> int:
    value = text.strip()
    if _EPOCH_MS.fullmatch(value):
        return int(value)
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as e:
        raise InputError(
            f"--after {text!r} is not an ISO 8601 instant "
            "(e.g. 2027-03-14T02:30:00-04:00, 2027-03-14T07:30:00Z or 2027-03-14T02:30)"
        ) from e
    if moment.tzinfo is None:
        wall_ms = (moment.replace(tzinfo=timezone.utc) - _EPOCH) // _MS
        return zone(tz).to_utc(wall_ms // 1000) * 1000 + wall_ms % 1000
    return (moment - _EPOCH) // _MS
