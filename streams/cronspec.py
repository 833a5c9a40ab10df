"""Parsing and validation of cron expressions (PROTOCOL.md, "Time").

:func:`parse` turns an expression into a :class:`CronSpec`: the normalized text, the raw
text of each of the seven fields (seconds and year filled in when absent) and the sorted
set of values each field allows. Every error is a :class:`~streams.errors.CronError`
whose message names the field and the offending text.

Syntax (Vixie cron, plus a leading seconds field and a trailing year field):

* 5 fields ``min hour dom mon dow``; 6 fields ``sec min hour dom mon dow`` (seconds
  FIRST, unlike croniter's own 6-field form); 7 fields ``sec min hour dom mon dow year``.
* ``@yearly`` (``@annually``), ``@monthly``, ``@weekly``, ``@daily`` (``@midnight``) and
  ``@hourly``.
* Each field is a comma-separated list of ``*``, ``N``, ``N-M``, each optionally followed
  by ``/STEP``; ``N/STEP`` means ``N-max/STEP``. Months accept ``JAN``-``DEC`` and days of
  the week ``SUN``-``SAT`` (any case); day of week 7 is Sunday, like 0.
* Extensions of other dialects (``L``, ``W``, ``#``, ``?``, ``H``, ``R``) are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from streams.errors import CronError

MAX_EXPR_LENGTH = 1000
MIN_YEAR = 1970
MAX_YEAR = 2099

ALIASES: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DOW_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")

_NUMBER = re.compile(r"[0-9]{1,9}")
_SIGNED = re.compile(r"-?[0-9]+")
# Tokens of other cron dialects: L, LW, 5L, L-3, 15W, H, H(0-29), R; '#' and '?' anywhere.
_EXTENSION = re.compile(r"L|LW|L-[0-9]+|[0-9]*L|[0-9]+W|W|H(\([0-9]+-[0-9]+\))?|R")
_EXTENSION_HINT = "L, W, #, ?, H and R belong to other cron dialects"


@dataclass(frozen=True, slots=True)
class FieldKind:
    """One of the seven positions of an expression: its name in messages and its bounds."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0

    def value(self, token: str, field: str) -> int:
        """The number ``token`` stands for (a number or, for months and weekdays, a name)."""
        if _NUMBER.fullmatch(token):
            number = int(token)
        elif token.upper() in self.names:
            number = self.names.index(token.upper()) + self.name_base
        else:
            raise CronError(self._bad_token(token, field))
        if not self.low <= number <= self.high:
            where = f"{self.name} field {field!r}"
            detail = "" if token == field else f": {token}"
            raise CronError(f"{where} is out of range {self.low}-{self.high}{detail}")
        return number

    def _bad_token(self, token: str, field: str) -> str:
        if "#" in field or "?" in field or _EXTENSION.fullmatch(token.upper()):
            return f"{self.name} field {field!r} is not supported ({_EXTENSION_HINT})"
        if _SIGNED.fullmatch(token):
            return f"{self.name} field {field!r} is out of range {self.low}-{self.high}"
        wanted = "a number"
        if self.names:
            wanted += f" or a name {self.names[0]}-{self.names[-1]}"
        return f"{self.name} field {field!r}: {token!r} is not {wanted}"


SECOND = FieldKind("second", 0, 59)
MINUTE = FieldKind("minute", 0, 59)
HOUR = FieldKind("hour", 0, 23)
DOM = FieldKind("day-of-month", 1, 31)
MONTH = FieldKind("month", 1, 12, MONTH_NAMES, 1)
DOW = FieldKind("day-of-week", 0, 7, DOW_NAMES, 0)
YEAR = FieldKind("year", MIN_YEAR, MAX_YEAR)
KINDS = (SECOND, MINUTE, HOUR, DOM, MONTH, DOW, YEAR)


