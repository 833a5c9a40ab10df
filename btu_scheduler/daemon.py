"""The daemon: start-up, the event reader, the firing loop and the lease keeper.

Threads and what they own:

- **main** (firing loop): sleeps on a condition variable until the earliest due instant
  (a second at most: the wall clock may step) or until woken (new event, promotion,
  shutdown); pops due items, claims and dispatches them. Redis's own BLOCK timeouts are
  only as precise as its ``hz`` (100 ms by default), so the due instant is kept here.
- **reader**: one blocking XREAD on the schedules and RPC streams (no polling); applies
  changes to the engine and answers RPC when this instance is the leader.
- **lease**: renews the leader lease (or tries to take it) and refreshes the heartbeat
  (:mod:`btu_scheduler.leaseloop`).
- the fire path's sender, retry timer and recorder (see :mod:`btu_scheduler.fire`).

A site of a multi-site daemon (:mod:`btu_scheduler.fleet`) has no reader or lease thread,
and its firing loop does not wake at its instants: its hub's threads do that for every
site. The engine is guarded by one lock; nothing slow happens while holding it.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import redis
import structlog
from redis.exceptions import RedisError

from btu_scheduler import __version__, leaseloop, loader, redisdiag, threads
from btu_scheduler.backoff import Backoff
from btu_scheduler.cluster import cluster_status
from btu_scheduler.config import Settings
from btu_scheduler.deadletters import DeadLetters
from btu_scheduler.engine import Engine, Fire
from btu_scheduler.fire import setup
from btu_scheduler.fire.claiming import claim_for, latest_per_item, pending_after
from btu_scheduler.fire.endpoint import Endpoint
from btu_scheduler.heap import Item
from btu_scheduler.lease import Lease, LeaseState
from btu_scheduler.metrics import Metrics
from btu_scheduler.observe import Observability
from btu_scheduler.reader import Reader
from btu_scheduler.rpcserver import RpcHandler
from btu_scheduler.statewatch import StateWatch
from btu_scheduler.stats import Stats
from btu_scheduler.takeover import Takeover
from streams.keys import Keys
from streams.messages import ScheduleDelete
from streams.publish import decode_state_value

if TYPE_CHECKING:
    from btu_scheduler.fleet.hub import Hub

log = structlog.get_logger("btu_scheduler")

# Longer than the reader's 30 s BLOCK, so an idle blocking read never times out.
BLOCKING_SOCKET_TIMEOUT_S = 35.0
# Re-read the wall clock (it may step) at least this often; far below TIMEOUT_MAX.
MAX_SLEEP_S = 1.0
# A site of a multi-site daemon sleeps until something changes: the hub's firer wakes at
# its next instant (fleet/firer.py). It arms its alarm again at least this often.
FLEET_MAX_SLEEP_S = 30.0


class Daemon:
    """One scheduler instance for one site."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        endpoint: Endpoint | None = None,
        hub: Hub | None = None,
        on_hup: Callable[[Daemon], None] | None = None,
    ) -> None:
        self.settings = settings
        self.instance = settings.instance
        # A new process is a new incarnation, even under the same instance name: its
        # claims are told from its predecessor's, which it recovers (recovery.py).
        self.incarnation = f"{os.getpid()}.{secrets.token_hex(3)}"
        self.keys = Keys(settings.site)
        self.clock = clock
        self.started_mono = time.monotonic()
        self.started_ms = self.now_ms()
        self.engine = Engine(grace_ms=int(settings.grace_seconds * 1000))
        # In a multi-site daemon (btu_scheduler.fleet) the hub shares the Redis clients,
        # the metrics registry, the lease keeping and the reading among the sites.
        self.hub = hub
        self.on_hup = on_hup
        self.restart_with: Any = None  # set by on_hup: run again with these settings
        self.metrics = Metrics(settings.site, hub.families if hub else None)
        self.stats = Stats(self.metrics)
        self.redis_up, self.redis_error = False, ""  # did the last lease round trip succeed
        self.r = hub.r if hub else redis.Redis.from_url(
            settings.redis_url, socket_timeout=5.0, socket_connect_timeout=5.0
        )  # fmt: skip
        # The reader's own pool (it alone uses it, so it holds one connection). Not a
        # single-connection client: that one connects here, and start-up must wait for
        # Redis in _start, not die in a constructor.
        self.rb = hub.r if hub else redis.Redis.from_url(settings.redis_url,
            socket_timeout=BLOCKING_SOCKET_TIMEOUT_S, socket_connect_timeout=5.0)  # fmt: skip
        # urllib3 for the rare republish_all call (and for an injected endpoint: tests);
        # fires go in batches through the fire client (btu_scheduler.fire).
        self.endpoint = endpoint or setup.make_endpoint(settings)
        sender = setup.make_sender(settings, self.endpoint, endpoint is not None, clock,
                                   hub.send_loop if hub else None)  # fmt: skip
        self.dispatcher = setup.make_dispatcher(
            settings, self.r, self.keys, sender, self.incarnation, clock, self.stats.fire_outcome
        )
        # A fleet site's lease is renewed with its pool's (the hub's) period and lasts as
        # long: with its own, shorter lease it would lapse between two renewals.
        lease_s = hub.lease_seconds if hub else settings.lease_seconds
        self.lease = Lease(self.r, self.keys, self.instance, int(lease_s * 1000))
        self.rpc = RpcHandler(self)
        self.reader = Reader(self)
        self.takeover = Takeover(self)
        self.watch = StateWatch(self)
        self.dead = DeadLetters(
            self.r, self.keys, self.instance, self.stats, self.now_ms, lambda: self.is_leader
        )
        self.lock = threading.Condition(threading.RLock())
        self.stopping = threading.Event()
        self.claiming = threading.Lock()  # held by the hub's firer while it claims for us
        self.loaded = threading.Event()  # the snapshot is armed (the fleet reads after it)
        self.lease_stop = threading.Event()  # set once the hand-back is done
        self._lease_thread: threading.Thread | None = None
        self._lease_valid_until = 0.0
        self._lease_ticks = 0
        self._was_leader = False
        self._promoted = False
        self.last_id = "0-0"  # position in the schedules stream applied so far
        self.last_count: int | None = 0  # its number among all entries ever added
        self.rpc_id = "0-0"  # position in the RPC stream
        self._pending: list[Fire] = []  # popped but not yet claimed (Redis was down)
        self._view_armed = 0
        self._view_next_due: int | None = None
        self.reader_thread: threading.Thread | None = None
        self.observe = Observability(self, check_site=endpoint is None)  # tests inject one

    # -- small helpers ----------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    @property
    def is_leader(self) -> bool:
        return self.lease.token is not None and time.monotonic() < self._lease_valid_until

    def wake(self) -> None:
        """Wake the firing loop (the wall clock stepped, or something is due)."""
        self._notify()

    def _notify(self) -> None:
        with self.lock:
            self.lock.notify_all()

    # -- lifecycle --------------------------------------------------------------------

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the process exit code."""
        self._install_signals()
        log.info("starting", instance=self.instance, site=self.settings.site, version=__version__)
        self.observe.start()
        if not self._start():
            self.lease_stop.set()
            self.observe.stop()
            return 0
        self.reader_thread = threading.Thread(target=self.reader.loop, name="btu-reader",
                                              daemon=True)  # fmt: skip
        self.reader_thread.start()
        threading.Thread(target=self.watch.loop, name="btu-watch", daemon=True).start()
        try:
            self._firing_loop()
        finally:
            self._shutdown()
        return 0

    def run_in_fleet(self) -> None:
        """A site of a multi-site daemon: wait for Redis, load, fire until stopped. The
        hub keeps the lease, reads the streams and watches the keys."""
        if not self._start():
            return
        try:
            self._firing_loop()
        finally:
            self._shutdown()

    def request_stop(self) -> None:
        if not self.stopping.is_set():
            self.stopping.set()
            threading.Thread(target=self._notify, daemon=True).start()

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda _s, _f: threads.from_signal(self.request_stop, "btu-stop"))
        # SIGHUP re-reads the configuration (``on_hup``, from ``btu-scheduler run``); it
        # is never the abrupt death that is its default (docs/operations.md).
        signal.signal(signal.SIGHUP, lambda _s, _f: threads.from_signal(self._hup, "btu-hup"))

    def _hup(self) -> None:
        if self.on_hup is None:
            log.info("config_reload_ignored", reason="no configuration to re-read")
            return
        self.on_hup(self)

    def _start(self) -> bool:
        """Take the lease if free, load the snapshot, catch up. Waits for Redis, whatever
        it answers (unreachable, wrong password, no such database): one log line per
        attempt, capped exponential backoff. The lease thread starts before the load: a
        long load must not let the lease lapse."""
        backoff = Backoff(self.settings.reconnect_max_seconds)
        lease_thread = threading.Thread(target=leaseloop.run, args=(self,), name="btu-lease",
                                        daemon=True)  # fmt: skip
        self._lease_thread = lease_thread
        attempt = 0
        while not self.stopping.is_set():
            attempt += 1
            try:
                self.watch.arm()
                if self.hub is None:
                    self._lease_tick()
                    if not lease_thread.is_alive():
                        lease_thread.start()
                if self.hub is None:
                    self._load()
                else:
                    with self.hub.load_slots:  # a few sites load at a time
                        self._load()
                self.loaded.set()
                if self.hub is not None:
                    self.redis_up, self.redis_error = True, ""
                    self.hub.loaded(self)
                return True
            except redisdiag.START_ERRORS as e:
                self.redis_up, self.redis_error = False, str(e)  # /readyz says why
                delay = backoff.next()
                if self.hub is None:  # in a fleet the hub's keeper says it, once a try
                    redisdiag.log_attempt(e, self.settings.redis_url, attempt, delay)
                self.stopping.wait(delay)
        return False

    def _load(self, start: bool = True) -> None:
        """Snapshot → engine → catch-up, swapped in under the lock (:func:`loader.load_into`)."""
        loader.load_into(self, start)

    def _shutdown(self) -> None:
        log.info("stopping", instance=self.instance)
        with self.claiming:  # the hub's firer is done with us (and sees `stopping` next)
            pass
        # The lease is renewed until the hand-back is done, however long the requests in
        # flight take: a standby must not take over fires that are still being sent.
        handed = self.dispatcher.shutdown(self.settings.shutdown_timeout_seconds)
        self.endpoint.close()
        self.lease_stop.set()
        if self._lease_thread is not None and self._lease_thread.is_alive():
            self._lease_thread.join(timeout=BLOCKING_SOCKET_TIMEOUT_S)
        try:
            released = self.lease.release()
        except RedisError:
            released = False
        self._lease_valid_until = 0.0
        for client in () if self.hub else (self.r, self.rb):
            try:
                client.close()
            except RedisError:
                pass
        self.observe.stop()
        if self.hub is not None:
            self.metrics.forget()
        log.info("stopped", instance=self.instance, handed_back=handed, lease_released=released)

    # -- lease ------------------------------------------------------------------------

    def _lease_tick(self) -> float:
        return leaseloop.tick(self)

    def apply_lease(self, state: LeaseState, started: float, was_valid: bool) -> float:
        """Act on a lease round trip begun at ``started`` (monotonic): extend the lease
        or give it up, wake the firing loop on promotion. Returns seconds until the next
        attempt."""
        renew = self.settings.renew_seconds
        if state.leader:
            self._lease_valid_until = started + self.lease.lease_ms / 1000
            if not self._was_leader:
                self._was_leader = True
                self._promoted = True
                log.info("leader_acquired", instance=self.instance, lease=state.token)
            if not was_valid:
                self._notify()  # the firing loop may be asleep as a standby
            return renew
        self._lease_valid_until = 0.0
        if self._was_leader:
            self._was_leader = False
            log.warning("leader_lost", instance=self.instance, holder=state.token)
        self.observe.standby(state.token)
        # Try again right when the holder's lease would run out.
        return max(0.005, min(renew, state.pttl_ms / 1000 + 0.005))

    # -- firing loop (main thread) ---------------------------------------------------

    def _firing_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self.step()
            except Exception:
                # A bug must not stop the scheduler; the item that hit it was re-armed.
                log.exception("firing_loop_error")
                self.stopping.wait(0.1)

    def step(self, wait: bool = True) -> int:
        """Fire what is due now; with nothing due, sleep (when ``wait``) until the next
        instant or a wake-up. Returns how many fires were handed to claiming."""
        if self._promoted and self.is_leader:
            self._promoted = False
            self.takeover.on_promoted()
        firer = self.hub.firer if self.hub else None
        with self.lock:
            fires: list[Fire] = []
            deleted = self.engine.take_deleted()
            if self.is_leader:
                # In a fleet the hub's firer pops the due fires (fleet/firer.py); this
                # thread claims only what was kept for later.
                due = self.engine.due(self.now_ms()) if firer is None else []
                fires = latest_per_item([*self._pending, *due])
                self._pending = []
            self._view_armed = self.engine.armed.armed
            self._view_next_due = next_due = self.engine.next_due()
            if not fires and not deleted:
                if firer is not None and next_due is not None and self.is_leader:
                    firer.arm(self, next_due)
                if wait and not self._woken():
                    self.lock.wait(self._sleep_seconds())
                return 0
        if deleted:
            self.takeover.upkeep([], deleted)
        if fires:
            claim_for(self, fires)
        return len(fires)

    def _woken(self) -> bool:
        """Checked under the lock right before waiting: a flag set before its notify (which
        takes the lock) is never missed. A missed stop left a fleet site asleep for ever."""
        return self.stopping.is_set() or (self._promoted and self.is_leader)

    def _sleep_seconds(self) -> float | None:
        if not self.is_leader:
            return None  # woken by promotion or shutdown
        if self.hub is not None:
            return FLEET_MAX_SLEEP_S  # the firer wakes at the next instant, not this thread
        due = self.engine.next_due()
        if due is None:
            return None
        return min(MAX_SLEEP_S, max(0.0, due / 1000 - self.clock()))

    def _defer(self, fires: list[Fire]) -> None:
        """Keep popped fires to claim later. Like missed instants, the fires of one item
        coalesce into its latest; grace is re-checked against it."""
        with self.lock:
            self._pending = pending_after(self._pending, fires, self.now_ms(), self.engine.grace_ms)

    # -- things the RPC handler calls (engine lock held) ------------------------------

    def locked(self) -> threading.Condition:
        """The engine lock, for RPC handlers that read or change the engine."""
        return self.lock

    def reload_item(self, item_id: str) -> Item | None:
        raw = self.r.hget(self.keys.state, item_id)
        spec = None if raw is None else decode_state_value(item_id, raw)
        with self.lock:
            now = self.now_ms()
            if spec is None:
                self.engine.apply(ScheduleDelete(id=item_id, ts=now), now)
                return None
            self.engine.apply(spec, now)
            self.lock.notify_all()
            item = self.engine.armed.get(item_id)
        self.takeover.upkeep([(item_id, spec.ts)], [])  # a reload ends a cancellation
        return item

    def cancel_item(self, item_id: str) -> bool:
        return self.takeover.cancel(item_id)

    def resync(self) -> int:
        self._load(start=False)
        with self.lock:
            return self.engine.armed.armed

    def cluster_status(self) -> dict[str, Any]:
        return cluster_status(self)
