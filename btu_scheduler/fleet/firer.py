"""The due fires of every site of a hub: one thread wakes at an instant, claims them all
in one round trip and hands them to the sites' senders.

Cron instants fall on whole seconds, so at the top of a second dozens of sites are due
together. When each site's own thread woke, claimed (one script call) and handed its fires
over, those threads took turns on the interpreter and on Redis: with 33 sites due each
second, a fire was claimed 8 ms and sent 12 ms after its instant at the median, 25 ms at
p99 (docs/performance.md). Here one thread keeps an alarm per leading site (its next
instant), pops the due fires of every site due at that instant, claims them in one
pipeline of claim scripts and submits them: one wake-up and one round trip per instant,
whatever the number of sites.

A site's own thread still does the rest: fires kept for later (Redis was down, the lease
was away, another instance fenced us), bursts of more than :data:`BURST` fires (claimed in
chunks, so the first requests go out while the rest are being claimed), promotion and
deletions. It arms its alarm here whenever it goes to sleep (its engine may have changed:
every change wakes it), and the firer re-arms a site after popping it.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import TYPE_CHECKING, Any

import structlog
from redis.exceptions import RedisError
from structlog.contextvars import bound_contextvars

from btu_scheduler import threads
from btu_scheduler.fire.claiming import ClaimRun, after_claim, latest_per_item, submit_claimed
from btu_scheduler.fire.dispatch import _CLAIM_MANY, Dispatcher

if TYPE_CHECKING:
    from btu_scheduler.daemon import Daemon
    from btu_scheduler.engine import Fire
    from btu_scheduler.fleet.hub import Hub

log = structlog.get_logger("btu_scheduler")

BURST = 32  # more due fires than this in one site: its own thread claims them, in chunks
MAX_WAIT_S = 1.0  # the alarms are wall-clock instants: re-read the clock at least this often


class Firer:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._cv = threading.Condition()
        self._alarms: list[tuple[int, int, Daemon]] = []  # (instant ms, seq, site): a heap
        self._armed: dict[Daemon, int] = {}  # each site's earliest alarm in the heap
        self._seq = itertools.count()
        # One script object for every site (the same script): loaded once per pipeline.
        self._claim = hub.r.register_script(_CLAIM_MANY)
        self._thread = threads.thread(self._loop, "btu-firer")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """After the hub's stopping event is set."""
        with self._cv:
            self._cv.notify()
        if self._thread.ident is not None:
            self._thread.join(timeout=5)

    def forget(self, d: Daemon) -> None:
        """``d`` has stopped: drop its alarms (they would keep its engine in memory until
        its next instant, a year away for some)."""
        with self._cv:
            self._armed.pop(d, None)
            self._alarms = [a for a in self._alarms if a[2] is not d]
            heapq.heapify(self._alarms)

    def wake(self) -> None:
        """Look at the alarms again now (the wall clock stepped)."""
        with self._cv:
            self._cv.notify()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def arm(self, d: Daemon, due_ms: int, now_ms: int | None = None) -> None:
        """Look at ``d`` at ``due_ms`` (its next instant). An earlier alarm already set
        for it stands, unless it is past ``now_ms`` (it is being handled)."""
        with self._cv:
            armed = self._armed.get(d)
            if armed is not None and armed <= due_ms and (now_ms is None or armed > now_ms):
                return
            self._armed[d] = due_ms
            heapq.heappush(self._alarms, (due_ms, next(self._seq), d))
            if self._alarms[0][2] is d:
                self._cv.notify()

    # -- the thread -------------------------------------------------------------------

    def _loop(self) -> None:
        while not self.hub.stopping.is_set():
            due = self._wait_due()
            try:
                self.fire(due)
            except Exception:  # a bug must not stop every site's fires
                log.exception("firer_error")
                for d in due:
                    d.wake()  # their own threads arm them again

    def _wait_due(self) -> list[Daemon]:
        """The sites whose alarm is due, once one is (or [] after a bounded wait)."""
        with self._cv:
            now_ms = int(time.time() * 1000)
            if not self._alarms or self._alarms[0][0] > now_ms:
                ahead = (self._alarms[0][0] - now_ms) / 1000 if self._alarms else MAX_WAIT_S
                self._cv.wait(min(MAX_WAIT_S, ahead))
                return []
            sites: list[Daemon] = []
            while self._alarms and self._alarms[0][0] <= now_ms:
                due_ms, _seq, d = heapq.heappop(self._alarms)
                if self._armed.get(d) == due_ms:
                    del self._armed[d]
                    sites.append(d)
            return sites

    def fire(self, sites: list[Daemon]) -> None:
        """Pop the due fires of ``sites``, claim them in one round trip, submit them.

        Each site's ``claiming`` lock is held from the check that it is not stopping until
        its fires are submitted: a stopping site waits for it before it shuts its
        dispatcher down, so a fire is never claimed here and then refused by a closed
        dispatcher. A site whose lock is taken is stopping: it is skipped, never waited
        for (the other sites' fires must not wait behind a stop)."""
        work: list[tuple[Daemon, list[Fire], str]] = []
        held: list[Daemon] = []
        try:
            for d in sites:
                if not d.claiming.acquire(blocking=False):
                    continue
                held.append(d)
                with bound_contextvars(site=d.settings.site):
                    try:
                        taken = self._take_due(d)
                    except Exception:  # a bug must not stop the other sites' fires
                        log.exception("firer_error")
                        d.wake()  # its own thread arms it again
                        continue
                if taken is not None:
                    work.append(taken)
            if work:
                self._claim_all(work)
        finally:
            for d in held:
                d.claiming.release()

    def _take_due(self, d: Daemon) -> tuple[Daemon, list[Fire], str] | None:
        # Promotion is reconciled by the site's thread before anything fires; it arms
        # the site again then (and again whenever it leads after a lapse).
        if d.stopping.is_set() or d._promoted or not d.is_leader:
            return None
        with d.lock:
            now = d.now_ms()
            fires = latest_per_item(d.engine.due(now))
            d._view_armed = d.engine.armed.armed
            d._view_next_due = next_due = d.engine.next_due()
        if next_due is not None:
            self.arm(d, next_due, now)
        if not fires:
            return None
        token = d.lease.token
        if token is None or len(fires) > BURST:
            d._defer(fires)  # its own thread claims them: the lease is away, or in chunks
            d.wake()
            return None
        return d, fires, token

    def _claim_all(self, work: list[tuple[Daemon, list[Fire], str]]) -> None:
        replies: list[Any]
        try:
            pipe = self.hub.r.pipeline(transaction=False)
            for d, fires, token in work:
                keys, args = d.dispatcher.claim_call(fires, token)
                self._claim(keys=keys, args=args, client=pipe)
            replies = pipe.execute(raise_on_error=False)
        except (RedisError, OSError) as e:  # unreachable, or the script could not load
            log.warning("claim_failed_redis", error=str(e), sites=len(work),
                        fires=sum(len(fires) for _d, fires, _t in work))  # fmt: skip
            replies = [e] * len(work)
        except Exception as e:  # a bug: the fires go back to their sites, not lost
            log.exception("firer_error")
            replies = [e] * len(work)
        for (d, fires, _token), reply in zip(work, replies, strict=True):
            with bound_contextvars(site=d.settings.site):
                if isinstance(reply, Exception):
                    # Redis went away, or answered an error: the site's own thread tries
                    # again (with its backoff) and says what happened.
                    d._defer(fires)
                    d.wake()
                    continue
                run = ClaimRun()
                try:
                    claimed = Dispatcher.claim_result(fires, reply)
                    submit_claimed(d.dispatcher, claimed, d.instance, run)
                except Exception:  # as on a site's own thread: logged; what it claimed
                    log.exception("firer_error")  # stays in inflight for the next recovery
                    continue
                after_claim(d, run)
                if run.deferred:
                    d.wake()
