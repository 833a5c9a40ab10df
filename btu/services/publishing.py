"""Publishing schedules and run-later items to the scheduler (PROTOCOL.md "Schedule
change events"), after the database commit.

Every change queues the document's id; after the commit, each id is published once with
the state the database then holds (a deleted document becomes a ``delete``). Redis
problems never reach the user who saved: they are logged, the form's confirmation says
so, and the hourly :func:`heal_state` republishes whatever the state hash lacks.
"""

import time

import frappe
from frappe.utils import get_system_timezone

from btu.core import replies, sync
from btu.core.doctypes import RUN_LATER, RUN_LATER_KEPT, SCHEDULE
from btu.core.payloads import Event, event_for, wanted_state
from btu.redis_conn import REDIS_ERRORS, get_redis, site_keys
from btu.services import clock
from btu.services import rows as db_rows
from streams.errors import RpcFailed, RpcTimeout
from streams.keys import Cmd
from streams.messages import ScheduleDelete
from streams.publish import publish_all
from streams.rpc import RpcClient

RELOAD_TIMEOUT_S = 1.0
SCHEDULE_FIELDS = ("name", "task", "enabled", "cron_expression", "time_zone")
RUN_LATER_FIELDS = ("name", "task", "function_path", "run_at", "status")
_PENDING = "btu_publish_pending"
# Names per query when reading what to publish after a commit.
FLUSH_CHUNK = 500


def now_ms() -> int:
    return int(time.time() * 1000)


def logger():
    # Frappe's loggers drop anything below ERROR outside the dev server: the anomalies
    # worth an operator's attention are logged as errors (logs/btu.log).
    return frappe.logger("btu", allow_site=True)


def _fields(doctype: str) -> tuple[str, ...]:
    return SCHEDULE_FIELDS if doctype == SCHEDULE else RUN_LATER_FIELDS


def _task_enabled(task: str | None) -> bool:
    if not task:
        return True
    return bool(frappe.db.get_value("BTU Task", task, "enabled"))


def current_event(doctype: str, name: str) -> Event:
    """The event that makes Redis match what the database holds now for one item."""
    row = frappe.db.get_value(doctype, name, list(_fields(doctype)), as_dict=True)
    task_enabled = _task_enabled(row.get("task")) if row else False
    return event_for(doctype, row, name, task_enabled, get_system_timezone(), now_ms())


# -- after commit ---------------------------------------------------------------------


def queue_publish(doctype: str, name: str) -> None:
    """Publish ``doctype``/``name`` after the current transaction commits (once, however
    many times it changed in the transaction); nothing when it rolls back."""
    pending = getattr(frappe.local, _PENDING, None)
    if pending is None:
        pending = set()
        setattr(frappe.local, _PENDING, pending)
        frappe.db.after_commit.add(_flush)
        frappe.db.after_rollback.add(_forget)
    pending.add((doctype, name))


def queue_task_items(task: str) -> None:
    """Queue every schedule and live run-later item of ``task`` (its state changed)."""
    for name in frappe.get_all(SCHEDULE, filters={"task": task}, pluck="name"):
        queue_publish(SCHEDULE, name)
    live = {"task": task, "status": ["in", sorted(RUN_LATER_KEPT)]}
    for name in frappe.get_all(RUN_LATER, filters=live, pluck="name"):
        queue_publish(RUN_LATER, name)


def _forget() -> None:
    setattr(frappe.local, _PENDING, None)


