"""Deciding what a fire request from the daemon becomes (PROTOCOL.md "Firing", step 4).

The Frappe side gathers the facts about the item; :func:`plan_fire` either returns how to
enqueue it or raises :class:`FireRejected` with the HTTP-ish reason the daemon needs:
``not_found`` and ``disabled`` are permanent (4xx, the daemon does not retry).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from streams.keys import Kind
from streams.messages import fire_id as make_fire_id
from streams.messages import job_id_for

NOT_FOUND = "not_found"
DISABLED = "disabled"
BAD_REQUEST = "bad_request"

SCHEDULE = "Schedule"
RUN_LATER = "Run Later"
MANUAL = "Manual"

MAX_FIRE_ID = 164  # an id of up to 140 characters, "@" and epoch milliseconds


class FireRejected(Exception):
    """The request cannot be fired; ``reason`` is one of NOT_FOUND, DISABLED, BAD_REQUEST."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def check_request(item_id: str, kind: str, due: int, fire_id: str) -> None:
    """Reject a malformed request: unknown kind, or a fire_id that is not ``{id}@{due}``."""
    if kind not in (Kind.CRON, Kind.ONCE):
        raise FireRejected(BAD_REQUEST, f"kind must be 'cron' or 'once', not {kind!r}.")
    if not item_id or not fire_id or len(fire_id) > MAX_FIRE_ID:
        raise FireRejected(
            BAD_REQUEST, "id and fire_id are required (fire_id at most 164 characters)."
        )
    if due < 0:
        raise FireRejected(BAD_REQUEST, f"due must be epoch milliseconds, not {due}.")
    expected = make_fire_id(item_id, due)
    if fire_id != expected:
        raise FireRejected(
            BAD_REQUEST, f"fire_id {fire_id!r} does not match id and due ({expected!r})."
        )


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """An item as the database has it when the daemon fires it."""

    kind: str
    name: str
    task: str | None
    enabled: bool  # Schedule: its Enabled box; Run Later: status is Pending
    task_exists: bool
    task_enabled: bool
    function_path: str | None
    queue: str | None  # the item's own queue (schedule override, run-later queue)
    task_queue: str | None
    max_duration_s: int | None
    status: str = ""


@dataclass(frozen=True, slots=True)
class FirePlan:
    queue: str
    timeout_s: int | None
    trigger: str


def plan_fire(
    facts: ItemFacts | None,
    kind: str,
    item_id: str,
    known_queues: Collection[str],
    default_queue: str,
) -> FirePlan:
    """How to enqueue a fire of ``facts`` (``None``: no such document)."""
    label = "schedule" if kind == Kind.CRON else "run-later item"
    if facts is None:
        raise FireRejected(NOT_FOUND, f"There is no {label} {item_id!r}.")
    if facts.kind != kind:
        raise FireRejected(BAD_REQUEST, f"{item_id!r} is not a {kind} item.")
    if kind == Kind.CRON and not facts.enabled:
        raise FireRejected(DISABLED, f"Schedule {item_id!r} is disabled.")
    if kind == Kind.ONCE and not facts.enabled:
        raise FireRejected(
            DISABLED, f"Run-later item {item_id!r} is {facts.status or 'not pending'}, not Pending."
        )
    if facts.task and not facts.task_exists:
        raise FireRejected(NOT_FOUND, f"Task {facts.task!r} of {item_id!r} no longer exists.")
    if facts.task and not facts.task_enabled:
        raise FireRejected(DISABLED, f"Task {facts.task!r} of {item_id!r} is disabled.")
    if not facts.task and not facts.function_path:
        raise FireRejected(BAD_REQUEST, f"{item_id!r} has neither a task nor a function to run.")
    queue = facts.queue or facts.task_queue or default_queue
    if queue not in known_queues:
        raise FireRejected(
            BAD_REQUEST,
            f"Queue {queue!r} of {item_id!r} is not one of this bench's queues "
            f"({', '.join(sorted(known_queues))}).",
        )
    timeout = facts.max_duration_s if facts.max_duration_s and facts.max_duration_s > 0 else None
    return FirePlan(
        queue=queue, timeout_s=timeout, trigger=SCHEDULE if kind == Kind.CRON else RUN_LATER
    )


def manual_fire_id(uid: str | None = None) -> str:
    """The fire_id of a "Run now": ``manual-<uuid hex>``."""
    return f"manual-{uid or uuid.uuid4().hex}"


def base_job_id(fire_id: str) -> str:
    """The RQ job id BTU asks for (Frappe then prefixes ``{site}::``)."""
    return job_id_for(fire_id)
