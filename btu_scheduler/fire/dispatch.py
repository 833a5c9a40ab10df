"""Sending due fires: claim, POST concurrently, retry, record every outcome.

Flow of one fire (PROTOCOL.md "Firing"):

1. :meth:`Dispatcher.claim` runs one script call for a chunk of fires. It checks the
   fencing token (the lease value) once, then for each fire: a duplicate if its
   ``fired:{fire_id}`` marker exists, skipped if ``last-fire`` shows a later instant was
   claimed, else it sets the marker, records the due in ``last-fire`` and adds the
   fire to ``inflight``; atomically.
2. Claimed fires go to a :class:`~btu_scheduler.fire.sender.Sender`
   (:mod:`btu_scheduler.fire.batching`): many requests in flight at once, so a slow call
   never delays the others; each fire gets its own outcome.
3. Transient failures are retried per fire (:mod:`btu_scheduler.fire.retry`) until the
   retry deadline.
4. Every outcome becomes one entry in ``btu:{site}:fires``
   (:mod:`btu_scheduler.fire.records`).

Memory is bounded: beyond ``max_backlog`` unfinished fires, new ones are recorded as
``failed`` at once instead of queueing.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from redis import Redis

from btu_scheduler.engine import Fire
from btu_scheduler.fire.answers import Result
from btu_scheduler.fire.records import Recorder
from btu_scheduler.fire.retry import RetryPolicy, RetryTimer
from btu_scheduler.fire.sender import Sender
from streams.keys import Keys, Marker, Outcome
from streams.messages import DETAIL_MAX, FireRecord
from streams.redisio import text

log = structlog.get_logger("btu_scheduler.dispatch")

# Claim result codes returned by the script.
CLAIMED, DUPLICATE, ALREADY_FIRED, FENCED = 1, 0, 2, -1

# Claims a whole chunk of fires in one call (one command to pack, one reply to parse).
# KEYS: leader, last-fire, inflight, then the fired marker of each fire.
# ARGV: token, ttl_ms, marker value when claimed, then per fire: id, due, missed (1/0),
# fire_id, and last the marker value of a missed fire.
# Returns {-1} when fenced; else per fire its code and previous last-fire: 0 duplicate
# (the marker exists: record it); 2 already fired (a later instant was claimed, or this
# one's marker has expired: stale, skip quietly); 1 claimed. A claimed fire that is to be
# sent is also added to inflight until its outcome is recorded.
_CLAIM_MANY = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {-1} end
local out = {}
for i = 4, #KEYS do
  local a = 4 + (i - 4) * 4
  local id, due = ARGV[a], ARGV[a + 1]
  local prev = redis.call('HGET', KEYS[2], id)
  if redis.call('EXISTS', KEYS[i]) == 1 then
    out[#out + 1] = 0; out[#out + 1] = prev or ''
  elseif prev and tonumber(prev) and tonumber(prev) >= tonumber(due) then
    out[#out + 1] = 2; out[#out + 1] = prev
  else
    local value = ARGV[3]
    if ARGV[a + 2] == '1' then value = ARGV[4 + (#KEYS - 3) * 4]
    else redis.call('ZADD', KEYS[3], due, ARGV[a + 3]) end
    redis.call('SET', KEYS[i], value, 'PX', ARGV[2])
    redis.call('HSET', KEYS[2], id, due)
    out[#out + 1] = 1; out[#out + 1] = prev or ''
  end
end
return out
"""

# KEYS: leader, fired marker, inflight. ARGV: token, marker value, the "claimed" prefix,
# ttl_ms, fire_id, due. Take over a fire another incarnation claimed but never finished
# (it died, or stopped and left it for us): fenced, and only while the marker still says
# "claimed" (never over done/failed/missed). The marker gets a fresh expiry, since the
# fire gets a fresh retry deadline.
_RECLAIM = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local v = redis.call('GET', KEYS[2])
if not v or string.sub(v, 1, #ARGV[3]) ~= ARGV[3] then
  redis.call('ZREM', KEYS[3], ARGV[5])
  return 0
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[5])
return 1
"""


_LOG_LEVEL = {Outcome.RETRYING: "warning", Outcome.FAILED: "error"}


def reason(result: Result) -> str:
    """The ``detail`` of a fire record: empty for a success; else the HTTP status with
    the site's message (``HTTP 404: BTU Task X not found``) or what went wrong."""
    if result.outcome in (Outcome.ENQUEUED, Outcome.DUPLICATE) and not result.detail:
        return ""
    text = result.detail.strip()
    if result.http is not None and "HTTP " not in text:
        text = f"HTTP {result.http}: {text}" if text else f"HTTP {result.http}"
    return text[:DETAIL_MAX]


