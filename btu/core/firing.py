"""Deciding what a fire request from the daemon becomes (PROTOCOL.md "Firing", step 4).

The Frappe side gathers the facts about the item; :func:`plan_fire` either returns how to
enqueue it or raises :class:`FireRejected` with the HTTP-ish reason the daemon needs:
``not_found`` and ``disabled`` are permanent (4xx, the daemon does not retry).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from btu.core.doctypes import PENDING
from streams.cron import compile_schedule
from streams.errors import CronError
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
MAX_ID = 140
REQUEST_FIELDS = ("id", "kind", "due", "fire_id")
# Frappe adds the called method's name to the arguments it passes on.
FRAPPE_FIELDS = frozenset({"cmd"})
# A fire may reach the site a little before its instant by the site's clock (clock skew
# between the daemon's host and the site's); further ahead is refused.
EARLY_TOLERANCE_MS = 60_000
# grace_seconds + retry_deadline_seconds of the daemon's defaults (300 + 300).
DEFAULT_LATE_LIMIT_S = 600


class FireRejected(Exception):
    """The request cannot be fired; ``reason`` is one of NOT_FOUND, DISABLED, BAD_REQUEST."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class FireRequest:
    """A fire request from the daemon, checked field by field."""

    id: str
    kind: str
    due: int
    fire_id: str


def _text_field(body: Mapping[str, Any], name: str, limit: int) -> str:
    value = body[name]
    if not isinstance(value, str) or not value.strip():
        raise FireRejected(BAD_REQUEST, f"{name} must be a non-empty string, not {value!r}.")
    if len(value) > limit:
        raise FireRejected(BAD_REQUEST, f"{name} is longer than {limit} characters.")
    return value


def _due_field(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise FireRejected(BAD_REQUEST, f"due must be an integer (epoch ms), not {value!r}.")
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit() and len(value) <= 16):
            raise FireRejected(BAD_REQUEST, f"due must be an integer (epoch ms), not {value!r}.")
        value = int(value)
    return value


def parse_request(fields: Mapping[str, Any]) -> FireRequest:
    """The request in ``fields`` (what Frappe passed on), or :class:`FireRejected`
    (400) naming the first problem: a missing or unknown field, a wrong type, a fire_id
    that is not ``{id}@{due}``."""
    body = {k: v for k, v in fields.items() if k not in FRAPPE_FIELDS}
    missing = [f for f in REQUEST_FIELDS if f not in body]
    if missing:
        raise FireRejected(
            BAD_REQUEST,
            f"missing {', '.join(missing)}: a fire request has the fields id, kind, due and "
            "fire_id.",
        )
    unknown = sorted(k for k in body if k not in REQUEST_FIELDS)
    if unknown:
        raise FireRejected(
            BAD_REQUEST,
            f"unknown field {', '.join(map(repr, unknown))}: a fire request has only id, kind, "
            "due and fire_id.",
        )
    request = FireRequest(
        id=_text_field(body, "id", MAX_ID),
        kind=_text_field(body, "kind", 8),
        due=_due_field(body["due"]),
        fire_id=_text_field(body, "fire_id", MAX_FIRE_ID),
    )
    check_request(request.id, request.kind, request.due, request.fire_id)
    return request


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
    cron: str = ""  # a schedule's expression and zone, to check a fire's due instant
    tz: str = ""
    at_ms: int | None = None  # a run-later item's instant


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


def check_due(facts: ItemFacts, due: int, now_ms: int, late_limit_ms: int) -> None:
    """Refuse (400) a fire whose ``due`` is not an instant of the item as the database has
    it now: for a schedule, an instant of its cron expression in its zone (the daemon's
    own engine); for a run-later item, exactly its instant. Either way the instant may
    be neither ahead of the site's clock (beyond a small clock skew) nor older than
    ``late_limit_ms``: the daemon never fires early, and never sends an old fire."""
    if facts.kind == Kind.ONCE and due != facts.at_ms:
        raise FireRejected(
            BAD_REQUEST,
            f"due {due} is not the instant of run-later item {facts.name!r} ({facts.at_ms}).",
        )
    if due > now_ms + EARLY_TOLERANCE_MS:
        raise FireRejected(
            BAD_REQUEST,
            f"due {due} is {(due - now_ms) // 1000} s ahead of this site's clock: a fire is "
            "never sent before its instant (check the clocks of the daemon's host and the "
            "site's).",
        )
    if now_ms - due > late_limit_ms:
        raise FireRejected(
            BAD_REQUEST,
            f"due {due} is {(now_ms - due) // 1000} s old, older than the late-fire limit of "
            f"{late_limit_ms // 1000} s (BTU Configuration).",
        )
    if facts.kind == Kind.ONCE:
        return
    try:
        schedule = compile_schedule(facts.cron, facts.tz)
    except CronError as e:
        raise FireRejected(BAD_REQUEST, f"Schedule {facts.name!r} cannot fire: {e}") from e
    if schedule.next_after(due - 1) != due:
        raise FireRejected(
            BAD_REQUEST,
            f"due {due} is not an instant of schedule {facts.name!r} "
            f"({facts.cron!r} in {facts.tz}).",
        )


def manual_fire_id(uid: str | None = None) -> str:
    """The fire_id of a "Run now": ``manual-<uuid hex>``."""
    return f"manual-{uid or uuid.uuid4().hex}"


def base_job_id(fire_id: str) -> str:
    """The RQ job id BTU asks for (Frappe then prefixes ``{site}::``)."""
    return job_id_for(fire_id)


def task_row_facts(task: str | None, task_row: Mapping[str, Any] | None) -> dict[str, Any]:
    if not task or not task_row:
        return {"task_exists": False, "task_enabled": False, "task_queue": None, "max": None}
    return {
        "task_exists": True,
        "task_enabled": bool(int(task_row.get("enabled") or 0)),
        "task_queue": task_row.get("queue") or None,
        "max": int(task_row.get("max_duration") or 0) or None,
    }


def schedule_facts(row: Mapping[str, Any], task_row: Mapping[str, Any] | None) -> ItemFacts:
    """The facts of a Task Schedule from its row (name, task, enabled, queue_override,
    cron_expression, time_zone) and its task's row (enabled, queue, max_duration)."""
    t = task_row_facts(row.get("task"), task_row)
    return ItemFacts(
        kind=Kind.CRON,
        name=row["name"],
        task=row.get("task") or None,
        enabled=bool(int(row.get("enabled") or 0)),
        task_exists=t["task_exists"],
        task_enabled=t["task_enabled"],
        function_path=None,
        queue=row.get("queue_override") or None,
        task_queue=t["task_queue"],
        max_duration_s=t["max"],
        cron=row.get("cron_expression") or "",
        tz=row.get("time_zone") or "",
    )


def run_later_facts(
    row: Mapping[str, Any], task_row: Mapping[str, Any] | None, at_ms: int | None
) -> ItemFacts:
    """The facts of a Run Later item from its row (name, task, function_path, status,
    queue, max_duration), its task's row and its instant ``at_ms``."""
    t = task_row_facts(row.get("task"), task_row)
    return ItemFacts(
        kind=Kind.ONCE,
        name=row["name"],
        task=row.get("task") or None,
        enabled=row.get("status") == PENDING,
        task_exists=t["task_exists"],
        task_enabled=t["task_enabled"],
        function_path=row.get("function_path") or None,
        queue=row.get("queue") or None,
        task_queue=t["task_queue"],
        max_duration_s=int(row.get("max_duration") or 0) or t["max"],
        status=row.get("status") or "",
        at_ms=at_ms,
    )
