"""How the dispatcher sends one fire: a :class:`Sender` starts a request and calls back.

Two implementations:

- :class:`btu_scheduler.fire.batching.BatchingSender`, the production one: one asyncio
  thread, batches of fires per request, no thread per request;
- :class:`ThreadedSender`, which runs any blocking ``enqueue(id, kind, due, fire_id)``
  (``btu_scheduler.fire.endpoint.Endpoint`` or a test's fake) on a thread pool.

Either way ``done(result, sent_ms)`` is called exactly once per ``send``, from the
sender's own thread; ``sent_ms`` is when the request went out (for ``lag_ms``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import structlog

from btu_scheduler.engine import Fire
from btu_scheduler.fire.answers import Result
from streams.keys import Outcome

log = structlog.get_logger("btu_scheduler.sender")

Done = Callable[[Result, int], None]
Enqueue = Callable[[str, str, int, str], Result]


class Sender(Protocol):
    def send(self, fire: Fire, done: Done) -> None:
        """Start sending ``fire``; never blocks on the network."""

    def flush(self) -> None:
        """Everything handed over so far may go now (no waiting for more)."""

    def close(self) -> None:
        """Stop; requests still in flight may not call back."""


class ThreadedSender:
    """Runs a blocking enqueue call per fire on a pool of ``concurrency`` threads."""

    def __init__(
        self, enqueue: Enqueue, concurrency: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._enqueue = enqueue
        self._clock = clock
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="btu-fire")

    def send(self, fire: Fire, done: Done) -> None:
        self._pool.submit(self._run, fire, done)

    def _run(self, fire: Fire, done: Done) -> None:
        sent = int(self._clock() * 1000)
        try:
            result = self._enqueue(fire.id, fire.kind, fire.due, fire.fire_id)
        except Exception as e:  # a bug must not lose the fire silently
            log.exception("fire_attempt_crashed", id=fire.id, fire_id=fire.fire_id)
            result = Result(Outcome.FAILED, detail=f"internal error: {e.__class__.__name__}")
        done(result, sent)

    def flush(self) -> None:
        pass  # each fire goes at once

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
