"""Writing schedule changes and reading the state snapshot (PROTOCOL.md "Schedule change
events").

The stream entry and the state hash change together in one MULTI/EXEC, so a reader that
takes a :func:`snapshot` sees either both or neither.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import orjson
from redis import Redis
from redis.exceptions import ResponseError

from streams import codec
from streams.errors import ProtocolError
from streams.keys import SCHEDULES_MAXLEN, F, Keys
from streams.messages import ScheduleDelete, ScheduleUpsert, decode_schedule_event
from streams.redisio import text, xadd

# How many items one MULTI/EXEC carries when publishing in bulk.
BULK_CHUNK = 1_000


def publish_upsert(r: Redis, keys: Keys, upsert: ScheduleUpsert) -> str:
    """XADD the upsert and store it in the state hash, atomically; returns the entry id."""
    fields = upsert.encode()
    pipe = r.pipeline(transaction=True)
    xadd(pipe, keys.schedules, fields, SCHEDULES_MAXLEN)
    pipe.hset(keys.state, upsert.id, orjson.dumps(fields))
    entry_id, _ = pipe.execute()
    return text(entry_id)


def publish_delete(r: Redis, keys: Keys, delete: ScheduleDelete) -> str:
    """XADD the delete and drop the id from the state hash, atomically."""
    pipe = r.pipeline(transaction=True)
    xadd(pipe, keys.schedules, delete.encode(), SCHEDULES_MAXLEN)
    pipe.hdel(keys.state, delete.id)
    entry_id, _ = pipe.execute()
    return text(entry_id)


def publish_events(r: Redis, keys: Keys, events: Iterable[ScheduleUpsert | ScheduleDelete]) -> int:
    """Publish many events, :data:`BULK_CHUNK` per MULTI/EXEC (one round trip each): every
    stream entry with its state-hash change, in order. Returns how many were published.

    The caller decides which events are needed (``btu.core.sync.publish_changed``);
    upserts are written as given (apply :func:`keep_baseline` first)."""
    items = list(events)
    for start in range(0, len(items), BULK_CHUNK):
        pipe = r.pipeline(transaction=True)
        for event in items[start : start + BULK_CHUNK]:
            fields = event.encode()
            xadd(pipe, keys.schedules, fields, SCHEDULES_MAXLEN)
            if isinstance(event, ScheduleUpsert):
                pipe.hset(keys.state, event.id, orjson.dumps(fields))
            else:
                pipe.hdel(keys.state, event.id)
        pipe.execute()
    return len(items)


@dataclass(frozen=True, slots=True)
class PublishAllResult:
    upserts: int
    deletes: int


def publish_all(
    r: Redis, keys: Keys, upserts: Iterable[ScheduleUpsert], ts: int
) -> PublishAllResult:
    """Make the state hash equal ``upserts``: publish each one and a delete for every id
    in the hash that is not among them (the app's ``republish_all``).

    An item whose timing did not change keeps the ``ts`` stored in the hash: a republish
    never moves an item's catch-up baseline (:func:`keep_baseline`). The stored values
    are read a chunk at a time, so a million items never sit in memory twice."""
    items = list(upserts)
    wanted = {u.id for u in items}
    stale = [i for i in (text(k) for k in r.hkeys(keys.state)) if i not in wanted]
    # A field that is not a valid id (written by hand) was never armed: just drop it.
    invalid = [i for i in stale if not _valid_id(i)]
    if invalid:
        r.hdel(keys.state, *invalid)
    stale = [i for i in stale if _valid_id(i)]
    for start in range(0, len(stale), BULK_CHUNK):
        pipe = r.pipeline(transaction=True)
        for item_id in stale[start : start + BULK_CHUNK]:
            xadd(pipe, keys.schedules, ScheduleDelete(id=item_id, ts=ts).encode(), SCHEDULES_MAXLEN)
            pipe.hdel(keys.state, item_id)
        pipe.execute()
    for start in range(0, len(items), BULK_CHUNK):
        chunk = items[start : start + BULK_CHUNK]
        stored = r.hmget(keys.state, [u.id for u in chunk])
        pipe = r.pipeline(transaction=True)
        for upsert, raw in zip(chunk, stored, strict=True):
            fields = keep_baseline(raw, upsert).encode()
            xadd(pipe, keys.schedules, fields, SCHEDULES_MAXLEN)
            pipe.hset(keys.state, upsert.id, orjson.dumps(fields))
        pipe.execute()
    return PublishAllResult(upserts=len(items), deletes=len(stale))


# What decides when an item fires; an upsert that changes none of them keeps its baseline.
_TIMING = (F.KIND, F.CRON, F.TZ, F.AT, F.ENABLED)


def stored_fields(raw: bytes | str | None) -> dict[str, object] | None:
    """The JSON object a state-hash value holds, or None (absent, or not an object)."""
    if raw is None:
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def keep_baseline(stored: bytes | str | None, upsert: ScheduleUpsert) -> ScheduleUpsert:
    """``upsert`` with the ``ts`` of the stored state value when the item's timing (kind,
    cron, tz, at, enabled) is unchanged, else ``upsert`` itself (docs/protocol.md, ours).

    ``ts`` is where catch-up starts counting an item's missed instants; stamping a new
    one on every republish would erase instants missed before it (neither fired nor
    recorded ``missed``). A stored value that cannot be read keeps nothing."""
    data = stored_fields(stored)
    if data is None:
        return upsert
    fields = upsert.encode()
    if any(data.get(name) != fields.get(name) for name in _TIMING):
        return upsert
    baseline = data.get(F.TS)
    if type(baseline) is not str or not baseline.isascii() or not baseline.isdigit():
        return upsert
    kept = int(baseline)
    if kept >= upsert.ts:
        return upsert
    return replace(upsert, ts=kept)


def _valid_id(item_id: str) -> bool:
    try:
        codec.check_id("id", item_id)
    except ProtocolError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The state hash and the stream position it corresponds to.

    ``items`` maps id to the raw JSON text stored in the hash; decode each with
    :func:`decode_state_value` so that one bad value does not spoil the rest.
    """

    items: dict[str, bytes]
    last_id: str
    # How many entries were ever added to the stream up to ``last_id`` (Redis 7's
    # ``entries-added``; 0 without a stream; None from an older server).
    entries_added: int | None = None


