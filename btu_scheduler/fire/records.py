"""Recording fire outcomes (PROTOCOL.md "Firing", step 6): one entry per outcome in
``btu:{site}:fires``, written by a single recorder thread in batches (one script call
each), which also marks a finished fire ``done`` or ``failed`` and takes it out of
``inflight``.
"""

from __future__ import annotations

import queue
import threading
import time

import orjson
import structlog
from redis import Redis
from redis.exceptions import RedisError

from btu_scheduler import threads
from streams.keys import Keys
from streams.messages import FireRecord

log = structlog.get_logger("btu_scheduler.dispatch")

# Writes a batch of outcomes in one call. KEYS: fires stream, inflight, then one fired
# marker per record. ARGV: maxlen, then per record a JSON list of its field/value strings
# followed by the new marker value ('' to leave the marker alone) and the fire_id. A new
# marker value means the fire is finished: it leaves inflight.
_RECORD_MANY = """
for i = 3, #KEYS do
  local rec = cjson.decode(ARGV[i - 1])
  local fid = table.remove(rec)
  local marker = table.remove(rec)
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(rec))
  if marker ~= '' then
    redis.call('SET', KEYS[i], marker, 'XX', 'KEEPTTL')
    redis.call('ZREM', KEYS[2], fid)
  end
end
return #KEYS - 2
"""

MAX_WRITE = 500  # records per script call


class Recorder:
    """Queues outcomes and writes them from its own thread; Redis being down delays the
    writes (retried with backoff), it never loses them while the daemon runs."""

    def __init__(self, r: Redis, keys: Keys, fires_maxlen: int) -> None:
        self._keys = keys
        self._maxlen = fires_maxlen
        self._record_many = r.register_script(_RECORD_MANY)
        self._queue: queue.Queue[tuple[FireRecord, str | None] | None] = queue.Queue()
        # Started by the first record (a standby site never writes one).
        self._thread = threads.thread(self._loop, "btu-recorder")
        self._start_lock = threading.Lock()

    def put(self, record: FireRecord, marker: str | None) -> None:
        """Record ``record``; ``marker`` (done/failed) finishes the fire, None does not."""
        self._queue.put((record, marker))
        if self._thread.ident is None:
            with self._start_lock:
                if self._thread.ident is None:
                    self._thread.start()

    def close(self, timeout: float) -> None:
        """Write what is queued (for up to ``timeout`` seconds), then stop."""
        with self._start_lock:
            if self._thread.ident is None:
                return  # never started: nothing was queued
        self._queue.put(None)
        self._thread.join(timeout=timeout)

    def _loop(self) -> None:
        backoff = 0.1
        batch: list[tuple[FireRecord, str | None]] = []
        done = False
        while not (done and not batch):
            if not batch:
                batch, done = self._gather()
                if not batch:
                    continue
            try:
                self._write(batch)
                batch = []
                backoff = 0.1
            except RedisError as e:
                log.warning("fires_record_retry", error=str(e), pending=len(batch))
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                if done and backoff >= 5.0:
                    log.error("fires_record_dropped", count=len(batch))
                    return

    def _gather(self) -> tuple[list[tuple[FireRecord, str | None]], bool]:
        """The next batch to write, and whether the end was reached."""
        item = self._queue.get()
        if item is None:
            return [], True
        batch = [item]
        if self._queue.qsize() < 50:
            time.sleep(0.005)  # let a burst's outcomes gather: fewer, larger writes
        while len(batch) < MAX_WRITE:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is None:
                return batch, True
            batch.append(more)
        return batch, False

    def _write(self, batch: list[tuple[FireRecord, str | None]]) -> None:
        keys = [self._keys.fires, self._keys.inflight]
        args: list[str | int | bytes] = [self._maxlen]
        for record, marker in batch:
            keys.append(self._keys.fired(record.fire_id))
            flat = [x for pair in record.encode().items() for x in pair]
            flat += (marker or "", record.fire_id)
            args.append(orjson.dumps(flat))
        self._record_many(keys=keys, args=args)
