"""Batching: the fires due together go to the site in ``enqueue_batch`` requests
(PROTOCOL.md "Batch firing"), one outcome per fire.

:class:`BatchingSender` is the daemon's :class:`~btu_scheduler.fire.sender.Sender`. It runs
one asyncio thread with the HTTP client (:mod:`btu_scheduler.fire.client`):

- fires wait in one queue; a batch of up to ``batch_size`` fires goes out as soon as the
  queue holds that many, when the dispatcher has handed over all it had
  (:meth:`BatchingSender.flush`: the firing loop does after each claim), or when the
  oldest has waited ``linger_s`` (fires handed over one at a time, such as retries);
- at most ``concurrency`` requests are in flight; while they all are, fires gather into
  larger batches;
- a lone fire goes to the single endpoint (``enqueue_scheduled``);
- every fire of a batch gets its own outcome (:func:`~btu_scheduler.fire.answers.classify_batch`),
  so the dispatcher retries per fire exactly as for single requests;
- a batch that times out halves the size of the next ones (a site slower per fire than
  a full batch allows still gets every fire); quick answers double it back;
- a site that does not know ``enqueue_batch`` (:func:`~btu_scheduler.fire.answers.batch_unknown`)
  gets the fires of that batch again at once as single requests, and every fire after
  them, until the batch endpoint is tried again ``reprobe_s`` later.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import orjson
import structlog

from btu_scheduler import threads
from btu_scheduler.engine import Fire
from btu_scheduler.fire.answers import Result, batch_unknown, classify, classify_batch
from btu_scheduler.fire.client import Client, SendError
from btu_scheduler.fire.sender import Done
from streams.keys import ENQUEUE_BATCH_PATH, ENQUEUE_PATH, MAX_BATCH_FIRES, Outcome

log = structlog.get_logger("btu_scheduler.sender")

REPROBE_S = 300.0  # a site without the batch endpoint is asked again after this long


@dataclass(frozen=True, slots=True)
class BatchSettings:
    batch_size: int = 100
    linger_s: float = 0.002
    concurrency: int = 32
    timeout_s: float = 10.0  # one request, start to last byte of the answer
    reprobe_s: float = REPROBE_S


@dataclass(slots=True)
class _Waiting:
    fire: Fire
    done: Done
    since: float  # loop time it was queued
    flushed: bool = False  # handed over before a flush: goes without lingering


class SharedLoop:
    """One event loop, in its own thread, for the senders of many sites."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threads.thread(self.loop.run_forever, "btu-send")
        self.thread.start()

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=2)
        if not self.loop.is_running():
            self.loop.close()


