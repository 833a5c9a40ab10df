"""Re-sending fires that another incarnation claimed but never finished.

Every fire that is claimed to be sent is also in ``btu:{site}:inflight`` (fire_id ->
due) until its outcome is recorded (:mod:`btu_scheduler.fire.dispatch`). A leader that died
(kill -9, a lost host) or stopped (its in-flight requests outlasted the shutdown timeout)
leaves its unfinished fires there, still marked ``claimed {instance} {incarnation}``.
The next leader, whatever its name, re-sends each of them on promotion and at start-up:
the request may or may not have reached the site, and the site's fire_id record makes a
second one a ``duplicate`` (PROTOCOL.md "Firing" step 4).

Only this process's own claims are skipped (it is sending them: a leader that lost the
lease and got it back keeps retrying its own). A restarted process has a new
incarnation, so it recovers its predecessor's claims even under the same instance name.

Cost: one ``ZRANGEBYSCORE`` page per 500 unfinished fires and one ``MGET`` of their
markers, whatever the number of items; entries older than grace + retry deadline (no
longer worth sending) are dropped first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import cast

import structlog
from redis import Redis

from btu_scheduler.engine import Fire
from btu_scheduler.fire.dispatch import CLAIMED, FENCED, Dispatcher
from streams.keys import Keys, Marker
from streams.messages import fire_id as make_fire_id
from streams.redisio import text

log = structlog.get_logger("btu_scheduler.recovery")

PAGE = 500
_Page = list[tuple[bytes, float]]


class Recovery:
    """Finds unfinished claims of other incarnations and hands them to the dispatcher."""

    def __init__(
        self,
        r: Redis,
        keys: Keys,
        dispatcher: Dispatcher,
        horizon_ms: int,
        describe: Callable[[str], tuple[str, str]],
    ) -> None:
        self._r = r
        self._keys = keys
        self._dispatcher = dispatcher
        self._horizon_ms = horizon_ms  # grace + retry deadline: older fires are not sent
        self._describe = describe  # item id -> (kind, task), from the engine

    def run(self, token: str, now_ms: int, extra: Iterable[tuple[str, int]] = ()) -> int:
        """Re-send every unfinished claim due within the horizon; ``extra`` adds
        ``(id, due)`` candidates (a ``last-fire`` instant: claims written by a version
        without ``inflight``). Returns how many fires were re-sent."""
        oldest = now_ms - self._horizon_ms
        candidates = self._unfinished(oldest)
        for item_id, due in extra:
            if due >= oldest:
                candidates.setdefault(make_fire_id(item_id, due), due)
        if not candidates:
            return 0
        ours = self._dispatcher.in_flight()
        pending = [(fid, due) for fid, due in candidates.items() if fid not in ours]
        recovered = 0
        for begin in range(0, len(pending), PAGE):
            done = self._resend(pending[begin : begin + PAGE], token)
            if done is None:
                log.warning("recovery_fenced", recovered=recovered)
                return recovered
            recovered += done
        log.info("recovery_done", unfinished=len(candidates), recovered=recovered)
        return recovered

    def _unfinished(self, oldest: int) -> dict[str, int]:
        """Drop entries too old to send, and read the others: fire_id -> due."""
        inflight = self._keys.inflight
        self._r.zremrangebyscore(inflight, "-inf", f"({oldest}")
        out: dict[str, int] = {}
        start = 0
        while True:
            page = self._r.zrangebyscore(
                inflight, oldest, "+inf", start=start, num=PAGE, withscores=True
            )
            out.update((text(member), int(score)) for member, score in cast(_Page, page))
            if len(page) < PAGE:
                return out
            start += PAGE

    def _resend(self, chunk: list[tuple[str, int]], token: str) -> int | None:
        """Reclaim and submit the fires of ``chunk`` still marked ``claimed``; None when
        fenced (this instance is not the leader any more)."""
        markers = self._r.mget([self._keys.fired(fid) for fid, _due in chunk])
        finished: list[str] = []
        recovered = 0
        for (fid, due), raw in zip(chunk, markers, strict=True):
            marker = None if raw is None else text(raw)
            suffix = f"@{due}"
            if marker is None or not marker.startswith(Marker.CLAIMED) or not fid.endswith(suffix):
                finished.append(fid)  # answered, given up, or expired: nothing to do
                continue
            if marker == self._dispatcher.claim_value:
                continue  # this process's own claim, about to be sent or just answered
            item_id = fid[: -len(suffix)]
            kind, task = self._describe(item_id)
            fire = Fire(item_id, kind, task, due)
            code = self._dispatcher.reclaim(fire, token)
            if code == FENCED:
                return None
            if code == CLAIMED:
                log.warning("fire_recovered", id=item_id, fire_id=fid, marker=marker)
                self._dispatcher.submit(fire)
                recovered += 1
        if finished:
            self._r.zrem(self._keys.inflight, *finished)
        return recovered
