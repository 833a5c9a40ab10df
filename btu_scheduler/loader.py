"""Building the engine from a snapshot of the state hash, off the engine lock.

Start-up and ``resync`` share it. Every Redis read, every decode and the whole engine
build (compiling expressions, finding catch-up instants) happen without the lock, into
a new :class:`Engine`; the daemon then swaps it in under the lock, which takes
microseconds, so firing never waits behind a reload (a 200,000-item resync once held the
lock for half a second and made a 1-second item fire 533 ms late).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis
import structlog
from redis import Redis

from btu_scheduler.deadletters import DeadLetters
from btu_scheduler.engine import Engine, Fire
from streams.errors import CronError
from streams.keys import Keys
from streams.messages import ScheduleUpsert
from streams.publish import DecodedState, decode_state_groups, decode_state_values
from streams.redisio import int_fields, text

if TYPE_CHECKING:
    from btu_scheduler.daemon import Daemon

log = structlog.get_logger("btu_scheduler")


@dataclass(slots=True)
class Loaded:
    """A new engine and what goes with it, ready to be swapped in."""

    engine: Engine
    catch_up: list[Fire]
    last_id: str  # schedules stream position of the snapshot
    last_count: int | None  # how many entries the stream ever had up to it (Redis 7)
    rpc_last_id: str  # RPC stream's last id when the snapshot was read (start-up only)
    last_fire: dict[str, int]
    state_ids: list[str]  # every id in the state hash, valid or not
    now: int
    started: float  # perf_counter at the start of the build
    cancels: dict[str, int] = field(default_factory=dict)  # read with the snapshot

    @property
    def ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 1)


def release_free_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``): the
    snapshot's buffers are freed by now, and would otherwise stay in the daemon's RSS.
    Nothing happens where there is no glibc."""
    if _malloc_trim is not None:
        _malloc_trim(0)


def _find_malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_malloc_trim = _find_malloc_trim()


@dataclass(slots=True)
class Snapshot:
    items: dict[bytes | str, bytes | str]  # the state hash, as the client returned it
    last_id: str  # schedules stream position
    entries_added: int | None  # its entries-added (Redis 7), None before
    rpc_last_id: str
    last_fire: dict[str, int]
    cancels: dict[str, int]  # durable cancellations: item id → the cancelled upsert's ts


def read_snapshot(r: Redis, keys: Keys) -> Snapshot:
    """Everything a load reads, in one MULTI: the state hash and the schedules stream's
    position (which must be read atomically: PROTOCOL.md "Snapshot and catch-up"), the
    RPC stream's position, ``last-fire`` and the cancellations. One round trip: a
    multi-site daemon loads a thousand sites, and each round trip of a loading thread is
    a wait for the interpreter too."""
    pipe = r.pipeline(transaction=True)
    pipe.hgetall(keys.state)
    pipe.xinfo_stream(keys.schedules)
    pipe.xinfo_stream(keys.rpc)
    pipe.hgetall(keys.last_fire)
    pipe.hgetall(keys.cancelled)
    state, info, rpc, last_fire, cancels = pipe.execute(raise_on_error=False)
    for reply in (state, last_fire, cancels):
        if isinstance(reply, Exception):
            raise reply
    last_id, added = _position(info)
    return Snapshot(state, last_id, added, _position(rpc)[0], int_fields(last_fire),
                    int_fields(cancels))  # fmt: skip


def _position(info: Any) -> tuple[str, int | None]:
    """A stream's last id and entries-added from XINFO STREAM; ("0-0", 0) for no stream
    yet (every entry that will come is newer)."""
    if isinstance(info, redis.ResponseError) and "no such key" in str(info).lower():
        return "0-0", 0
    if isinstance(info, Exception):
        raise info
    added = info.get("entries-added")
    return text(info["last-generated-id"]), None if added is None else int(added)


# Below this many items the grouped decoder's per-shape probes cost more than they save
# (a site of a multi-site daemon has tens of items, each of its own shape).
GROUPED_FROM = 2_000


def _decode(items: MutableMapping[bytes | str, bytes | str]) -> DecodedState:
    if len(items) >= GROUPED_FROM:
        return decode_state_groups(items)
    plain = {text(k): v if isinstance(v, bytes) else str(v).encode() for k, v in items.items()}
    items.clear()
    ids = list(plain)
    good, bad = decode_state_values(plain)
    return DecodedState(singles=good, bad=bad, ids=ids)


