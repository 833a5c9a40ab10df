"""When a fire is tried again (PROTOCOL.md "Firing", step 5): capped exponential backoff
until a retry deadline, from one timer thread (no thread sleeps per fire).

What is retryable is decided by :mod:`btu_scheduler.fire.answers`; this module only says
when, and runs the next attempt on time.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from btu_scheduler import threads

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    initial_s: float = 0.5
    max_s: float = 30.0
    deadline_s: float = 300.0  # from the fire's first attempt

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1, 2, ...)."""
        return min(self.max_s, self.initial_s * 2.0 ** (attempt - 1))


@dataclass(order=True)
class _Timed(Generic[T]):
    at: float
    seq: int
    job: T = field(compare=False)


class RetryTimer(Generic[T]):
    """Calls ``run(job)`` once ``delay`` seconds after :meth:`schedule`, from its own
    thread; :meth:`stop` drops everything still waiting."""

    def __init__(self, run: Callable[[T], None]) -> None:
        self._run = run
        self._heap: list[_Timed[T]] = []
        self._cv = threading.Condition()
        self._seq = 0
        self._stopping = False
        # Started by the first retry: most sites never retry, and a daemon serving a
        # thousand sites must not hold a thousand idle threads.
        self._thread = threads.thread(self._loop, "btu-retry")

    def schedule(self, job: T, delay: float) -> bool:
        """False when stopping (the job is not scheduled)."""
        with self._cv:
            if self._stopping:
                return False
            self._seq += 1
            heapq.heappush(self._heap, _Timed(time.monotonic() + delay, self._seq, job))
            self._cv.notify()
            if self._thread.ident is None:
                self._thread.start()
            return True

    @property
    def waiting(self) -> int:
        """Jobs scheduled and not yet run."""
        with self._cv:
            return len(self._heap)

    def stop(self) -> None:
        with self._cv:
            self._stopping = True
            self._heap.clear()
            self._cv.notify_all()

    def join(self, timeout: float) -> None:
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._cv:
                if self._stopping:
                    return
                if not self._heap:
                    self._cv.wait()
                    continue
                wait = self._heap[0].at - time.monotonic()
                if wait > 0:
                    self._cv.wait(wait)
                    continue
                job = heapq.heappop(self._heap).job
            self._run(job)  # outside the lock: it may schedule again