def current_events(pending: set[tuple[str, str]]) -> list[Event]:
    """:func:`current_event` for many items, with one query per doctype (per chunk of
    names) and one for their tasks, instead of two per item. Plain SQL and the stored
    system time zone: an RQ work horse that finished a run-later item publishes through
    here, and ``frappe.get_all``/``get_system_timezone`` would import Frappe's query
    layer, document model and ``frappe.boot`` (with requests) for it, ~500 ms a job."""
    rows: dict[tuple[str, str], dict] = {}
    for doctype in sorted({d for d, _ in pending}):
        names = sorted(n for d, n in pending if d == doctype)
        for start in range(0, len(names), FLUSH_CHUNK):
            chunk = names[start : start + FLUSH_CHUNK]
            found = db_rows.get_many(doctype, chunk, list(_fields(doctype)))
            rows.update(((doctype, row.name), row) for row in found)
    tasks = sorted({str(row.get("task")) for row in rows.values() if row.get("task")})
    enabled: dict[str, bool] = {}
    for start in range(0, len(tasks), FLUSH_CHUNK):
        chunk = tasks[start : start + FLUSH_CHUNK]
        found = db_rows.get_many("BTU Task", chunk, ["name", "enabled"])
        enabled.update((t.name, bool(t.enabled)) for t in found)
    system_tz, ts = clock.system_time_zone() or get_system_timezone(), now_ms()
    events = []
    for doctype, name in sorted(pending):
        row = rows.get((doctype, name))
        task = row.get("task") if row else None
        task_enabled = enabled.get(str(task), False) if task else bool(row)
        events.append(event_for(doctype, row, name, task_enabled, system_tz, ts))
    return events


def _flush() -> None:
    pending = getattr(frappe.local, _PENDING, None) or set()
    setattr(frappe.local, _PENDING, None)
    if not pending:
        return
    try:
        # One HMGET and one MULTI/EXEC per FLUSH_CHUNK items, however many changed.
        sync.publish_changed(get_redis(), site_keys(), current_events(pending))
    except REDIS_ERRORS as e:
        # The save is committed; the hourly heal_state (or the form's confirmation)
        # publishes it once Redis is back.
        logger().error(f"btu: publishing {len(pending)} item(s) failed: {e}")


# -- the form's confirmation --------------------------------------------------------


def confirm(doctype: str, name: str) -> dict:
    """Make sure Redis has the item as the database has it, then ask the daemon to
    ``reload`` it (1 s); the answer is what the form shows."""
    try:
        r, keys = get_redis(), site_keys()
        event = current_event(doctype, name)
        sync.publish_if_changed(r, keys, event)
    except REDIS_ERRORS as e:
        return replies.redis_unreachable(type(e).__name__).as_dict()
    if isinstance(event, ScheduleDelete):
        return replies.removed().as_dict()
    try:
        data = RpcClient(r, keys).call(Cmd.RELOAD, name, timeout=RELOAD_TIMEOUT_S)
    except RpcTimeout:
        return replies.unreachable().as_dict()
    except RpcFailed as e:
        return replies.refused(e.reason).as_dict()
    except REDIS_ERRORS as e:
        return replies.redis_unreachable(type(e).__name__).as_dict()
    return replies.reload_answer(data).as_dict()


# -- whole state ----------------------------------------------------------------------


def wanted_upserts() -> list:
    """Every upsert the state hash should hold, from the database."""
    tasks = {
        t.name: bool(t.enabled) for t in frappe.get_all("BTU Task", fields=["name", "enabled"])
    }
    schedules = frappe.get_all(SCHEDULE, fields=list(SCHEDULE_FIELDS))
    run_laters = frappe.get_all(
        RUN_LATER,
        filters={"status": ["in", sorted(RUN_LATER_KEPT)]},
        fields=list(RUN_LATER_FIELDS),
    )
    return wanted_state(schedules, run_laters, tasks, get_system_timezone(), now_ms())


def republish_all() -> dict:
    """Rebuild the state hash and the stream from the database."""
    result = publish_all(get_redis(), site_keys(), wanted_upserts(), now_ms())
    # The daemon's heal also renews the site's discovery entry (btu:sites).
    from btu.services.discovery import register_site

    register_site()
    return {"upserts": result.upserts, "deletes": result.deletes}


def heal_state() -> None:
    """Hourly safety net: republish whatever the state hash lost or got wrong."""
    try:
        result = sync.repair_state(get_redis(), site_keys(), wanted_upserts(), now_ms())
    except REDIS_ERRORS as e:
        logger().error(f"btu: state check skipped, Redis unreachable: {e}")
        return
    if result.upserts or result.deletes:
        logger().error(
            f"btu: state hash repaired: {result.upserts} upsert(s), {result.deletes} delete(s)"
            + (" (bulk)" if result.bulk else "")
        )
