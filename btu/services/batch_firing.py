"""Batch firing (PROTOCOL.md "Batch firing (1.1)"): many fires in one database
transaction and one Redis pipeline.

The facts of all items come from a few queries; each fire is decided by
:mod:`btu.core.batch` with the single request's checks. The Task Logs are inserted in
bulk with ``INSERT IGNORE`` on the unique ``fire_id``, then read back with a locking read:
a fire_id recorded under another name belongs to a concurrent request (a duplicate), so a
fire is never recorded twice. Run Later items go In Flight, the transaction commits, and
only then are the jobs enqueued. If Redis refuses them, the logs are deleted and the
items put back to Pending (the daemon retries those fires: 503).

Bulk-inserted logs skip document hooks: BTU Task Log has none that apply to a new
Queued log (Frappe Notifications on "New" Task Logs do not fire for batch fires).
"""

from dataclasses import dataclass

import frappe
from frappe import _
from frappe.query_builder import Case
from frappe.utils import get_system_timezone, now_datetime
from frappe.utils.background_jobs import create_job_id

from btu.core import batch, firing, naming
from btu.core.doctypes import IN_FLIGHT, PENDING, RUN_LATER, SCHEDULE
from btu.exceptions import BadFireRequest
from btu.redis_conn import REDIS_ERRORS
from btu.services import config, publishing, rq_batch, txn
from btu.services.firing import LOG, RUN_LATER_FIELDS, SCHEDULE_FIELDS, TASK_FIELDS, run_at_ms
from streams.keys import Kind


@dataclass(frozen=True)
class Recorded:
    """A Task Log this request inserted."""

    name: str
    fire_id: str
    job_id: str
    queue: str
    time_limit: int
    run_later: str | None


def _rows(doctype: str, names, fields) -> list:
    if not names:
        return []
    return frappe.get_all(doctype, filters={"name": ["in", sorted(names)]}, fields=fields)


def _facts(keys: dict[str, set[str]]) -> dict:
    """(kind, id) -> ItemFacts of every item in ``keys``: three queries in all."""
    schedules = _rows(SCHEDULE, keys.get(Kind.CRON), SCHEDULE_FIELDS)
    run_laters = _rows(RUN_LATER, keys.get(Kind.ONCE), RUN_LATER_FIELDS)
    tasks = {r.task for r in [*schedules, *run_laters] if r.task}
    by_task = {t.name: t for t in _rows("BTU Task", tasks, ["name", *TASK_FIELDS])}
    facts = {}
    for r in schedules:
        facts[(Kind.CRON, r.name)] = firing.schedule_facts(r, by_task.get(r.task))
    for r in run_laters:
        at = run_at_ms(r.run_at)
        facts[(Kind.ONCE, r.name)] = firing.run_later_facts(r, by_task.get(r.task), at)
    return facts


def _logs_of(fire_ids, lock: bool = False) -> list:
    """The Task Logs of ``fire_ids``; ``lock``: a locking read, which sees what concurrent
    requests committed after this transaction's snapshot."""
    if not fire_ids:
        return []
    t = frappe.qb.DocType(LOG)
    query = frappe.qb.from_(t).select(t.name, t.fire_id, t.job_id).where(t.fire_id.isin(fire_ids))
    return (query.for_update() if lock else query).run(as_dict=True)


def _new_names(count: int) -> list[str]:
    """``count`` Task Log names, taken from the series as Frappe's autoname would."""
    prefix, width = naming.series_of(frappe.get_meta(LOG).autoname) or ("TL-", 8)
    row = frappe.db.sql("select `current` from `tabSeries` where `name`=%s for update", (prefix,))
    if row and row[0][0] is not None:
        last = int(row[0][0])
        frappe.db.sql(
            "update `tabSeries` set `current` = %s where `name` = %s", (last + count, prefix)
        )
    else:
        last = 0
        frappe.db.sql(
            "insert into `tabSeries` (`name`, `current`) values (%s, %s)", (prefix, count)
        )
    return naming.series_names(prefix, width, last, count)


