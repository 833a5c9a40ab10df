"""Setting bad entries aside in ``btu:{site}:dead`` with the reason.

Only the active instance writes, so one bad entry gives one dead letter however many
standbys read it. A standby keeps what it saw (bounded) and, if it becomes the leader,
writes those the previous leader had not written.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import structlog
from redis import Redis

from btu_scheduler.errors import REDIS_DOWN
from btu_scheduler.stats import Stats
from streams import codec
from streams.keys import DEAD_MAXLEN, F, Keys
from streams.messages import DeadLetter
from streams.redisio import xadd, xrevrange

log = structlog.get_logger("btu_scheduler.dead")

MAX_PENDING = 1_000


class DeadLetters:
    def __init__(
        self,
        r: Redis,
        keys: Keys,
        instance: str,
        stats: Stats,
        now_ms: Callable[[], int],
        is_leader: Callable[[], bool],
    ) -> None:
        self._r = r
        self._keys = keys
        self._instance = instance
        self._stats = stats
        self._now_ms = now_ms
        self._is_leader = is_leader
        self._pending: deque[DeadLetter] = deque(maxlen=MAX_PENDING)

    def add(self, source: str, entry: str, raw: Any, reason: str) -> None:
        """Record one unusable entry (never raises)."""
        letter = DeadLetter(
            source=source, entry=entry, reason=reason, fields=codec.lenient(raw),
            instance=self._instance, ts=self._now_ms(),
        )  # fmt: skip
        self._stats.dead()
        log.warning("dead_letter", source=source, entry=entry, reason=reason)
        if self._is_leader():
            self._write(letter)
        else:
            self._pending.append(letter)

    def _write(self, letter: DeadLetter) -> None:
        try:
            xadd(self._r, self._keys.dead, letter.encode(), DEAD_MAXLEN)
        except REDIS_DOWN:
            self._pending.append(letter)

    def flush(self) -> None:
        """Write what was set aside while standing by (or while Redis was away), unless
        the previous leader already did."""
        if not self._pending:
            return
        seen = {
            (f.get(F.SOURCE, ""), f.get(F.ENTRY, ""))
            for _eid, f in xrevrange(self._r, self._keys.dead, MAX_PENDING * 2)
        }
        letters = list(self._pending)
        self._pending.clear()
        for letter in letters:
            if (letter.source, letter.entry) not in seen:
                self._write(letter)
