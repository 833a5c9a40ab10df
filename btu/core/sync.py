"""Keeping the Redis state hash equal to the database.

Publishing happens after each commit; when that fails (Redis down) or Redis loses its
data (restart without persistence), the hourly safety net compares the hash with what
the database says and republishes the difference. ``ts`` is ignored when comparing:
it only records when an entry was published.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import orjson
from redis import Redis

from streams.keys import F, Keys
from streams.messages import ScheduleDelete, ScheduleUpsert
from streams.publish import publish_all, publish_delete, publish_events, publish_upsert
from streams.redisio import text

# Beyond this many differences one bulk publish_all is cheaper than item by item.
BULK_THRESHOLD = 500


def _comparable(fields: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in fields.items() if k != F.TS}


def same_item(raw: bytes | str | None, upsert: ScheduleUpsert) -> bool:
    """Whether a state-hash value already says what ``upsert`` says (``ts`` aside)."""
    if raw is None:
        return False
    try:
        stored = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(stored, dict):
        return False
    return _comparable({str(k): str(v) for k, v in stored.items()}) == _comparable(upsert.encode())


@dataclass(frozen=True, slots=True)
class Drift:
    upserts: list[ScheduleUpsert]
    deletes: list[str]

    @property
    def size(self) -> int:
        return len(self.upserts) + len(self.deletes)


def diff_state(state: Mapping[bytes | str, bytes | str], wanted: Iterable[ScheduleUpsert]) -> Drift:
    """What to publish so that the hash ``state`` equals ``wanted``."""
    current = {text(k): v for k, v in state.items()}
    items = list(wanted)
    ids = {u.id for u in items}
    upserts = [u for u in items if not same_item(current.get(u.id), u)]
    deletes = sorted(i for i in current if i not in ids)
    return Drift(upserts=upserts, deletes=deletes)


@dataclass(frozen=True, slots=True)
class RepairResult:
    upserts: int
    deletes: int
    bulk: bool


def repair_state(
    r: Redis,
    keys: Keys,
    wanted: Iterable[ScheduleUpsert],
    ts: int,
    bulk_threshold: int = BULK_THRESHOLD,
) -> RepairResult:
    """Publish the difference between the state hash and ``wanted``; nothing when equal."""
    items = list(wanted)
    drift = diff_state(r.hgetall(keys.state), items)
    if drift.size == 0:
        return RepairResult(0, 0, bulk=False)
    if drift.size > bulk_threshold:
        result = publish_all(r, keys, items, ts)
        return RepairResult(result.upserts, result.deletes, bulk=True)
    for upsert in drift.upserts:
        publish_upsert(r, keys, upsert)
    for item_id in drift.deletes:
        publish_delete(r, keys, ScheduleDelete(id=item_id, ts=ts))
    return RepairResult(len(drift.upserts), len(drift.deletes), bulk=False)


def publish_if_changed(r: Redis, keys: Keys, event: ScheduleUpsert | ScheduleDelete) -> bool:
    """Publish ``event`` unless the state hash already reflects it; True when published."""
    raw = r.hget(keys.state, event.id)
    if isinstance(event, ScheduleUpsert):
        if same_item(raw, event):  # type: ignore[arg-type]
            return False
        publish_upsert(r, keys, event)
        return True
    if raw is None:
        return False
    publish_delete(r, keys, event)
    return True


def _changes(raw: bytes | str | None, event: ScheduleUpsert | ScheduleDelete) -> bool:
    if isinstance(event, ScheduleUpsert):
        return not same_item(raw, event)
    return raw is not None


def publish_changed(r: Redis, keys: Keys, events: Sequence[ScheduleUpsert | ScheduleDelete]) -> int:
    """:func:`publish_if_changed` for many events in two round trips (one HMGET, one
    MULTI/EXEC); returns how many were published."""
    if not events:
        return 0
    raws = r.hmget(keys.state, [e.id for e in events])
    changed = [e for e, raw in zip(events, raws, strict=True) if _changes(raw, e)]
    publish_events(r, keys, changed)
    return len(changed)