def _set_run_later(items: dict[str, str | None], status: str) -> None:
    """Set the status (and task log) of run-later items, as one statement."""
    if not items:
        return
    t = frappe.qb.DocType(RUN_LATER)
    case = Case()
    for name, log in items.items():
        case = case.when(t.name == name, log)
    (
        frappe.qb.update(t)
        .set(t.status, status)
        .set(t.task_log, case)
        .set(t.modified, now_datetime())
        .set(t.modified_by, frappe.session.user)
        .where(t.name.isin(list(items)))
        .run()
    )
    keys = [frappe.get_document_cache_key(RUN_LATER, name) for name in items]
    frappe.cache.delete_value(keys)
    for name in items:
        publishing.queue_publish(RUN_LATER, name)


def _record(fires: list[batch.Accepted]) -> tuple[list[Recorded], dict[str, str]]:
    """Insert the Task Logs of ``fires``; returns ours and the job id of every fire_id
    now recorded (ours or a concurrent request's)."""
    names = _new_names(len(fires))
    queues = config.known_queues()
    rows = batch.log_rows(
        fires,
        names,
        lambda fire_id: create_job_id(firing.base_job_id(fire_id)),
        queues,
        get_system_timezone(),
        frappe.session.user,
        now_datetime(),
    )
    fields = [*batch.STANDARD_FIELDS, *batch.LOG_FIELDS]
    frappe.db.bulk_insert(LOG, fields, rows, ignore_duplicates=True)
    found = _logs_of([f.request.fire_id for f in fires], lock=True)
    job_ids = {r.fire_id: r.job_id for r in found}
    mine = {r.name for r in found}
    at = {f: i for i, f in enumerate(batch.LOG_FIELDS, start=len(batch.STANDARD_FIELDS))}
    ours = [
        Recorded(
            name=row[0],
            fire_id=row[at["fire_id"]],
            job_id=row[at["job_id"]],
            queue=row[at["queue"]],
            time_limit=row[at["time_limit"]],
            run_later=row[at["run_later"]],
        )
        for row in rows
        if row[0] in mine
    ]
    return ours, job_ids


def _enqueue_or_undo(ours: list[Recorded]) -> dict[str, batch.Failed]:
    """Enqueue the jobs of ``ours``; if Redis refuses them, forget the records (the
    daemon retries those fires) and answer 503 for each."""
    try:
        rq_batch.enqueue(ours)
    except REDIS_ERRORS as e:
        publishing.logger().error(f"btu: enqueueing a batch of {len(ours)} fires failed: {e}")
        frappe.db.delete(LOG, {"name": ["in", [r.name for r in ours]]})
        _set_run_later({r.run_later: None for r in ours if r.run_later}, PENDING)
        txn.commit()
        message = _("The job queue (Redis) did not accept the job: {0}").format(e)
        return {r.fire_id: batch.Failed(batch.QUEUE_UNAVAILABLE, message) for r in ours}
    return {}


def enqueue_batch(body) -> dict:
    """Fire every request of ``body`` (``{"fires": [...]}``); ``{"results": [...]}``, one
    per fire in request order."""
    try:
        entries = batch.parse_batch(body)
    except batch.BatchRejected as e:
        frappe.throw(e.message, BadFireRequest, title=_("Not fired"))
    slots = batch.parse_fires(entries)
    fire_ids = sorted({s.request.fire_id for s in slots if s.request})
    known = {r.fire_id: r.job_id for r in _logs_of(fire_ids)}
    ctx = batch.Context(
        facts=_facts(batch.item_keys(slots)),
        known_queues=config.known_queues(),
        default_queue=config.default_queue(),
        now_ms=publishing.now_ms(),
        late_limit_ms=config.late_fire_limit_ms(),
    )
    batch.decide(slots, known, ctx)
    fires = batch.accepted(slots)
    ours: list[Recorded] = []
    job_ids, failed = dict(known), {}
    if fires:
        ours, recorded = _record(fires)
        job_ids.update(recorded)
        # A fire neither ours nor found under another name was not recorded: retry it.
        lost = {f.request.fire_id for f in fires} - set(recorded)
        message = "The fire was not recorded; send it again."
        failed = {fire_id: batch.Failed(batch.QUEUE_UNAVAILABLE, message) for fire_id in lost}
        _set_run_later({r.run_later: r.name for r in ours if r.run_later}, IN_FLIGHT)
        txn.commit()
        failed.update(_enqueue_or_undo(ours))
    batch.settle(slots, job_ids, {r.fire_id for r in ours}, failed)
    return {"results": batch.results(slots, job_ids)}