def snapshot(r: Redis, keys: Keys) -> Snapshot:
    """Read the state hash and the stream's last id in one MULTI/EXEC.

    Consuming the stream after ``last_id`` then applies every later change exactly once.
    """
    pipe = r.pipeline(transaction=True)
    pipe.hgetall(keys.state)
    pipe.xinfo_stream(keys.schedules)
    state, info = pipe.execute(raise_on_error=False)
    if isinstance(state, Exception):
        raise state
    added: int | None = 0
    if isinstance(info, ResponseError) and "no such key" in str(info).lower():
        last_id = "0-0"  # no stream yet: every entry that will come is newer
    elif isinstance(info, Exception):
        raise info
    else:
        last_id = text(info["last-generated-id"])
        raw_added = info.get("entries-added")
        added = None if raw_added is None else int(raw_added)
    items = {text(k): v if isinstance(v, bytes) else v.encode() for k, v in state.items()}
    return Snapshot(items=items, last_id=last_id, entries_added=added)


def decode_state_value(item_id: str, raw: bytes | str) -> ScheduleUpsert:
    """Decode one value of the state hash (the JSON of an upsert entry)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ProtocolError(f"state of {item_id!r} is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise ProtocolError(f"state of {item_id!r} is not a JSON object")
    try:
        event = decode_schedule_event(data)
    except ProtocolError as e:
        raise ProtocolError(f"state of {item_id!r}: {e}") from e
    if not isinstance(event, ScheduleUpsert):
        raise ProtocolError(f"state of {item_id!r} holds a delete, not an upsert")
    if event.id != item_id:
        raise ProtocolError(f"state field {item_id!r} holds the entry of {event.id!r}")
    return event


# The fields many items share: validated once per distinct combination.
_SHARED = (F.V, F.OP, F.KIND, F.TASK, F.CRON, F.TZ, F.ENABLED)


def decode_state_values(
    items: dict[str, bytes],
) -> tuple[list[ScheduleUpsert], list[tuple[str, bytes, ProtocolError]]]:
    """Decode a whole snapshot: ``(upserts, [(id, raw, error), ...])``.

    Same result as :func:`decode_state_value` per item, cheaper at scale: the fields a
    million items share (kind, task, cron, zone, enabled) are validated once per
    distinct combination, each item's own (id, ts, at) every time. ``items`` is emptied
    as it goes, so each raw value is freed once decoded.
    """
    shared: dict[tuple[object, ...], ScheduleUpsert] = {}
    good: list[ScheduleUpsert] = []
    bad: list[tuple[str, bytes, ProtocolError]] = []
    while items:
        item_id, raw = items.popitem()
        try:
            good.append(_decode_with(shared, item_id, raw))
        except ProtocolError as e:
            bad.append((item_id, raw, e))
    return good, bad


def _decode_with(
    shared: dict[tuple[object, ...], ScheduleUpsert], item_id: str, raw: bytes
) -> ScheduleUpsert:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if type(data) is not dict or data.get(F.ID) != item_id:
        return decode_state_value(item_id, raw)  # raises the precise error
    key = tuple(data.get(name) for name in _SHARED)
    model = shared.get(key)
    if model is None:
        event = decode_state_value(item_id, raw)
        shared[key] = event
        return event
    ts = data.get(F.TS)
    at = data.get(F.AT)
    if type(ts) is not str or (at is not None and type(at) is not str):
        return decode_state_value(item_id, raw)
    if (at is None) != (model.at is None):
        return decode_state_value(item_id, raw)
    return ScheduleUpsert._validated(
        codec.check_id(F.ID, item_id),
        model,
        codec.parse_int(F.TS, ts),
        None if at is None else codec.parse_int(F.AT, at),
    )


__all__ = [
    "PublishAllResult",
    "Snapshot",
    "decode_state_value",
    "decode_state_values",
    "keep_baseline",
    "publish_all",
    "publish_delete",
    "publish_events",
    "publish_upsert",
    "snapshot",
]
