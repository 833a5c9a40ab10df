"""Keeping the Redis state hash equal to the database.

Publishing happens after each commit; when that fails (Redis down) or Redis loses its
data (restart without persistence), the hourly safety net compares the hash with what
the database says and republishes the difference. ``ts`` is ignored when comparing, and
an item whose timing did not change keeps its stored ``ts``: it is the item's catch-up
baseline, which no republish may move (``streams.publish.keep_baseline``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from redis import Redis

from streams.keys import F, Keys
from streams.messages import ScheduleDelete, ScheduleUpsert
from streams.publish import (
    BULK_CHUNK,
    keep_baseline,
    publish_all,
    publish_delete,
    publish_events,
    publish_upsert,
    stored_fields,
)
from streams.redisio import text

# Beyond this many differences one bulk publish_all is cheaper than item by item.
BULK_THRESHOLD = 500


def _comparable(fields: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in fields.items() if k != F.TS}


def same_item(raw: bytes | str | None, upsert: ScheduleUpsert) -> bool:
    """Whether a state-hash value already says what ``upsert`` says (``ts`` aside)."""
    stored = stored_fields(raw)
    if stored is None:
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
    state: dict[bytes | str, bytes | str] = {text(k): v for k, v in r.hgetall(keys.state).items()}
    drift = diff_state(state, items)
    if drift.size == 0:
        return RepairResult(0, 0, bulk=False)
    if drift.size > bulk_threshold:
        result = publish_all(r, keys, items, ts)
        return RepairResult(result.upserts, result.deletes, bulk=True)
    for upsert in drift.upserts:
        publish_upsert(r, keys, keep_baseline(state.get(upsert.id), upsert))
    for item_id in drift.deletes:
        publish_delete(r, keys, ScheduleDelete(id=item_id, ts=ts))
    return RepairResult(len(drift.upserts), len(drift.deletes), bulk=False)


def publish_if_changed(r: Redis, keys: Keys, event: ScheduleUpsert | ScheduleDelete) -> bool:
    """Publish ``event`` unless the state hash already reflects it; True when published."""
    raw = r.hget(keys.state, event.id)
    if isinstance(event, ScheduleUpsert):
        if same_item(raw, event):  # type: ignore[arg-type]
            return False
        publish_upsert(r, keys, keep_baseline(raw, event))  # type: ignore[arg-type]
        return True
    if raw is None:
        return False
    publish_delete(r, keys, event)
    return True


def publish_changed(r: Redis, keys: Keys, events: Iterable[ScheduleUpsert | ScheduleDelete]) -> int:
    """:func:`publish_if_changed` for many events at once: the stored values are read
    with one HMGET and the needed events written in one MULTI/EXEC per
    :data:`BULK_CHUNK` items, instead of two round trips per item. Returns how many were
    published."""
    items = list(events)
    published = 0
    for start in range(0, len(items), BULK_CHUNK):
        chunk = items[start : start + BULK_CHUNK]
        stored = r.hmget(keys.state, [e.id for e in chunk])
        needed: list[ScheduleUpsert | ScheduleDelete] = []
        for event, raw in zip(chunk, stored, strict=True):
            if isinstance(event, ScheduleUpsert):
                if not same_item(raw, event):
                    needed.append(keep_baseline(raw, event))
            elif raw is not None:
                needed.append(event)
        if needed:
            published += publish_events(r, keys, needed)
    return published
