"""What the sites of one Redis server share in a multi-site daemon: the Redis clients,
the lease keeper, the reader, the firer, and the table of sites.

A site's :class:`~btu_scheduler.daemon.Daemon` gets the hub at construction and then
neither keeps a lease, nor reads a stream, nor wakes at its instants itself: the hub's
keeper, reader and firer threads do that for every site of the server, so their cost does
not grow with the number of sites (one round trip per renewal period, one blocking read,
one claim round trip per instant).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import redis
import structlog

from btu_scheduler import threads
from btu_scheduler.fire.batching import SharedLoop
from btu_scheduler.metrics import Families
from btu_scheduler.redisdiag import START_ERRORS
from streams.keys import PoolKeys

if TYPE_CHECKING:
    from btu_scheduler.daemon import Daemon
    from btu_scheduler.fleet.firer import Firer
    from btu_scheduler.fleet.keeper import Keeper
    from btu_scheduler.fleet.reader import FleetReader

CLOCK_CHECK_S = 0.5
CLOCK_STEP_S = 0.05  # a larger gap between wall and monotonic time is a step
log = structlog.get_logger("btu_scheduler")

LOAD_CONCURRENCY = 8  # sites loading their snapshot at the same time
POOL_CONNECTIONS = 64  # shared by every site's claims, records and RPC replies


class Hub:
    def __init__(
        self,
        redis_url: str,
        instance: str,
        pool: str,
        lease_seconds: float,
        families: Families,
        hand_over: Callable[[str], None],
        reload_config: Callable[[], None],
    ) -> None:
        self.redis_url = redis_url
        self.instance = instance
        self.pool = PoolKeys(pool)
        self.lease_seconds = lease_seconds
        self.families = families
        self.hand_over = hand_over  # stop leading a site (it restarts as a standby)
        self.reload_config = reload_config
        pool_ = redis.BlockingConnectionPool.from_url(
            redis_url,
            max_connections=POOL_CONNECTIONS,
            timeout=10,
            socket_timeout=5.0,
            socket_connect_timeout=5.0,
        )
        self.r = redis.Redis(connection_pool=pool_)
        self.load_slots = threading.BoundedSemaphore(LOAD_CONCURRENCY)
        self.send_loop = SharedLoop()  # every site's HTTP sending, on one thread
        self.stopping = threading.Event()
        self.redis_up, self.redis_error = False, "not connected yet"
        self._sites: dict[str, Daemon] = {}
        self._lock = threading.Lock()
        self.keeper: Keeper | None = None
        self.reader: FleetReader | None = None
        self.firer: Firer | None = None

    # -- the table of sites -----------------------------------------------------------

    def add(self, daemon: Daemon) -> None:
        with self._lock:
            self._sites[daemon.settings.site] = daemon

    def remove(self, daemon: Daemon) -> None:
        with self._lock:
            if self._sites.get(daemon.settings.site) is daemon:
                del self._sites[daemon.settings.site]
        if self.firer is not None:
            self.firer.forget(daemon)
        self.wake_reader()

    def sites(self) -> dict[str, Daemon]:
        with self._lock:
            return dict(self._sites)

    def loaded(self, _daemon: Daemon) -> None:
        """A site has armed its snapshot: the reader reads its streams from now on, and
        the keeper may let it lead."""
        self.wake_reader()
        if self.keeper is not None:
            self.keeper.wake()

    def wake_reader(self) -> None:
        if self.reader is not None:
            self.reader.wake()

    # -- life -------------------------------------------------------------------------

    def start(self) -> None:
        from btu_scheduler.fleet.firer import Firer
        from btu_scheduler.fleet.keeper import Keeper
        from btu_scheduler.fleet.reader import FleetReader

        self.keeper = Keeper(self)
        self.reader = FleetReader(self)
        self.firer = Firer(self)
        self.keeper.start()
        self.reader.start()
        self.firer.start()
        self._clock = threads.thread(self._watch_clock, "btu-clock")
        self._clock.start()

    def _watch_clock(self) -> None:
        """Say when the wall clock steps (NTP, a VM resumed), and wake the firer: its
        alarms are wall-clock instants (it also re-reads the clock every second)."""
        wall, mono = time.time(), time.monotonic()
        while not self.stopping.wait(CLOCK_CHECK_S):
            now_wall, now_mono = time.time(), time.monotonic()
            drift = (now_wall - wall) - (now_mono - mono)
            wall, mono = now_wall, now_mono
            if abs(drift) > CLOCK_STEP_S:
                log.warning("wall_clock_stepped", by_ms=round(drift * 1000), sites=len(self._sites))
                if self.firer is not None:
                    self.firer.wake()

    def stop(self) -> None:
        """After every site has stopped: the threads end, the pool closes."""
        self.stopping.set()
        if self.keeper is not None:
            self.keeper.stop()
        if self.reader is not None:
            self.reader.stop()
        if self.firer is not None:
            self.firer.stop()
        try:  # gone at once, not after a lease: the other daemons take our sites now
            self.r.zrem(self.pool.members, self.instance)
        except START_ERRORS:
            pass
        self.send_loop.close()
        self.r.close()

    def threads_alive(self) -> tuple[bool, str]:
        parts = (("lease keeper", self.keeper), ("reader", self.reader), ("firer", self.firer))
        for name, part in parts:
            if part is not None and not part.alive():
                return False, f"the {name} of {self.pool.pool} has stopped"
        return True, "ok"