class BatchingSender:
    """Sends fires in batches over ``client``; ``done(result, sent_ms)`` once per fire."""

    def __init__(
        self,
        make_client: Callable[[], Client],
        settings: BatchSettings,
        clock: Callable[[], float] = time.time,
        shared: SharedLoop | None = None,
    ) -> None:
        if not 1 <= settings.batch_size <= MAX_BATCH_FIRES:
            raise ValueError(f"batch_size must be 1 to {MAX_BATCH_FIRES}")
        self._s = settings
        self._clock = clock
        # A multi-site daemon runs every site's sender on one shared loop (one thread,
        # a few file descriptors); a single-site daemon has a loop of its own.
        self._shared = shared
        self.loop = shared.loop if shared else asyncio.new_event_loop()
        self._closed = False
        self._client = make_client()
        self._queue: deque[_Waiting] = deque()
        self._incoming: deque[_Waiting] = deque()  # filled from any thread
        self._kicked = False
        self._flush = False
        self._linger: asyncio.TimerHandle | None = None
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._singles_until = 0.0  # loop time; batching is off before it
        self._cap = settings.batch_size  # fires a batch may take now (halved by timeouts)
        if shared:
            self._thread = shared.thread
        else:
            self._thread = threads.thread(self.loop.run_forever, "btu-send")
            self._thread.start()

    # -- called from any thread ---------------------------------------------------

    def send(self, fire: Fire, done: Done) -> None:
        self._incoming.append(_Waiting(fire, done, 0.0))
        self._kick()

    def flush(self) -> None:
        """Everything handed over so far may go now, without lingering."""
        self._flush = True
        self._kick()

    def close(self) -> None:
        """Close the client (waiting up to two seconds), then stop the loop. Requests
        still in flight do not call back: their fires are handed back."""
        if self.loop.is_closed() or self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            closing = asyncio.run_coroutine_threadsafe(self._aclose(), self.loop)
            try:
                closing.result(timeout=2)
            except (TimeoutError, concurrent.futures.TimeoutError):
                pass
        if self._shared is not None:
            return  # the loop is the hub's: it outlives this site
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=2)
        if not self.loop.is_running():
            self.loop.close()

    def _kick(self) -> None:
        if not self._kicked and not self._closed:
            self._kicked = True
            try:
                self.loop.call_soon_threadsafe(self._pump)
            except RuntimeError:  # closed: the fire is handed back at shutdown
                pass

    # -- on the loop thread -------------------------------------------------------

    async def _aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self._client.aclose()

    def _pump(self) -> None:
        self._kicked = False  # before draining: a send after this kicks again
        now = self.loop.time()
        while self._incoming:
            waiting = self._incoming.popleft()
            waiting.since = now
            self._queue.append(waiting)
        queue = self._queue
        if self._flush:
            self._flush = False
            for waiting in reversed(queue):  # the flushed ones are a prefix of the queue
                if waiting.flushed:
                    break
                waiting.flushed = True
        while queue and self._in_flight < self._s.concurrency:
            if now < self._singles_until or (len(queue) == 1 and queue[0].flushed):
                self._start(self._single(queue.popleft()))
                continue
            ready = queue[0].flushed or len(queue) >= self._cap
            if not ready and now - queue[0].since < self._s.linger_s:
                self._linger_at(queue[0].since + self._s.linger_s)
                return
            count = min(len(queue), self._cap)
            batch = [queue.popleft() for _ in range(count)]
            self._start(self._single(batch[0]) if count == 1 else self._batch(batch))

    def _linger_at(self, when: float) -> None:
        if self._linger is None:
            self._linger = self.loop.call_at(when, self._lingered)

    def _lingered(self) -> None:
        self._linger = None
        self._pump()

    def _start(self, coro: Coroutine[Any, Any, None]) -> None:
        self._in_flight += 1
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._in_flight -= 1
        if not task.cancelled() and task.exception() is not None:
            log.error("send_task_crashed", error=repr(task.exception()))
        self._pump()

    async def _post(self, path: str, body: bytes) -> tuple[int, bytes]:
        return await asyncio.wait_for(self._client.post(path, body), self._s.timeout_s)

    async def _single(self, waiting: _Waiting) -> None:
        fire = waiting.fire
        body = orjson.dumps(
            {"id": fire.id, "kind": fire.kind, "due": fire.due, "fire_id": fire.fire_id}
        )
        sent = self._now_ms()
        try:
            status, data = await self._post(ENQUEUE_PATH, body)
        except SendError as e:
            result = Result(Outcome.RETRYING, detail=str(e))
        except asyncio.TimeoutError:
            result = Result(Outcome.RETRYING, detail="ReadTimeoutError")
        else:
            result = classify(status, data)
        _call(waiting, result, sent)

    async def _batch(self, batch: list[_Waiting]) -> None:
        fires = [
            {"id": w.fire.id, "kind": w.fire.kind, "due": w.fire.due, "fire_id": w.fire.fire_id}
            for w in batch
        ]
        body = orjson.dumps({"fires": fires})
        sent = self._now_ms()
        started = self.loop.time()
        try:
            status, data = await self._post(ENQUEUE_BATCH_PATH, body)
        except (SendError, asyncio.TimeoutError) as e:
            detail = str(e) if isinstance(e, SendError) else "ReadTimeoutError"
            if isinstance(e, asyncio.TimeoutError):
                self._shrink(len(batch))
            for waiting in batch:
                _call(waiting, Result(Outcome.RETRYING, detail=detail), sent)
            return
        self._grow(len(batch), self.loop.time() - started)
        if batch_unknown(status, data):
            self._batching_off(status, batch)
            return
        if self._singles_until:
            self._singles_until = 0.0
            log.info("batch_endpoint_available")
        results = classify_batch(status, data, [w.fire.fire_id for w in batch])
        for waiting, result in zip(batch, results, strict=True):
            _call(waiting, result, sent)

    def _shrink(self, size: int) -> None:
        """A batch of ``size`` fires took longer than the request timeout: the site is
        slower per fire than a full batch allows. Later batches take half as many (their
        fires, retried, too), so a slow site still gets every fire."""
        smaller = max(1, size // 2)
        if smaller < self._cap:
            self._cap = smaller
            log.warning("batch_timed_out", fires=size, batch_size_now=smaller)

    def _grow(self, size: int, took_s: float) -> None:
        """A batch as large as allowed was answered in under a quarter of the timeout:
        allow twice as many again, up to ``batch_size``."""
        if self._cap < self._s.batch_size and size >= self._cap and took_s < self._s.timeout_s / 4:
            self._cap = min(self._s.batch_size, self._cap * 2)
            if self._cap == self._s.batch_size:
                log.info("batch_size_restored", batch_size=self._cap)

    def _batching_off(self, status: int, batch: list[_Waiting]) -> None:
        """The site does not know the batch endpoint: these fires go again at once,
        singly and first in line; so do the next ones until the re-probe."""
        if self.loop.time() >= self._singles_until:
            log.warning(
                "batch_endpoint_unknown", http=status, fires=len(batch),
                single_requests_for_s=self._s.reprobe_s,
            )  # fmt: skip
        self._singles_until = self.loop.time() + self._s.reprobe_s
        self._queue.extendleft(reversed(batch))

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)


def _call(waiting: _Waiting, result: Result, sent: int) -> None:
    try:
        waiting.done(result, sent)
    except Exception:  # a bug in one callback must not keep the others from theirs
        log.exception("fire_callback_crashed", fire_id=waiting.fire.fire_id)
