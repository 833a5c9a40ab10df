"""Plain-English descriptions of parsed cron expressions.

Examples: ``At 02:30 every day``, ``Every 15 minutes``, ``At 00:00 on day 1 of every
month``, ``At second 10 of every minute``, ``At 09:00 on Monday through Friday``. The
text is built from the allowed values, so it is exact rather than idiomatic for unusual
expressions (``minutes 5 through 55 in steps of 10``).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from streams.cronspec import CronSpec

MONTHS = (
    "",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
MAX_CLOCK_TIMES = 6


def describe_spec(spec: CronSpec) -> str:
    """The description of ``spec``: its times of day, then its days."""
    times = _clock_times(spec)
    if times is not None:
        return f"At {join(times)}{_day_phrase(spec, clock=True)}"
    return _time_phrase(spec) + _day_phrase(spec, clock=False)


def join(items: Sequence[str], word: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def number_list(values: Sequence[int], names: Sequence[str] | None = None) -> str:
    """Values as text: runs of three or more become ``a through b``; for numbers, an
    arithmetic progression of four or more becomes ``a through b in steps of n``."""
    label = (lambda v: names[v]) if names else str
    if names is None and len(values) >= 4:
        step = values[1] - values[0]
        if step > 1 and all(b - a == step for a, b in pairwise(values)):
            return f"{values[0]} through {values[-1]} in steps of {step}"
    parts: list[str] = []
    start = 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[i - 1] + 1:
            run = values[start:i]
            if len(run) >= 3:
                parts.append(f"{label(run[0])} through {label(run[-1])}")
            else:
                parts.extend(label(v) for v in run)
            start = i
    return join(parts)


def _clock_times(spec: CronSpec) -> list[str] | None:
    """``["09:00", "17:00"]`` when the expression fires at a few times of day."""
    if len(spec.seconds) != 1 or len(spec.hours) * len(spec.minutes) > MAX_CLOCK_TIMES:
        return None
    second = spec.seconds[0]
    suffix = f":{second:02d}" if second else ""
    return [f"{h:02d}:{m:02d}{suffix}" for h in spec.hours for m in spec.minutes]


def _unit(values: tuple[int, ...], unit: str, size: int) -> tuple[str, bool]:
    """(phrase, is-a-repetition) for the seconds, minutes or hours of an expression."""
    if len(values) == size:
        return f"every {unit}", True
    step = values[1] - values[0] if len(values) > 1 else 0
    regular = step > 1 and all(b - a == step for a, b in pairwise(values))
    if regular and values[0] == 0 and values[-1] == size - step:
        return f"every {step} {unit}s", True
    plural = "s" if len(values) > 1 else ""
    return f"{unit}{plural} {number_list(values)}", False


def _time_phrase(spec: CronSpec) -> str:
    seconds = _unit(spec.seconds, "second", 60)
    minutes = _unit(spec.minutes, "minute", 60)
    hours = _unit(spec.hours, "hour", 24)
    if seconds[1] and len(spec.minutes) == 1 and len(spec.hours) == 1:
        start = f"{spec.hours[0]:02d}:{spec.minutes[0]:02d}"
        return f"{seconds[0].capitalize()} from {start}:00 through {start}:59"
    chain = [minutes, hours] if spec.seconds == (0,) else [seconds, minutes, hours]
    kept: list[tuple[str, bool]] = [chain[0]]
    for phrase, repeats in chain[1:]:
        # "every 15 minutes of every hour": the bigger unit adds nothing.
        if not (phrase.startswith("every ") and " " not in phrase[6:] and kept[-1][1]):
            kept.append((phrase, repeats))
    text = " of ".join(phrase for phrase, _ in kept)
    return text.capitalize() if kept[0][1] else f"At {text}"


def _day_phrase(spec: CronSpec, *, clock: bool) -> str:
    all_doms = len(spec.doms) == 31
    all_dows = len(spec.dows) == 7
    all_months = len(spec.months) == 12
    months = number_list(spec.months, MONTHS)
    of_months = "of every month" if all_months else f"of {months}"
    in_months = "" if all_months else f" in {months}"
    dom_word = "days" if len(spec.doms) > 1 else "day"
    doms = f"{dom_word} {number_list(spec.doms)}"
    dows = number_list(spec.dows, WEEKDAYS)
    if spec.day_or_rule and not (all_doms or all_dows):
        if all_months:
            text = f" on {doms} of every month and on every {dows}"
        else:
            text = f" on {doms} and on every {dows}{in_months}"
    elif (spec.day_or_rule and (all_doms or all_dows)) or (all_doms and all_dows):
        text = (" every day" if clock else "") + in_months
    elif all_dows:
        text = f" on {doms} {of_months}"
    elif all_doms:
        text = f" on {dows}{in_months}"
    else:
        either = " or ".join(WEEKDAYS[d] for d in spec.dows)
        text = f" on {doms} {of_months} if it is a {either}"
    return text + _year_phrase(spec)


def _year_phrase(spec: CronSpec) -> str:
    if spec.years is None:
        return ""
    return f" in {number_list(spec.years)}"
