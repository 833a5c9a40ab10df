"""What the leader keeps in Redis about items besides the app's state hash: durable
cancellations (``btu:{site}:cancelled``) and the clean-up of ``last-fire`` when an item
is deleted. Every write is fenced: a script first checks that the lease still holds this
leader's value, so an instance that lost the lease changes nothing.

A ``cancel`` disarms an item until its next upsert (PROTOCOL.md "Control RPC"). The
leader records ``id -> ts`` of the upsert it disarmed; every later leader (after a
failover or a restart) disarms the item again as long as its current upsert has that
``ts``. A newer upsert, a ``reload`` of the item or its deletion ends the cancellation.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from redis import Redis

from btu_scheduler.engine import Engine
from streams.keys import Keys
from streams.redisio import int_fields

log = structlog.get_logger("btu_scheduler.itemstate")

CHUNK = 500

# KEYS: leader, cancelled. ARGV: token, id, ts.
_CANCEL = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
"""

# KEYS: leader, last-fire, cancelled. ARGV: token, then pairs of id and the instant (ms)
# of its deletion. A last-fire field is removed only when it is not later than that
# instant: a fire of the item re-created since then is kept.
_FORGET = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
for i = 2, #ARGV, 2 do
  local due = tonumber(redis.call('HGET', KEYS[2], ARGV[i]))
  if due and due <= tonumber(ARGV[i + 1]) then redis.call('HDEL', KEYS[2], ARGV[i]) end
  redis.call('HDEL', KEYS[3], ARGV[i])
end
return 1
"""

# KEYS: leader, cancelled. ARGV: token, then pairs of id and a ts: the record ends when
# the upsert it cancelled is not newer than that ts (a record made since is kept).
_UNCANCEL = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
for i = 2, #ARGV, 2 do
  local ts = tonumber(redis.call('HGET', KEYS[2], ARGV[i]))
  if ts and ts <= tonumber(ARGV[i + 1]) then redis.call('HDEL', KEYS[2], ARGV[i]) end
end
return 1
"""


class ItemState:
    """Fenced writes of cancellations and last-fire clean-up."""

    def __init__(self, r: Redis, keys: Keys) -> None:
        self._r = r
        self._keys = keys
        self._cancel = r.register_script(_CANCEL)
        self._forget = r.register_script(_FORGET)
        self._uncancel = r.register_script(_UNCANCEL)

    def record_cancel(self, item_id: str, ts: int, token: str) -> bool:
        """Record that the upsert ``ts`` of ``item_id`` is cancelled; False if fenced."""
        return int(self._cancel(keys=[self._keys.leader, self._keys.cancelled],
                                args=[token, item_id, ts])) == 1  # fmt: skip

    def drop_cancels(self, pairs: Iterable[tuple[str, int]], token: str) -> None:
        """End the cancellations ``(id, ts)`` of upserts up to ``ts`` (a newer upsert or
        a reload replaced them)."""
        keys = [self._keys.leader, self._keys.cancelled]
        for chunk in _chunks(list(pairs)):
            self._uncancel(keys=keys, args=[token, *_flat(chunk)])

    def forget(self, deleted: Iterable[tuple[str, int]], token: str) -> None:
        """Remove the ``last-fire`` and ``cancelled`` fields of deleted items,
        ``(id, deleted_at_ms)``."""
        keys = [self._keys.leader, self._keys.last_fire, self._keys.cancelled]
        for chunk in _chunks(list(deleted)):
            self._forget(keys=keys, args=[token, *_flat(chunk)])

    def read_cancels(self) -> dict[str, int]:
        return int_fields(self._r.hgetall(self._keys.cancelled))

    @staticmethod
    def apply_cancels(
        engine: Engine, cancels: dict[str, int]
    ) -> tuple[set[str], list[tuple[str, int]]]:
        """Disarm the cancelled items whose upsert is still the cancelled one (call with
        the engine lock held). Returns the ids disarmed and the records that are over (a
        newer upsert, or the item is gone)."""
        disarmed: set[str] = set()
        over: list[tuple[str, int]] = []
        for item_id, ts in cancels.items():
            item = engine.armed.get(item_id)
            if item is None or item.spec.ts > ts:
                over.append((item_id, ts))
            elif item.spec.ts == ts:
                engine.cancel(item_id)
                disarmed.add(item_id)
            # an older upsert: this instance has not caught up with the stream yet
        return disarmed, over


def _chunks(pairs: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
    return [pairs[i : i + CHUNK] for i in range(0, len(pairs), CHUNK)]


def _flat(pairs: list[tuple[str, int]]) -> list[str | int]:
    return [x for pair in pairs for x in pair]
