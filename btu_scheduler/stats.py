"""Counters and fire-lag percentiles for RPC ``status`` and the heartbeat hash."""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Protocol

from streams.keys import Outcome
from streams.messages import FireRecord

LAG_WINDOW = 10_000


def percentile(sorted_values: list[int], q: float) -> int | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


class Observer(Protocol):
    """Where the counters are mirrored (the Prometheus metrics)."""

    def fire_outcome(self, record: FireRecord) -> None: ...

    def applied(self, propagation_ms: int | None) -> None: ...

    def dead(self) -> None: ...


class Stats:
    """Thread-safe counters; the dispatcher's threads report outcomes here."""

    def __init__(self, observer: Observer | None = None) -> None:
        self._observer = observer
        self._lock = threading.Lock()
        self.events_applied = 0
        self.dead_letters = 0
        self.rpc_answered = 0
        self.outcomes: Counter[str] = Counter()
        self._lags: deque[int] = deque(maxlen=LAG_WINDOW)
        self._propagation: deque[int] = deque(maxlen=LAG_WINDOW)

    def fire_outcome(self, record: FireRecord, _detail: str = "") -> None:
        with self._lock:
            self.outcomes[record.outcome] += 1
            if record.outcome in (Outcome.ENQUEUED, Outcome.DUPLICATE) and record.attempt <= 1:
                self._lags.append(record.lag_ms)
        if self._observer is not None:
            self._observer.fire_outcome(record)

    def applied(self, propagation_ms: int | None) -> None:
        with self._lock:
            self.events_applied += 1
            if propagation_ms is not None:
                self._propagation.append(propagation_ms)
        if self._observer is not None:
            self._observer.applied(propagation_ms)

    def dead(self) -> None:
        with self._lock:
            self.dead_letters += 1
        if self._observer is not None:
            self._observer.dead()

    @property
    def fires_sent(self) -> int:
        return self.outcomes[Outcome.ENQUEUED] + self.outcomes[Outcome.DUPLICATE]

    @property
    def fires_failed(self) -> int:
        return self.outcomes[Outcome.FAILED]

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            lags = sorted(self._lags)
            prop = sorted(self._propagation)
            outcomes = dict(self.outcomes)
        return {
            "events_applied": self.events_applied,
            "fires_sent": outcomes.get(Outcome.ENQUEUED, 0) + outcomes.get(Outcome.DUPLICATE, 0),
            "fires_failed": outcomes.get(Outcome.FAILED, 0),
            "fires_missed": outcomes.get(Outcome.MISSED, 0),
            "fires_retrying": outcomes.get(Outcome.RETRYING, 0),
            "outcomes": outcomes,
            "dead_letters": self.dead_letters,
            "rpc_answered": self.rpc_answered,
            "lag_ms": {f"p{q}": percentile(lags, q) for q in (50, 90, 99)}
            | {"max": lags[-1] if lags else None, "samples": len(lags)},
            "propagation_ms": {f"p{q}": percentile(prop, q) for q in (50, 99)}
            | {"samples": len(prop)},
        }
