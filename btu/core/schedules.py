"""What a Task Schedule form shows: the cron expression the helper produces, its
plain-English description, and its next runs in its own time zone.

The cron engine is ``streams.cron``, the same code the daemon uses, so the instants the
form shows are the instants that fire.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from btu.core.frequency import FrequencyError, FrequencySpec, notes, to_cron
from streams import cron
from streams.errors import CronError

NEXT_RUNS = 5


class ScheduleError(ValueError):
    """The schedule cannot be used; the message is for the person editing it."""


@dataclass(frozen=True, slots=True)
class Preview:
    cron: str
    time_zone: str
    description: str
    next_runs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def next_runs_text(self) -> str:
        return "\n".join(self.next_runs)

    @property
    def description_text(self) -> str:
        return " ".join([self.description, *self.notes]).strip()


def check_time_zone(tz: str) -> str:
    try:
        return cron.validate_tz(tz)
    except CronError as e:
        raise ScheduleError(str(e)) from e


def _line(instant: cron.FireInstant) -> str:
    local = instant.local_iso.replace("T", " ")
    return f"{local} ({instant.note})" if instant.note else local


def next_runs(expression: str, tz: str, after_ms: int, count: int = NEXT_RUNS) -> list[str]:
    """The next ``count`` fire instants after ``after_ms`` as local ISO text, with the
    engine's note (daylight-saving shifts) where there is one."""
    try:
        return [_line(i) for i in cron.explain(expression, tz, after_ms, count)]
    except CronError as e:
        raise ScheduleError(str(e)) from e


def preview(spec: FrequencySpec, tz: str, after_ms: int, count: int = NEXT_RUNS) -> Preview:
    """Validate the helper fields, expression and zone; raise :class:`ScheduleError`."""
    try:
        expression = to_cron(spec)
    except FrequencyError as e:
        raise ScheduleError(str(e)) from e
    zone = check_time_zone(tz)
    try:
        schedule = cron.validate(expression, zone)
    except CronError as e:
        raise ScheduleError(str(e)) from e
    return Preview(
        cron=expression,
        time_zone=zone,
        description=schedule.describe(),
        next_runs=next_runs(expression, zone, after_ms, count),
        notes=notes(spec),
    )
