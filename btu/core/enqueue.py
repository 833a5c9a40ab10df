"""The Python API's argument checks, without Frappe: what ``btu.enqueue_at`` and
``btu.enqueue_in`` were given, turned into the fields of a Run Later item.

Options are keyword-only and named like :func:`frappe.enqueue`'s (``queue``,
``timeout``), plus ``run_as`` and ``unique_key``; every other keyword argument is passed to
the function, as with ``frappe.enqueue``. A function argument that clashes with an option
name goes in ``kwargs={...}`` (as with RQ's ``enqueue_call``).

Instants: an aware datetime is converted to the site's system time zone (Frappe stores
Datetime values as wall times of that zone); a naive datetime or a ``"YYYY-MM-DD
HH:MM[:SS]"`` string already is such a wall time.
"""

from __future__ import annotations

import datetime as dt
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from btu.core.callables import CallableError, check_path_syntax
from btu.core.timeconv import TimeZoneError, parse_datetime, zone

MAX_UNIQUE_KEY = 140
# What a Run Later item may carry as its function's arguments (JSON in a Code field).
MAX_ARGUMENTS_BYTES = 1_000_000
OPTIONS = ("queue", "timeout", "run_as", "unique_key", "kwargs")


class EnqueueError(ValueError):
    """A call of the Python API that cannot become a Run Later item; the message says why."""


@dataclass(frozen=True)
class Request:
    """The fields of the Run Later item one API call creates."""

    function_path: str
    run_at: dt.datetime  # naive, wall time of the system time zone
    arguments: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None
    timeout: float | None = None
    run_as: str | None = None
    unique_key: str | None = None

    def arguments_json(self) -> str | None:
        if not self.arguments:
            return None
        return orjson.dumps(self.arguments, option=orjson.OPT_SORT_KEYS).decode()


def method_path(method: str | Callable[..., Any]) -> str:
    """The dotted path of ``method``: a path string as given, or a function's
    ``module.name`` (a method, lambda or nested function has no such path)."""
    if isinstance(method, str):
        try:
            return check_path_syntax(method)
        except CallableError as e:
            raise EnqueueError(str(e)) from e
    if isinstance(method, (dt.datetime, dt.date, dt.timedelta, int, float)):
        raise EnqueueError(
            f"The function to run is a {type(method).__name__}: call "
            "btu.enqueue_at(method, at, ...) or btu.enqueue_in(delta, method, ...)."
        )
    if not inspect.isfunction(method):
        raise EnqueueError(
            f"{method!r} is not a function: pass a module-level function or its dotted path."
        )
    qualname = method.__qualname__
    if "." in qualname or "<" in qualname:
        raise EnqueueError(
            f"{method.__module__}.{qualname} is not a module-level function: BTU runs only "
            "functions defined at the top level of a module (and declared runnable)."
        )
    return f"{method.__module__}.{method.__name__}"


def wall_time(at: dt.datetime | str, system_tz: str) -> dt.datetime:
    """``at`` as a naive wall time of ``system_tz`` (seconds precision kept, microseconds
    dropped as Frappe's Datetime field does)."""
    if isinstance(at, dt.date) and not isinstance(at, dt.datetime):
        raise EnqueueError(f"at={at!r} is a date: give a datetime (the date and the time).")
    if not isinstance(at, (dt.datetime, str)):
        raise EnqueueError(
            f"at must be a datetime or 'YYYY-MM-DD HH:MM:SS', not {type(at).__name__}."
        )
    try:
        moment = parse_datetime(at)
    except ValueError as e:
        raise EnqueueError(f"at: {e}") from e
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(zone(system_tz)).replace(tzinfo=None)
        except TimeZoneError as e:
            raise EnqueueError(f"The system time zone: {e}") from e
    return moment.replace(microsecond=0)


def delay(delta: dt.timedelta | int | float) -> dt.timedelta:
    """``delta`` as a timedelta: a timedelta, or a number of seconds; never negative."""
    if isinstance(delta, bool) or not isinstance(delta, (dt.timedelta, int, float)):
        raise EnqueueError(
            f"delta must be a timedelta or a number of seconds, not {type(delta).__name__}: "
            "call btu.enqueue_in(delta, method, ...)."
        )
    if isinstance(delta, (int, float)):
        if not math.isfinite(delta):
            raise EnqueueError(f"delta={delta!r} is not a finite number of seconds.")
        delta = dt.timedelta(seconds=delta)
    if delta < dt.timedelta(0):
        raise EnqueueError(f"delta={delta} is negative: BTU cannot run something in the past.")
    return delta


def _timeout(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise EnqueueError(f"timeout must be a number of seconds, not {value!r}.")
    if value < 0:
        raise EnqueueError(f"timeout={value} is negative.")
    return float(value)


def _text(value: Any, name: str, limit: int = 140) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise EnqueueError(f"{name} must be a string, not {type(value).__name__}.")
    value = value.strip()
    if len(value) > limit:
        raise EnqueueError(f"{name} is {len(value)} characters long; at most {limit}.")
    return value or None


def _arguments(extra: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    if extra is not None and not isinstance(extra, Mapping):
        raise EnqueueError(f"kwargs must be a dict of the function's arguments, not {extra!r}.")
    merged = dict(kwargs)
    clash = sorted(set(merged) & set(extra or {}))
    if clash:
        raise EnqueueError(
            f"Arguments given twice (as keywords and in kwargs): {', '.join(clash)}."
        )
    merged.update(extra or {})
    try:
        encoded = orjson.dumps(merged, option=orjson.OPT_SORT_KEYS)
    except TypeError as e:
        raise EnqueueError(
            f"The function's arguments must be JSON (str, numbers, lists, dicts): {e}."
        ) from e
    if len(encoded) > MAX_ARGUMENTS_BYTES:
        raise EnqueueError(
            f"The function's arguments are {len(encoded)} bytes as JSON; at most "
            f"{MAX_ARGUMENTS_BYTES}: store the data in a document and pass its name."
        )
    # The function receives what JSON gives back (a tuple becomes a list, a datetime
    # would already have been refused).
    decoded: dict[str, Any] = orjson.loads(encoded)
    return decoded


def build_request(
    method: str | Callable[..., Any],
    run_at: dt.datetime,
    *,
    queue: Any = None,
    timeout: Any = None,
    run_as: Any = None,
    unique_key: Any = None,
    kwargs: Mapping[str, Any] | None = None,
    arguments: Mapping[str, Any] | None = None,
) -> Request:
    """Check one call's options and arguments; ``run_at`` is already a system wall time.
    ``kwargs`` is the explicit dict, ``arguments`` the caller's other keyword arguments."""
    path = method_path(method)
    return Request(
        function_path=path,
        run_at=run_at,
        arguments=_arguments(kwargs, arguments or {}),
        queue=_text(queue, "queue"),
        timeout=_timeout(timeout),
        run_as=_text(run_as, "run_as"),
        unique_key=_text(unique_key, "unique_key", MAX_UNIQUE_KEY),
    )


__all__ = [
    "EnqueueError",
    "Request",
    "build_request",
    "delay",
    "method_path",
    "wall_time",
]
