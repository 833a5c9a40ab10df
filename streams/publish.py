"""Writing schedule changes and reading the state snapshot (PROTOCOL.md "Schedule change
events").

The stream entry and the state hash change together in one MULTI/EXEC, so a reader that
takes a :func:`snapshot` sees either both or neither.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from redis import Redis
from redis.exceptions import ResponseError

from streams import codec
from streams.errors import ProtocolError
from streams.keys import PROTOCOL_VERSION, SCHEDULES_MAXLEN, F, Keys, Kind
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
    raw = snapshot_raw(r, keys)
    items = {text(k): v if isinstance(v, bytes) else v.encode() for k, v in raw.items.items()}
    return Snapshot(items=items, last_id=raw.last_id, entries_added=raw.entries_added)


@dataclass(frozen=True, slots=True)
class RawSnapshot:
    """:class:`Snapshot` with the state hash as the client returned it (ids and values
    as bytes, or as text from a client that decodes responses): for
    :func:`decode_state_groups`, which decodes ids and values in one pass."""

    items: dict[bytes | str, bytes | str]
    last_id: str
    entries_added: int | None = None


def snapshot_raw(r: Redis, keys: Keys) -> RawSnapshot:
    """:func:`snapshot` without turning every id into text first."""
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
    return RawSnapshot(items=state, last_id=last_id, entries_added=added)


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


@dataclass(slots=True)
class StateGroup:
    """Cron upserts that differ only in their id and ``ts``: ``model`` is one of them
    (its kind, task, cron, tz and enabled are every member's), ``ids[i]`` has the
    upsert ``ts[i]``."""

    model: ScheduleUpsert
    ids: list[str]
    ts: list[int]

    def specs(self) -> list[ScheduleUpsert]:
        """Every member as the upsert it is."""
        model = self.model
        return [
            ScheduleUpsert._validated(item_id, model, ts, None)
            for item_id, ts in zip(self.ids, self.ts, strict=True)
        ]


@dataclass(slots=True)
class DecodedState:
    """A whole state hash decoded by :func:`decode_state_groups`."""

    groups: list[StateGroup] = field(default_factory=list)  # the cron items
    singles: list[ScheduleUpsert] = field(default_factory=list)  # the once items
    bad: list[tuple[str, bytes, ProtocolError]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)  # every id in the hash, valid or not

    def specs(self) -> list[ScheduleUpsert]:
        return [*self.singles, *(spec for group in self.groups for spec in group.specs())]


# What the publisher (``orjson.dumps(ScheduleUpsert.encode())``) writes first: a value
# that starts otherwise is decoded the slow way, with the same result.
_PREFIX = b'{"v":"' + PROTOCOL_VERSION.encode() + b'","op":"upsert","id":"'
_CRON = b'","kind":"cron"'
_ONCE = b'","kind":"once"'
_TS = b',"ts":"'
_AT = b',"at":"'
_PROBE_ID = "P"
_NO_TEMPLATE: Any = object()
# How many distinct (shape, ts) the decoder remembers: items published together share one.
_MAX_TAILS = 65_536


def decode_state_groups(items: MutableMapping[bytes | str, bytes | str]) -> DecodedState:
    """Decode a whole snapshot (:attr:`RawSnapshot.items`, emptied once done) into cron
    items grouped by everything but their id and ``ts``, once items one by one, and
    the values that are not valid upserts (each with its error).

    The same items and errors as :func:`decode_state_value` per item, without one
    object per cron item. The values the publisher writes for items of one group differ
    only in the text of the id and of ``ts`` (and ``at``): the rest (the value's
    *shape*) is decoded and checked once, the first time it is seen, together with a
    probe (the same shape with another id, ``ts`` and ``at``) that proves they sit where
    the decoder reads them; every other value of that shape then costs a few byte
    comparisons and the checks of its own id and numbers. A value the fast way cannot
    vouch for goes the slow way.
    """
    decoder = _Decoder()
    out = decoder.out
    start = len(_PREFIX)
    add_id, plain = out.ids.append, _PLAIN_ID.fullmatch
    cron, once, tails = decoder.cron, decoder.once, decoder.tails
    # The raw values are freed all together at the end, not one by one: what is kept
    # (the ids) then sits in memory of its own, and the memory of the raw values, whole
    # arenas of it, goes back to the system.
    for key, value in items.items():
        raw = value if type(value) is bytes else str(value).encode()
        key_b = key if type(key) is bytes else str(key).encode()
        end = start + len(key_b)
        if plain(key_b) is not None and raw.startswith(_PREFIX) and raw.startswith(key_b, start):
            item_id = key_b.decode("ascii")
            add_id(item_id)
            seen = tails.get(raw[end:])
            if seen is not None:  # all after the id as in a value decoded before
                seen[0].ids.append(item_id)
                seen[0].ts.append(seen[1])
                continue
            if raw.startswith(_CRON, end):
                if cron(item_id, raw, end):
                    continue
            elif raw.startswith(_ONCE, end) and once(item_id, raw, end):
                continue
        else:
            item_id = key_b.decode("utf-8", "replace")
            add_id(item_id)
        decoder.slow(item_id, raw)
    items.clear()
    out.groups = list(decoder.groups.values())
    return out


class _Decoder:
    """The state of one :func:`decode_state_groups`: shapes seen, numbers parsed."""

    def __init__(self) -> None:
        self.out = DecodedState()
        self.groups: dict[tuple[object, ...], StateGroup] = {}
        # shape -> the group (or the model once item) of its values; None: the slow way
        self.cron_shapes: dict[tuple[bytes, bytes], StateGroup | None] = {}
        self.once_shapes: dict[tuple[bytes, bytes, bytes], ScheduleUpsert | None] = {}
        self.numbers: dict[bytes, int] = {}
        # All after the id of a cron value decoded the fast way -> its group and ts.
        self.tails: dict[bytes, tuple[StateGroup, int]] = {}
        self.shared: dict[tuple[object, ...], ScheduleUpsert] = {}

    def number(self, text: bytes) -> int | None:
        value = self.numbers.get(text)
        if value is None and (value := _parse_ts(text)) is not None:
            self.numbers[text] = value
        return value

    def cron(self, item_id: str, raw: bytes, end: int) -> bool:
        t = raw.rfind(_TS)
        q = raw.find(b'"', t + 7) if t > end else -1
        if q < 0:
            return False
        shape = (raw[end:t], raw[q:])
        group = self.cron_shapes.get(shape, _NO_TEMPLATE)
        if group is _NO_TEMPLATE:
            model = _template(item_id, raw, (shape[0], b"", shape[1]))
            group = self.cron_shapes[shape] = None if model is None else self.group_of(model)
        ts = self.number(raw[t + 7 : q])
        if group is None or ts is None:
            return False
        group.ids.append(item_id)
        group.ts.append(ts)
        if len(self.tails) < _MAX_TAILS:
            self.tails[raw[end:]] = (group, ts)
        return True

    def once(self, item_id: str, raw: bytes, end: int) -> bool:
        a = raw.rfind(_AT)
        t = raw.rfind(_TS, end, a) if a > end else -1
        qt = raw.find(b'"', t + 7) if t > end else -1
        qa = raw.find(b'"', a + 7) if 0 < qt < a else -1
        if qa < 0:
            return False
        shape = (raw[end:t], raw[qt:a], raw[qa:])
        model = self.once_shapes.get(shape, _NO_TEMPLATE)
        if model is _NO_TEMPLATE:
            model = self.once_shapes[shape] = _template(item_id, raw, shape)
        ts, at = self.number(raw[t + 7 : qt]), self.number(raw[a + 7 : qa])
        if model is None or ts is None or at is None:
            return False
        self.out.singles.append(ScheduleUpsert._validated(item_id, model, ts, at))
        return True

    def slow(self, item_id: str, raw: bytes) -> None:
        try:
            event = _decode_with(self.shared, item_id, raw)
        except ProtocolError as e:
            self.out.bad.append((item_id, raw, e))
            return
        if event.kind == Kind.CRON:
            group = self.group_of(event)
            group.ids.append(item_id)
            group.ts.append(event.ts)
        else:
            self.out.singles.append(event)

    def group_of(self, model: ScheduleUpsert) -> StateGroup:
        return _group_of(self.groups, model)


def _group_of(groups: dict[tuple[object, ...], StateGroup], model: ScheduleUpsert) -> StateGroup:
    key = (model.task, model.cron, model.tz, model.enabled)
    group = groups.get(key)
    if group is None:
        group = groups[key] = StateGroup(model, [], [])
    return group


# An id :func:`codec.check_id` accepts that JSON writes as it is: printable ASCII
# without quote or backslash, not only spaces.
_PLAIN_ID = re.compile(rb"(?=[ ]*[!#-\[\]-~])[ !#-\[\]-~]{1,%d}" % codec.MAX_ID)


def _parse_ts(text: bytes) -> int | None:
    if not (0 < len(text) <= 20 and text.isdigit()):
        return None
    number = int(text)
    return number if number <= codec.MAX_MS else None


def _template(item_id: str, raw: bytes, shape: tuple[bytes, bytes, bytes]) -> ScheduleUpsert | None:
    """The upsert ``raw`` holds when every value of its shape (``raw`` without the text
    of its id, ``ts`` and, for a once item, ``at``) can be decoded by reading only
    those, else None: the shape decoded with other numbers and id must give them back,
    and the rest unchanged."""
    once = bool(shape[1])
    probe_raw = _PREFIX + _PROBE_ID.encode() + shape[0] + _TS + b"1" + shape[1]
    if once:
        probe_raw += _AT + b"2" + shape[2]
    else:
        probe_raw += shape[2]
    try:
        model = decode_state_value(item_id, raw)
        probe = decode_state_value(_PROBE_ID, probe_raw)
    except ProtocolError:
        return None
    same = (probe.kind, probe.task, probe.cron, probe.tz, probe.enabled) == (
        model.kind, model.task, model.cron, model.tz, model.enabled
    )  # fmt: skip
    if not same or probe.ts != 1 or probe.at != (2 if once else None):
        return None
    return model if model.kind == (Kind.ONCE if once else Kind.CRON) else None


__all__ = [
    "DecodedState",
    "PublishAllResult",
    "RawSnapshot",
    "Snapshot",
    "StateGroup",
    "decode_state_groups",
    "decode_state_value",
    "decode_state_values",
    "keep_baseline",
    "publish_all",
    "publish_delete",
    "publish_events",
    "publish_upsert",
    "snapshot",
    "snapshot_raw",
]
