"""The cron/time engine: when does a cron expression fire, in a given IANA zone?

The public API of the engine, shared by the Frappe app (form validation, previews) and
the scheduler daemon (the heap); it is importable without Redis. Instants are integer
epoch milliseconds, UTC (PROTOCOL.md, "Time").

* :func:`compile_schedule` / :func:`validate` give a cached, immutable
  :class:`CronSchedule`; its :meth:`~CronSchedule.next_after` answers "first fire
  strictly after" and memoizes recent answers.
* :func:`describe` turns an expression into plain English; :func:`explain` lists fire
  instants with notes on daylight-saving changes; :func:`iso_local` formats an instant
  in a zone.

The engine is split by concept: :mod:`streams.cronspec` (syntax), :mod:`streams.cronwalk`
(naive wall-clock iteration), :mod:`streams.tzmath` and :mod:`streams.tzfile` (zone
offsets from the zone files pytz ships, past 2037 too), :mod:`streams.cronschedule` (DST
rules), :mod:`streams.crondescribe`
and :mod:`streams.cronexplain`. docs/decisions/0005-cron-engine.md says why croniter is
not used.
"""

from __future__ import annotations

from streams.crondescribe import describe_spec
from streams.cronexplain import FireInstant, explain, iso_local, iso_utc
from streams.cronschedule import CronSchedule, compile_schedule, validate
from streams.cronspec import parse
from streams.tzmath import validate_tz


def describe(expr: str) -> str:
    """Plain English for ``expr``, e.g. ``Every 15 minutes``; CronError when invalid."""
    return describe_spec(parse(expr))


__all__ = [
    "CronSchedule",
    "FireInstant",
    "compile_schedule",
    "describe",
    "explain",
    "iso_local",
    "iso_utc",
    "validate",
    "validate_tz",
]