def build(r: Redis, keys: Keys, grace_ms: int, now_ms: int, dead: DeadLetters) -> Loaded:
    """Snapshot → decoded specs → a new engine with its catch-up fires. No lock taken."""
    started = time.perf_counter()
    snap = read_snapshot(r, keys)
    last_fire = snap.last_fire
    large = len(snap.items) >= GROUPED_FROM
    decoded = _decode(snap.items)  # empties the snapshot as it goes
    for item_id, raw, error in decoded.bad:
        dead.add(keys.state, item_id, {"value": raw.decode("utf-8", "replace")[:2000]}, str(error))

    def on_error(spec: ScheduleUpsert, error: CronError) -> None:
        dead.add(keys.state, spec.id, spec.encode(), str(error))

    engine = Engine(grace_ms=grace_ms)
    catch_up = engine.load(
        decoded.singles, last_fire, now_ms, on_error=on_error, groups=decoded.groups
    )
    state_ids = decoded.ids  # every id in the hash, valid or not
    del decoded  # the snapshot's values went with the decoding
    if large:  # give the decoding's memory back (pointless, and not free, for small ones)
        release_free_memory()
    return Loaded(
        engine,
        catch_up,
        snap.last_id,
        snap.entries_added,
        snap.rpc_last_id,
        last_fire,
        state_ids,
        now_ms,
        started,
        snap.cancels,
    )


class _FiredBy(Mapping[str, int]):
    """The last instant the old engine fired per item, as a ``last-fire`` mapping."""

    def __init__(self, old: Engine) -> None:
        self._old = old

    def __getitem__(self, item_id: str) -> int:
        entry = self._old.armed.entry(item_id)  # a group's last fire is its members'
        if entry is None or entry.last_fired is None:
            raise KeyError(item_id)
        return entry.last_fired

    def __iter__(self) -> Iterator[str]:
        entries = self._old.armed.items.items()
        return (item_id for item_id, entry in entries if entry.last_fired is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def carry_over(old: Engine, loaded: Loaded, now_ms: int) -> list[Fire]:
    """Call under the engine lock, just before the swap: what the old engine fired while
    the new one was being built is not fired again. Only the items due by now are
    looked at, so this is cheap whatever the number of items. Returns the catch-up fires
    still to send."""
    fired = _FiredBy(old)
    loaded.engine.skip_fired(fired, now_ms)
    return [f for f in loaded.catch_up if fired.get(f.id, -1) < f.due]


def load_into(d: Daemon, start: bool) -> None:
    """Snapshot → engine → catch-up (PROTOCOL.md: no change lost or applied twice).

    Built off the lock and swapped in under it. At start-up the RPC stream position
    starts at its end; a resync keeps it, so no request written meanwhile goes
    unanswered.

    No cyclic garbage collection while millions of objects are built (each full pass
    walks all of them), and none later over what was loaded: ``gc.freeze()`` moves it
    out of the collector's sight, so a full pass never pauses firing for the heap.
    """
    gc.disable()
    try:
        grace_ms = int(d.settings.grace_seconds * 1000)
        loaded = build(d.r, d.keys, grace_ms, d.now_ms(), d.dead)
        # Cancellations recorded by earlier leaders hold on the new engine too.
        cancelled, over = d.takeover.items.apply_cancels(loaded.engine, loaded.cancels)
        loaded.catch_up = [fire for fire in loaded.catch_up if fire.id not in cancelled]
    finally:
        gc.enable()
        gc.freeze()
    with d.lock:
        catch_up = carry_over(d.engine, loaded, d.now_ms())
        d.engine = loaded.engine
        d.last_id, d.last_count = loaded.last_id, loaded.last_count
        if start:
            d.rpc_id = loaded.rpc_last_id
        d._pending.extend(catch_up)
        d.lock.notify_all()
    log.info(
        "loaded",
        items=len(loaded.engine.armed),
        armed=loaded.engine.armed.armed,
        catch_up=len(catch_up),
        last_id=loaded.last_id,
        ms=loaded.ms,
    )
    d.takeover.after_load(over, loaded.last_fire, loaded.state_ids, loaded.now)