@dataclass
class _Job:
    """A claimed fire on its way."""

    seq: int
    fire: Fire
    deadline: float  # monotonic
    attempt: int = 0
    started: float = 0.0  # monotonic, at submit
    first_lag_ms: int | None = None  # of the first attempt


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    instance: str
    incarnation: str = ""  # this process: tells its claims from a predecessor's
    concurrency: int = 32
    max_backlog: int = 10_000
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0
    retry_deadline_s: float = 300.0
    fired_ttl_ms: int = 670_000
    fires_maxlen: int = 10_000

    @property
    def claim_value(self) -> str:
        """The marker of a fire this process claimed: ``claimed {instance} {incarnation}``."""
        return f"{Marker.CLAIMED} {self.instance} {self.incarnation}".rstrip()


OutcomeHook = Callable[[FireRecord, str], None]


class Dispatcher:
    """Claims fires and sends them; thread-safe, owned by the daemon."""

    def __init__(
        self,
        r: Redis,
        keys: Keys,
        sender: Sender,
        settings: DispatchSettings,
        *,
        clock: Callable[[], float] = time.time,
        on_outcome: OutcomeHook | None = None,
    ) -> None:
        self._r = r
        self._keys = keys
        self._sender = sender
        self._s = settings
        self._clock = clock
        self._on_outcome = on_outcome
        self._claim_many = r.register_script(_CLAIM_MANY)
        self._reclaim = r.register_script(_RECLAIM)
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._unfinished: dict[int, _Job] = {}
        self._accepting = True
        self._running = 0
        self._policy = RetryPolicy(
            settings.retry_initial_s, settings.retry_max_s, settings.retry_deadline_s
        )
        self._retries: RetryTimer[_Job] = RetryTimer(self._attempt)
        self._recorder = Recorder(r, keys, settings.fires_maxlen)

    # -- claiming (main loop) -----------------------------------------------------

    def claim(self, fires: list[Fire], token: str) -> list[tuple[Fire, int, str]]:
        """Run the claim script for a chunk of fires in one call; returns
        ``(fire, code, previous_due)``. Raises RedisError when Redis is unreachable."""
        if not fires:
            return []
        keys, args = self.claim_call(fires, token)
        return self.claim_result(fires, self._claim_many(keys=keys, args=args))

    def claim_call(self, fires: list[Fire], token: str) -> tuple[list[str], list[str | int]]:
        """The claim script's keys and arguments for ``fires``."""
        keys = [self._keys.leader, self._keys.last_fire, self._keys.inflight]
        keys += [self._keys.fired(f.fire_id) for f in fires]
        args: list[str | int] = [token, self._s.fired_ttl_ms, self._s.claim_value]
        for f in fires:
            args += (f.id, f.due, "1" if f.missed else "0", f.fire_id)
        args.append(Marker.MISSED)
        return keys, args

    @staticmethod
    def claim_result(fires: list[Fire], reply: Any) -> list[tuple[Fire, int, str]]:
        """The claim script's reply, fire by fire."""
        if len(reply) == 1 and int(reply[0]) == FENCED:
            return [(f, FENCED, "") for f in fires]
        return [
            (f, int(reply[2 * i]), text(reply[2 * i + 1]) if reply[2 * i + 1] else "")
            for i, f in enumerate(fires)
        ]

    def reclaim(self, fire: Fire, token: str) -> int:
        """Take over an unfinished claim left by another incarnation (the app
        de-duplicates). Returns :data:`CLAIMED`, :data:`FENCED`, or
        :data:`ALREADY_FIRED` when the fire has finished after all (dropped from
        inflight)."""
        keys = [self._keys.leader, self._keys.fired(fire.fire_id), self._keys.inflight]
        args: list[str | int] = [token, self._s.claim_value, Marker.CLAIMED, self._s.fired_ttl_ms,
                fire.fire_id, fire.due]  # fmt: skip
        code = int(self._reclaim(keys=keys, args=args))
        return {1: CLAIMED, -1: FENCED}.get(code, ALREADY_FIRED)

    @property
    def claim_value(self) -> str:
        return self._s.claim_value

    def in_flight(self) -> set[str]:
        """The fire_ids this process is still sending (claimed, not finished)."""
        with self._lock:
            return {job.fire.fire_id for job in self._unfinished.values()}

    # -- sending ------------------------------------------------------------------

    @property
    def backlog(self) -> int:
        with self._lock:
            return len(self._unfinished)

    @property
    def retrying(self) -> int:
        """Fires waiting for their next attempt."""
        return self._retries.waiting

    def submit(self, fire: Fire) -> bool:
        """Send a claimed fire; False (and a ``failed`` record) when the backlog is full."""
        now = time.monotonic()
        job = _Job(next(self._seq), fire, now + self._policy.deadline_s, started=now)
        with self._lock:
            full = len(self._unfinished) >= self._s.max_backlog or not self._accepting
            if not full:
                self._unfinished[job.seq] = job
        if full:
            self._finish(job, Result(Outcome.FAILED, detail="backlog full"), self._now_ms())
            return False
        self._attempt(job)
        return True

    def flush(self) -> None:
        """Everything submitted so far may go out now (no batching linger)."""
        self._sender.flush()

    def record(self, fire: Fire, outcome: str, detail: str = "") -> None:
        """Record an outcome for a fire that is not sent (missed, duplicate)."""
        now = self._now_ms()
        # The stream's detail says why a fire is retrying or failed, and is empty otherwise
        # (PROTOCOL.md 1.1); the log line keeps the note either way.
        kept = detail if outcome in (Outcome.FAILED, Outcome.RETRYING) else ""
        record = FireRecord(
            fire_id=fire.fire_id, id=fire.id, due=fire.due, sent=now, outcome=outcome,
            instance=self._s.instance, attempt=0, detail=kept,
        )  # fmt: skip
        self._emit(record, None, note=detail)

    def _attempt(self, job: _Job) -> None:
        """Start one attempt; :meth:`_attempted` runs when the sender has the answer."""
        with self._lock:
            self._running += 1
        job.attempt += 1

        def done(result: Result, sent: int) -> None:
            try:
                self._attempted(job, result, sent)
            finally:
                with self._lock:
                    self._running -= 1

        self._sender.send(job.fire, done)

    def _attempted(self, job: _Job, result: Result, sent: int) -> None:
        if job.first_lag_ms is None:
            job.first_lag_ms = sent - job.fire.due
        if not result.retryable:
            self._finish(job, result, sent)
            return
        delay = self._policy.delay(job.attempt)
        if time.monotonic() + delay > job.deadline:
            tried = time.monotonic() - job.started
            why = f"gave up after {job.attempt} attempts over {tried:.1f} s: {reason(result)}"
            self._finish(job, Result(Outcome.FAILED, result.http, detail=why), sent)
            return
        self._emit(self._record_of(job, result, sent), None, job.first_lag_ms, delay)
        # When stopping, the job is not scheduled: left in _unfinished, handed back.
        self._retries.schedule(job, delay)

    def _finish(self, job: _Job, result: Result, sent: int) -> None:
        with self._lock:
            self._unfinished.pop(job.seq, None)
        marker = Marker.FAILED if result.outcome == Outcome.FAILED else Marker.DONE
        self._emit(self._record_of(job, result, sent), marker, job.first_lag_ms)

    def _record_of(self, job: _Job, result: Result, sent: int) -> FireRecord:
        fire = job.fire
        return FireRecord(
            fire_id=fire.fire_id, id=fire.id, due=fire.due, sent=sent, outcome=result.outcome,
            instance=self._s.instance, attempt=job.attempt, http=result.http, job=result.job,
            detail=reason(result),
        )  # fmt: skip

    def _emit(
        self,
        record: FireRecord,
        marker: str | None,
        first_lag_ms: int | None = None,
        retry_in_s: float | None = None,
        note: str = "",
    ) -> None:
        """Log the outcome (warning when retrying, error when failed) and queue it for the
        fires stream. A retry line shows the first attempt's lag apart from the delay."""
        shown = record.detail or note
        extra: dict[str, object] = {"detail": shown} if shown else {}
        if first_lag_ms is not None and record.attempt > 1:
            extra["first_lag_ms"] = first_lag_ms
        if retry_in_s is not None:
            extra["retry_in_s"] = round(retry_in_s, 3)
        level = _LOG_LEVEL.get(record.outcome, "info")
        getattr(log, level)(
            "fire",
            id=record.id, fire_id=record.fire_id, due=record.due, lag_ms=record.lag_ms,
            outcome=record.outcome, http=record.http, attempt=record.attempt, job=record.job,
            **extra,
        )  # fmt: skip
        if self._on_outcome is not None:
            self._on_outcome(record, record.detail)
        self._recorder.put(record, marker)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- shutdown -----------------------------------------------------------------

    def shutdown(self, timeout_s: float) -> int:
        """Stop accepting, let attempts in flight finish for up to ``timeout_s``, flush
        the records, and hand back every fire that did not finish. Returns how many fires
        were handed back.

        Handing back changes nothing in Redis: an unfinished fire stays ``claimed`` in
        ``inflight``, and the next leader re-sends it (:mod:`btu_scheduler.recovery`).
        So a hand-back can never undo what a newer leader did (mark the fire ``done``,
        move ``last-fire`` on), whether or not this instance still holds the lease."""
        with self._lock:
            self._accepting = False
        self._retries.stop()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if self._running == 0:
                    break
            time.sleep(0.02)
        with self._lock:
            left = list(self._unfinished.values())
            self._unfinished.clear()
        for job in left:
            log.info("fire_handed_back", id=job.fire.id, fire_id=job.fire.fire_id)
        self._sender.close()
        self._recorder.close(timeout=max(0.1, deadline - time.monotonic()) + 2)
        self._retries.join(timeout=1)
        return len(left)
