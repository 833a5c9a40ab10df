"""Tasks and schedules shipped by apps (``btu_tasks`` in an app's ``hooks.py``): reading
the hook, and the merge rules that keep a site manager's edits.

An app ships data, not code to run at migrate::

    btu_tasks = [
        {
            "title": "Nightly digest",                  # the BTU Task's name
            "function": "myapp.tasks.send_digest",       # declared in btu_runnable
            "arguments": {"days": 1},
            "queue": "long",
            "description": "...",
            "enabled": True,
            "schedules": [
                {"key": "morning", "cron": "0 7 * * 1-5", "time_zone": "Europe/Paris"},
            ],
        },
    ]

Merge rule, per field (the *managed* fields: a task's function, arguments, queue,
description and enabled; a schedule's cron, time zone and enabled): BTU remembers what the
app shipped last. When the database still holds that value, the manager has not touched
it, and the newly shipped value replaces it; when it holds something else, the manager
changed it, and it stays. A record the app no longer ships is *withdrawn*: disabled once
(never deleted), and left alone afterwards, so a manager may enable it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from btu.core.callables import CallableError, check_path_syntax
from btu.core.schedules import ScheduleError, check_time_zone
from streams import cron as cron_engine
from streams.errors import CronError

HOOK = "btu_tasks"
WITHDRAWN = "_withdrawn"
TASK_KEYS = frozenset(
    {"title", "name", "function", "arguments", "queue", "description", "enabled", "schedules"}
)
SCHEDULE_KEYS = frozenset({"key", "cron", "time_zone", "enabled"})
MAX_TITLE = 140


class ShippedError(ValueError):
    """A ``btu_tasks`` entry that cannot be used; the message names the app and entry."""


@dataclass(frozen=True)
class ShippedSchedule:
    key: str
    values: dict[str, Any]  # cron_expression, enabled, time_zone (when given)


@dataclass(frozen=True)
class ShippedTask:
    app: str
    title: str
    values: dict[str, Any]  # function_path, arguments, queue, description, enabled
    schedules: tuple[ShippedSchedule, ...] = field(default_factory=tuple)

    def schedule_key(self, schedule: ShippedSchedule) -> str:
        """The schedule's identity on the site: unique per app."""
        return f"{self.title}#{schedule.key}"


# -- normalising values ---------------------------------------------------------------


def norm_cron(value: Any) -> str:
    return " ".join(str(value or "").split())


def norm_arguments(value: Any) -> str:
    """Arguments as canonical JSON text ("" for none), whether given as a dict or as the
    JSON text a Code field holds."""
    if value in (None, "", {}):
        return ""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value.strip()
        if value in (None, {}):
            return ""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def normalize(fieldname: str, value: Any) -> Any:
    """A field's value in the form the merge compares (database and hook alike)."""
    if fieldname == "enabled":
        return bool(int(value or 0))
    if fieldname == "cron_expression":
        return norm_cron(value)
    if fieldname == "arguments":
        return norm_arguments(value)
    return str(value or "").strip()


def normalized(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: normalize(k, v) for k, v in values.items()}


# -- reading the hook -----------------------------------------------------------------


def _where(app: str, index: int, title: str | None = None) -> str:
    return f"{app} hooks.py {HOOK}[{index}]" + (f" ({title!r})" if title else "")


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ShippedError(f"{what}: enabled must be True or False, not {value!r}.")
    return value


def _schedule(raw: Any, index: int, where: str) -> ShippedSchedule:
    what = f"{where} schedule {index}"
    if not isinstance(raw, Mapping):
        raise ShippedError(f"{what} must be a dict with 'cron', not {type(raw).__name__}.")
    unknown = sorted(set(raw) - SCHEDULE_KEYS)
    if unknown:
        raise ShippedError(
            f"{what}: unknown key(s) {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(sorted(SCHEDULE_KEYS))})."
        )
    cron = raw.get("cron")
    if not isinstance(cron, str) or not cron.strip():
        raise ShippedError(f"{what}: 'cron' (a cron expression) is required.")
    key = raw.get("key", str(index))
    if not isinstance(key, (str, int)) or not str(key).strip():
        raise ShippedError(f"{what}: 'key' must be a non-empty string.")
    values: dict[str, Any] = {
        "cron_expression": norm_cron(cron),
        "enabled": _bool(raw.get("enabled", True), what),
    }
    tz = raw.get("time_zone")
    if tz is not None:
        if not isinstance(tz, str) or not tz.strip():
            raise ShippedError(f"{what}: 'time_zone' must be an IANA name like 'Europe/Paris'.")
        try:
            # The canonical spelling, as the schedule will store it: what BTU remembers
            # as shipped must equal what the database holds, or it would look edited.
            values["time_zone"] = check_time_zone(tz.strip())
        except ScheduleError as e:
            raise ShippedError(f"{what}: {e}") from e
    try:
        cron_engine.validate(values["cron_expression"], values.get("time_zone", "UTC"))
    except CronError as e:
        raise ShippedError(f"{what}: cron {values['cron_expression']!r}: {e}") from e
    return ShippedSchedule(key=str(key).strip(), values=values)