@dataclass(frozen=True, slots=True)
class CronSpec:
    """A parsed expression. Value tuples are sorted; ``dows`` uses 0 = Sunday .. 6."""

    expr: str
    fields: tuple[str, str, str, str, str, str, str]  # sec min hour dom mon dow year
    has_seconds: bool
    has_year: bool
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    doms: tuple[int, ...]
    months: tuple[int, ...]
    dows: tuple[int, ...]
    years: tuple[int, ...] | None  # None: any year

    @property
    def fixed_time(self) -> bool:
        """Debian cron's rule: neither the minute nor the hour field starts with ``*``."""
        return not (self.fields[1].startswith("*") or self.fields[2].startswith("*"))

    @property
    def dom_star(self) -> bool:
        return self.fields[3].startswith("*")

    @property
    def dow_star(self) -> bool:
        return self.fields[5].startswith("*")

    @property
    def day_or_rule(self) -> bool:
        """Vixie cron: when both day fields are restricted, a day matching EITHER fires.

        "Restricted" means "does not start with ``*``", as in Vixie's source, so ``*/2``
        counts as unrestricted and combines with the other day field by AND.
        """
        return not (self.dom_star or self.dow_star)


def parse_field(kind: FieldKind, field: str) -> tuple[int, ...]:
    """The sorted values ``field`` allows; CronError naming ``kind`` when it is invalid."""
    values: set[int] = set()
    for item in field.split(","):
        if not item:
            raise CronError(f"{kind.name} field {field!r} has an empty list item")
        values.update(_parse_item(kind, item, field))
    if kind is DOW and 7 in values:
        values.discard(7)
        values.add(0)
    return tuple(sorted(values))


def _parse_item(kind: FieldKind, item: str, field: str) -> range:
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not _NUMBER.fullmatch(step_text):
            raise CronError(f"{kind.name} field {field!r}: step {step_text!r} is not a number")
        step = int(step_text)
        if step < 1:
            raise CronError(f"{kind.name} field {field!r}: step must be at least 1, got 0")
    if base == "*":
        return range(kind.low, kind.high + 1, step)
    if not base:
        raise CronError(f"{kind.name} field {field!r}: {item!r} has no value before the step")
    first_text, dash, last_text = base.partition("-")
    if not first_text:  # "-5": a negative number
        raise CronError(kind._bad_token(base, field))
    first = kind.value(first_text, field)
    if dash:
        if not last_text:
            raise CronError(f"{kind.name} field {field!r}: range {base!r} has no end")
        last = kind.value(last_text, field)
        if last < first:
            raise CronError(
                f"{kind.name} field {field!r}: range {base!r} runs backwards ({first} > {last})"
            )
    else:
        last = kind.high if slash else first
    return range(first, last + 1, step)


def split_expression(expr: object) -> tuple[str, list[str], int]:
    """The normalized text, the seven raw fields (aliases expanded) and the field count."""
    if not isinstance(expr, str):
        raise CronError(f"cron expression must be a string, not {type(expr).__name__}")
    if len(expr) > MAX_EXPR_LENGTH:
        raise CronError(f"cron expression is longer than {MAX_EXPR_LENGTH} characters")
    parts = expr.split()
    if not parts:
        raise CronError("cron expression is empty")
    if parts[0].startswith("@"):
        alias = parts[0].lower()
        if len(parts) > 1:
            raise CronError(f"alias {parts[0]!r} must be the whole expression")
        if alias not in ALIASES:
            known = ", ".join(ALIASES)
            raise CronError(f"unknown alias {parts[0]!r}: expected one of {known}")
        return alias, ["0", *ALIASES[alias].split(), "*"], 5
    normalized = " ".join(parts)
    if len(parts) == 5:
        return normalized, ["0", *parts, "*"], 5
    if len(parts) == 6:
        return normalized, [*parts, "*"], 6
    if len(parts) == 7:
        return normalized, parts, 7
    raise CronError(f"expected 5, 6 or 7 fields, got {len(parts)}")


def parse(expr: str) -> CronSpec:
    """Parse and validate ``expr`` (syntax only; see :mod:`streams.cron` for firing)."""
    normalized, fields, count = split_expression(expr)
    try:
        values = [parse_field(kind, field) for kind, field in zip(KINDS, fields, strict=True)]
    except CronError as e:
        if count != 6:
            raise
        raise CronError(f"{e} (6 fields are: second minute hour day month weekday)") from None
    sec, minute, hour, dom, mon, dow, year = fields
    return CronSpec(
        expr=normalized,
        fields=(sec, minute, hour, dom, mon, dow, year),
        has_seconds=count >= 6,
        has_year=year != "*",
        seconds=values[0],
        minutes=values[1],
        hours=values[2],
        doms=values[3],
        months=values[4],
        dows=values[5],
        years=None if year == "*" else values[6],
    )
