"""What each document means on the wire (PROTOCOL.md "Schedule change events").

* A Task Schedule is a ``cron`` item, armed when it and its task are enabled.
* A Run Later item is a ``once`` item at its instant: armed while Pending (and its task,
  if any, enabled); kept disarmed while In Flight; absent from the state hash once it
  is Done, Failed or Cancelled, so the hash does not grow with history.

Rows are plain mappings of the documents' field values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from btu.core.doctypes import PENDING, RUN_LATER, RUN_LATER_KEPT, SCHEDULE
from btu.core.timeconv import to_epoch_ms
from streams.keys import Kind
from streams.messages import ScheduleDelete, ScheduleUpsert

MAX_TASK_FIELD = 140

Event = ScheduleUpsert | ScheduleDelete


def _flag(value: Any) -> bool:
    return bool(int(value or 0))


def _task_label(row: Mapping[str, Any]) -> str:
    label = str(row.get("task") or row.get("function_path") or row["name"])
    return label[:MAX_TASK_FIELD]


def schedule_upsert(row: Mapping[str, Any], task_enabled: bool, ts: int) -> ScheduleUpsert:
    """The upsert of a Task Schedule row."""
    return ScheduleUpsert(
        id=str(row["name"]),
        kind=Kind.CRON,
        task=_task_label(row),
        cron=str(row["cron_expression"]),
        tz=str(row["time_zone"]),
        enabled=_flag(row.get("enabled")) and task_enabled,
        ts=ts,
    )


def run_later_event(row: Mapping[str, Any], task_enabled: bool, system_tz: str, ts: int) -> Event:
    """The event of a Run Later row: ``run_at`` is a wall time of ``system_tz``."""
    status = row.get("status") or PENDING
    if status not in RUN_LATER_KEPT:
        return ScheduleDelete(id=str(row["name"]), ts=ts)
    return ScheduleUpsert(
        id=str(row["name"]),
        kind=Kind.ONCE,
        task=_task_label(row),
        at=to_epoch_ms(row["run_at"], system_tz),
        enabled=status == PENDING and task_enabled,
        ts=ts,
    )


def event_for(
    doctype: str,
    row: Mapping[str, Any] | None,
    item_id: str,
    task_enabled: bool,
    system_tz: str,
    ts: int,
) -> Event:
    """The event that makes the state hash match the database for one item; a missing
    row (deleted document) is a delete."""
    if row is None:
        return ScheduleDelete(id=item_id, ts=ts)
    if doctype == SCHEDULE:
        return schedule_upsert(row, task_enabled, ts)
    if doctype == RUN_LATER:
        return run_later_event(row, task_enabled, system_tz, ts)
    raise ValueError(f"{doctype} is not published to the scheduler")


def wanted_state(
    schedules: Iterable[Mapping[str, Any]],
    run_laters: Iterable[Mapping[str, Any]],
    task_enabled: Mapping[str, bool],
    system_tz: str,
    ts: int,
) -> list[ScheduleUpsert]:
    """Every upsert the state hash should hold, from all schedules and run-later items.

    A task missing from ``task_enabled`` counts as disabled.
    """
    out = [
        schedule_upsert(row, task_enabled.get(str(row.get("task")), False), ts) for row in schedules
    ]
    for row in run_laters:
        enabled = task_enabled.get(str(row["task"]), False) if row.get("task") else True
        event = run_later_event(row, enabled, system_tz, ts)
        if isinstance(event, ScheduleUpsert):
            out.append(event)
    return out
