"""Capped exponential backoff with jitter (Redis reconnects, republish requests)."""

from __future__ import annotations

import random
import threading


class Backoff:
    """``next()`` grows the delay twofold up to ``cap_s``; ``reset()`` after a success."""

    def __init__(self, cap_s: float, initial_s: float = 0.1) -> None:
        self.cap = cap_s
        self.initial = initial_s
        self.current = initial_s

    def peek(self) -> float:
        return round(self.current, 3)

    def next(self) -> float:
        value = self.current * (0.5 + random.random() / 2)
        self.current = min(self.cap, self.current * 2)
        return value

    def sleep(self, stop: threading.Event) -> None:
        """Wait for the next delay, or less if ``stop`` is set meanwhile."""
        stop.wait(self.next())

    def reset(self) -> None:
        self.current = self.initial