def _task_values(app: str, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    try:
        function = check_path_syntax(str(raw.get("function") or ""))
    except CallableError as e:
        raise ShippedError(f"{where}: function: {e}") from e
    if function.split(".", 1)[0] != app:
        raise ShippedError(
            f"{where}: '{function}' is not a function of {app}: an app ships tasks for its "
            "own functions only."
        )
    arguments = raw.get("arguments") or {}
    if not isinstance(arguments, Mapping):
        raise ShippedError(f"{where}: 'arguments' must be a dict.")
    try:
        args_text = norm_arguments(dict(arguments))
    except TypeError as e:
        raise ShippedError(f"{where}: 'arguments' must be JSON: {e}.") from e
    values: dict[str, Any] = {
        "function_path": function,
        "arguments": args_text,
        "enabled": _bool(raw.get("enabled", True), where),
    }
    for key in ("queue", "description"):
        if raw.get(key) is not None:
            if not isinstance(raw[key], str):
                raise ShippedError(f"{where}: '{key}' must be a string.")
            values[key] = raw[key].strip()
    return values


def parse_task(app: str, raw: Any, index: int) -> ShippedTask:
    """One entry of an app's ``btu_tasks``, or :class:`ShippedError` saying what is wrong."""
    where = _where(app, index)
    if not isinstance(raw, Mapping):
        raise ShippedError(f"{where} must be a dict, not {type(raw).__name__}.")
    title = raw.get("title", raw.get("name"))
    if not isinstance(title, str) or not title.strip():
        raise ShippedError(f"{where}: 'title' (the task's name) is required.")
    title = " ".join(title.split())
    if len(title) > MAX_TITLE:
        raise ShippedError(f"{where}: 'title' is longer than {MAX_TITLE} characters.")
    where = _where(app, index, title)
    unknown = sorted(set(raw) - TASK_KEYS)
    if unknown:
        raise ShippedError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(sorted(TASK_KEYS - {'name'}))})."
        )
    values = _task_values(app, raw, where)
    schedules_raw = raw.get("schedules") or []
    if not isinstance(schedules_raw, (list, tuple)):
        raise ShippedError(f"{where}: 'schedules' must be a list of dicts.")
    schedules = tuple(_schedule(s, i, where) for i, s in enumerate(schedules_raw, start=1))
    keys = [s.key for s in schedules]
    doubled = sorted({k for k in keys if keys.count(k) > 1})
    if doubled:
        raise ShippedError(f"{where}: schedule key(s) used twice: {', '.join(doubled)}.")
    return ShippedTask(app=app, title=title, values=values, schedules=schedules)


def parse_hook(app: str, entries: Iterable[Any]) -> tuple[list[ShippedTask], list[str]]:
    """An app's tasks and a problem per refused entry (a title shipped twice keeps the
    first)."""
    tasks: list[ShippedTask] = []
    problems: list[str] = []
    seen: set[str] = set()
    for index, raw in enumerate(entries):
        try:
            task = parse_task(app, raw, index)
        except ShippedError as e:
            problems.append(str(e))
            continue
        if task.title in seen:
            problems.append(f"{_where(app, index, task.title)}: this title is shipped twice.")
            continue
        seen.add(task.title)
        tasks.append(task)
    return tasks, problems


# -- merging --------------------------------------------------------------------------


def load_last(text: str | None) -> dict[str, Any]:
    """What the app shipped last, from the hidden field that keeps it ({} when none)."""
    if not text:
        return {}
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def dump_last(values: Mapping[str, Any]) -> str:
    return orjson.dumps(dict(values), option=orjson.OPT_SORT_KEYS).decode()


@dataclass(frozen=True)
class Merge:
    changes: dict[str, Any]  # fields to write to the document
    last: dict[str, Any]  # what to remember as shipped
    kept: tuple[str, ...] = ()  # fields the manager changed, left as they are


def merge(
    current: Mapping[str, Any] | None, last: Mapping[str, Any], shipped: Mapping[str, Any]
) -> Merge:
    """The changes that bring a record up to what the app ships now.

    ``current``: the record's managed fields as the database holds them (None: no
    record yet, everything shipped is written); ``last``: what the app shipped at the
    previous sync; ``shipped``: what it ships now. A field whose database value differs
    from ``last`` was changed by a manager and is kept. A field the app did not ship
    before is written only when the record holds no value for it. After a withdrawal
    (:func:`withdraw` remembered ``enabled`` as False), shipping the record again
    enables it unless a manager enabled it meanwhile."""
    wanted = normalized(shipped)
    if current is None:
        return Merge(changes=dict(wanted), last=wanted)
    now = normalized({k: current.get(k) for k in wanted})
    before = {k: v for k, v in last.items() if k != WITHDRAWN}
    changes: dict[str, Any] = {}
    kept: list[str] = []
    for name, value in wanted.items():
        if name in before:
            untouched = now[name] == normalize(name, before[name])
        else:
            untouched = now[name] in ("", False) or now[name] == value
        if not untouched:
            if now[name] != value:
                kept.append(name)
            continue
        if now[name] != value:
            changes[name] = value
    return Merge(changes=changes, last=wanted, kept=tuple(kept))


def withdraw(current: Mapping[str, Any], last: Mapping[str, Any]) -> Merge:
    """A record its app no longer ships: disabled once, then left to the manager."""
    if last.get(WITHDRAWN):
        return Merge(changes={}, last=dict(last))
    remembered = {**last, "enabled": False, WITHDRAWN: True}
    changes = {"enabled": False} if normalize("enabled", current.get("enabled")) else {}
    return Merge(changes=changes, last=remembered)


__all__ = [
    "HOOK",
    "Merge",
    "ShippedError",
    "ShippedSchedule",
    "ShippedTask",
    "dump_last",
    "load_last",
    "merge",
    "normalize",
    "parse_hook",
    "parse_task",
    "withdraw",
]
