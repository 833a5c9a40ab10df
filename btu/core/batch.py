"""Batch firing (PROTOCOL.md "Batch firing (1.1)"): many fires of one site in one request.

Each fire gets exactly the checks of a single request (:mod:`btu.core.firing`), in the
same order: its fields, then a known ``fire_id`` answers ``duplicate``, then the item's
facts, then its due instant. The Frappe side gathers the facts of all items in a few
queries; this module decides per fire and builds the answer, one result per fire in
request order. A malformed batch (not a list, too many fires, an entry that is not an
object) is refused as a whole (:class:`BatchRejected`, 400).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from btu.core import firing
from btu.core.firing import FirePlan, FireRejected, FireRequest, ItemFacts
from btu.core.timeconv import from_epoch_ms
from streams.keys import Kind

MAX_FIRES = 500
# The HTTP status a single request would have answered for each reason.
STATUS = {firing.NOT_FOUND: 404, firing.DISABLED: 409, firing.BAD_REQUEST: 400}
QUEUE_UNAVAILABLE = 503


class BatchRejected(Exception):
    """The batch as a whole is malformed (400); ``message`` is one line naming why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_batch(fields: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The fire entries of a batch body ``{"fires": [...]}`` (Frappe's ``cmd`` aside), or
    :class:`BatchRejected`. Each entry is an object; its own fields are checked per fire."""
    body = {k: v for k, v in fields.items() if k not in firing.FRAPPE_FIELDS}
    if "fires" not in body:
        raise BatchRejected('missing fires: a batch is {"fires": [{"id", "kind", "due", ...}]}.')
    unknown = sorted(k for k in body if k != "fires")
    if unknown:
        raise BatchRejected(
            f"unknown field {', '.join(map(repr, unknown))}: a batch has only fires."
        )
    fires = body["fires"]
    if isinstance(fires, str):  # a form-encoded body carries the list as JSON text
        try:
            fires = json.loads(fires)
        except ValueError as e:
            raise BatchRejected(f"fires is not valid JSON: {e}.") from e
    if not isinstance(fires, list):
        raise BatchRejected(f"fires must be a list of fire requests, not {type(fires).__name__}.")
    if len(fires) > MAX_FIRES:
        raise BatchRejected(
            f"{len(fires)} fires in one batch: at most {MAX_FIRES}; split the batch."
        )
    for index, entry in enumerate(fires):
        if not isinstance(entry, Mapping):
            raise BatchRejected(
                f"fires[{index}] must be an object with id, kind, due and fire_id, not "
                f"{type(entry).__name__}."
            )
    return fires


@dataclass(frozen=True, slots=True)
class Accepted:
    """A fire to record and enqueue."""

    request: FireRequest
    facts: ItemFacts
    plan: FirePlan


@dataclass(frozen=True, slots=True)
class Duplicate:
    job_id: str


@dataclass(frozen=True, slots=True)
class Failed:
    status: int
    message: str


@dataclass(frozen=True, slots=True)
class Repeat:
    """A fire_id seen earlier in the same batch: answered as the first one was (a
    duplicate of it when it was recorded)."""

    first: int  # index of the first slot with this fire_id


Decision = Accepted | Duplicate | Failed | Repeat


@dataclass(slots=True)
class Slot:
    """One fire of the batch, in request order."""

    fire_id: str | None  # echoed in its result (None when the entry has no text fire_id)
    request: FireRequest | None
    decision: Decision | None = None


def parse_fires(entries: Sequence[Mapping[str, Any]]) -> list[Slot]:
    """A slot per entry; a malformed entry's slot is already decided (400)."""
    slots = []
    for entry in entries:
        raw = entry.get("fire_id")
        echo = raw if isinstance(raw, str) else None
        try:
            slots.append(Slot(fire_id=echo, request=firing.parse_request(entry)))
        except FireRejected as e:
            slots.append(Slot(echo, None, Failed(STATUS[e.reason], e.message)))
    return slots


def item_keys(slots: Sequence[Slot]) -> dict[str, set[str]]:
    """The item ids to look up, by kind (only of fires still undecided)."""
    keys: dict[str, set[str]] = {}
    for slot in slots:
        if slot.decision is None and slot.request is not None:
            keys.setdefault(slot.request.kind, set()).add(slot.request.id)
    return keys


@dataclass(frozen=True, slots=True)
class Context:
    """What the site says, gathered once for the batch."""

    facts: Mapping[tuple[str, str], ItemFacts]  # (kind, id) -> facts; absent: no such item
    known_queues: Collection[str]
    default_queue: str
    now_ms: int
    late_limit_ms: int


def decide_one(request: FireRequest, ctx: Context) -> Decision:
    """A single request's checks, after its fire_id was found unknown."""
    facts = ctx.facts.get((request.kind, request.id))
    try:
        plan = firing.plan_fire(
            facts, request.kind, request.id, ctx.known_queues, ctx.default_queue
        )
        assert facts is not None  # plan_fire rejects a missing item
        firing.check_due(facts, request.due, ctx.now_ms, ctx.late_limit_ms)
    except FireRejected as e:
        return Failed(STATUS[e.reason], e.message)
    return Accepted(request, facts, plan)


def decide(slots: Sequence[Slot], known: Mapping[str, str], ctx: Context) -> None:
    """Decide every open slot: a fire_id in ``known`` (fire_id -> job_id of its Task Log)
    is a duplicate; a fire_id repeated within the batch is a :class:`Repeat`; the rest
    get the single request's checks."""
    first: dict[str, int] = {}
    for index, slot in enumerate(slots):
        if slot.decision is not None or slot.request is None:
            continue
        fire_id = slot.request.fire_id
        if fire_id in known:
            slot.decision = Duplicate(known[fire_id])
        elif fire_id in first:
            slot.decision = Repeat(first[fire_id])
        else:
            slot.decision = decide_one(slot.request, ctx)
            first[fire_id] = index


def accepted(slots: Sequence[Slot]) -> list[Accepted]:
    """The fires to record (each fire_id once), in request order."""
    return [s.decision for s in slots if isinstance(s.decision, Accepted)]


def settle(
    slots: Sequence[Slot],
    job_ids: Mapping[str, str],
    ours: Collection[str],
    failed: Mapping[str, Failed],
) -> None:
    """Close the accepted fires after recording and enqueueing them. ``job_ids``: the job
    id of each recorded fire_id (ours or a concurrent request's); a fire_id not in
    ``ours`` lost the race to a concurrent request (a duplicate); ``failed``: the fires
    that could not be recorded or enqueued."""
    for slot in slots:
        d = slot.decision
        if not isinstance(d, Accepted):
            continue
        fire_id = d.request.fire_id
        if fire_id in failed:
            slot.decision = failed[fire_id]
        elif fire_id not in ours:
            slot.decision = Duplicate(job_ids[fire_id])


def result(slots: Sequence[Slot], index: int, job_ids: Mapping[str, str]) -> dict[str, Any]:
    """The answer for fire ``index``: ``{"fire_id", "job_id", "duplicate"}`` or
    ``{"fire_id", "error": {"status", "message"}}``."""
    slot = slots[index]
    d = slot.decision
    duplicate = False
    if isinstance(d, Repeat):
        d, duplicate = slots[d.first].decision, True
    if isinstance(d, Failed):
        return {"fire_id": slot.fire_id, "error": {"status": d.status, "message": d.message}}
    if isinstance(d, Duplicate):
        return {"fire_id": slot.fire_id, "job_id": d.job_id, "duplicate": True}
    if not isinstance(d, Accepted):
        raise AssertionError(f"fire {slot.fire_id!r} was never decided")
    return {"fire_id": slot.fire_id, "job_id": job_ids[d.request.fire_id], "duplicate": duplicate}


def results(slots: Sequence[Slot], job_ids: Mapping[str, str]) -> list[dict[str, Any]]:
    """One result per fire, in request order."""
    return [result(slots, i, job_ids) for i in range(len(slots))]


# The Task Log columns a batch inserts (besides Frappe's name, owner and timestamps).
LOG_FIELDS = (
    "fire_id",
    "job_id",
    "queue",
    "time_limit",
    "triggered_by",
    "status",
    "attempt",
    "task",
    "schedule",
    "run_later",
    "due",
)
STANDARD_FIELDS = ("name", "owner", "modified_by", "creation", "modified", "docstatus", "idx")


def log_rows(
    fires: Sequence[Accepted],
    names: Sequence[str],
    job_id: Callable[[str], str],
    queue_timeouts: Mapping[str, int],
    system_tz: str,
    user: str,
    now: dt.datetime,
) -> list[tuple[Any, ...]]:
    """The Task Log rows of ``fires`` (columns :data:`STANDARD_FIELDS` then
    :data:`LOG_FIELDS`), the values a single request's Task Log gets."""
    rows = []
    for fire, name in zip(fires, names, strict=True):
        request, plan = fire.request, fire.plan
        cron = request.kind == Kind.CRON
        values = {
            "fire_id": request.fire_id,
            "job_id": job_id(request.fire_id),
            "queue": plan.queue,
            "time_limit": plan.timeout_s or queue_timeouts.get(plan.queue) or 300,
            "triggered_by": plan.trigger,
            "status": "Queued",
            "attempt": 1,
            "task": fire.facts.task,
            "schedule": request.id if cron else None,
            "run_later": None if cron else request.id,
            "due": from_epoch_ms(request.due, system_tz),
        }
        standard = (name, user, user, now, now, 0, 0)
        rows.append(standard + tuple(values[f] for f in LOG_FIELDS))
    return rows
