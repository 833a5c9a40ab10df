"""Every site's lease, kept by one thread per Redis server with one round trip per
renewal period, however many sites.

How a multi-site daemon's leases work (docs/scaling.md):

- The daemon is **alive** while its entry in the pool's members set
  (``btu:@pool:{pool}:members``, instance → Redis time in ms until which it is alive)
  is in the future. Each renewal moves it one lease ahead.
- A site's lease ``btu:{site}:leader`` has the usual value (instance, epoch) plus the
  pool, and **no TTL**: it holds while its instance is alive. So renewing a thousand
  sites costs what renewing one does. The value is still the fencing token every claim
  checks, unchanged.
- A site is **free** when its key is missing, or names a daemon of the pool that is no
  longer alive (or this daemon's own name with another epoch: its predecessor). The
  takeover script decides that again inside Redis, so two daemons never both take it.
  A standalone daemon's lease (with a TTL) is honoured until it expires.
- **Spread**: the live daemons of the pool with the same site list (:func:`assign`,
  given the current leaders: a site stays with its leader within the bound) agree on
  who should lead each site. A daemon takes the free sites assigned to it at
  once, any other free site after one lease (its assigned daemon may not serve it), and
  hands over a site it leads to the daemon it is assigned to: a clean stop of that site
  (fires in flight finish or are handed back, then the lease is released), which the
  new leader takes at its next renewal: at most one renewal period without a leader.

The same thread refreshes the heartbeat hashes of the sites it leads a few at a time
(their TTL grows with the number of sites) and checks one site's keys per renewal for a
loss (all of them at once when one shows it).
"""

from __future__ import annotations

import math
import threading
import time
from typing import TYPE_CHECKING

import structlog
from structlog.contextvars import bound_contextvars

from btu_scheduler.backoff import Backoff
from btu_scheduler.errors import REDIS_DOWN
from btu_scheduler.fleet.assign import assign, digest
from btu_scheduler.fleet.leases import BEAT_SCRIPT, TAKE_SCRIPT, holder_of, tenure_of
from btu_scheduler.heartbeat import heartbeat_fields
from btu_scheduler.lease import LeaseState
from btu_scheduler.redisdiag import START_ERRORS, log_attempt
from streams.keys import Heartbeat
from streams.redisio import pairs, text

if TYPE_CHECKING:
    from btu_scheduler.daemon import Daemon
    from btu_scheduler.fleet.hub import Hub

log = structlog.get_logger("btu_scheduler")

BEATS_PER_TICK = 4  # heartbeat hashes refreshed per renewal (2 commands each)
PRUNE_EVERY = 30  # renewals between clean-ups of dead members
MIN_GAP_S = 0.1  # between renewals, however often woken (sites loading one by one)
MID_SECOND_FROM_S = 1.5  # renewal periods from which renewals are moved off whole seconds
EXPIRY_MARGIN_S = 0.02  # after a member's entry runs out, before looking again


class Keeper:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.instance = hub.instance
        self.lease_ms = int(hub.lease_seconds * 1000)
        self.renew_s = hub.lease_seconds / 2.5
        self._beat = hub.r.register_script(BEAT_SCRIPT)
        self._take = hub.r.register_script(TAKE_SCRIPT)
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._digest_sent = ""
        self._ticks = 0
        self._free_since: dict[str, float] = {}
        self._beaten: dict[str, float] = {}  # site → monotonic time of its last heartbeat
        self._watch_next = 0
        self._plan_key: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
        self._plan: dict[str, str] = {}
        self._holders: dict[str, str] = {}
        self.peers: tuple[str, ...] = ()  # live daemons of the pool with our site list
        self.next_wait = self.renew_s  # seconds from the end of a renewal to the next one
        self.leading = 0

    # -- thread -----------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="btu-keeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """Renew now (a site finished loading, or one was handed over)."""
        self._wake.set()

    def _loop(self) -> None:
        backoff = Backoff(min(self.renew_s, 10.0))
        wait = 0.0
        failures = 0
        while not self.hub.stopping.is_set():
            self._wake.wait(wait)
            if self.hub.stopping.wait(MIN_GAP_S):  # wake-ups in a burst: one renewal
                return
            self._wake.clear()
            try:
                self.tick()
                if failures:
                    log.info("redis_reconnected", pool=self.hub.pool.pool, after=failures)
                failures = 0
                backoff.reset()
                wait = self.next_wait
                if wait == self.renew_s:
                    wait = mid_second(wait, time.time() + MIN_GAP_S)
            except START_ERRORS as e:
                # One line per attempt for every site of this Redis (their own start-up
                # waits stay silent): unreachable, wrong password, no such database.
                failures += 1
                self._set_redis(False, str(e))
                wait = backoff.next()
                log_attempt(e, self.hub.redis_url, failures, wait)
            except Exception:
                log.exception("lease_keeper_error")
                wait = backoff.next()

    def _set_redis(self, up: bool, error: str) -> None:
        self.hub.redis_up, self.hub.redis_error = up, error
        for d in self.hub.sites().values():
            if d.loaded.is_set():
                d.redis_up, d.redis_error = up, error

    # -- one renewal ------------------------------------------------------------------

    def tick(self) -> None:
        sites = self.hub.sites()
        names = sorted(sites)
        mine = digest(names)
        started = time.monotonic()
        self._ticks += 1
        prune = "1" if self._ticks % PRUNE_EVERY == 1 else "0"
        changed = "" if mine == self._digest_sent else mine
        leader_keys = [sites[n].keys.leader for n in names]
        reply = self._beat(
            [self.hub.pool.members, self.hub.pool.members + ":digests"],
            [self.instance, self.lease_ms, changed, prune, *leader_keys],
        )
        self._digest_sent = mine
        now = int(reply[0])
        alive = {text(m): int(s) for m, s in pairs(reply[1])}
        digests = {text(k): text(v) for k, v in pairs(reply[2])}
        values = [None if v is None else text(v) for v in reply[3:]]
        self._set_redis(True, "")
        self.next_wait = self._next_wait(alive, now)
        peers = tuple(sorted({i for i in alive if digests.get(i) == mine} | {self.instance}))
        self.peers = peers
        holders = {site: value for site, value in zip(names, values, strict=True) if value}
        plan = self._assignment(tuple(names), peers, holders)
        to_take: list[str] = []
        leading = 0
        for site, value in zip(names, values, strict=True):
            d = sites[site]
            token = d.lease.token
            if token is not None and value == token:
                leading += 1
                with bound_contextvars(site=site):
                    d.apply_lease(LeaseState(True, token, self.lease_ms), started, d.is_leader)
                owner = plan.get(site, self.instance)
                if owner != self.instance and owner in alive and not d.stopping.is_set():
                    log.info("site_handed_over", site=site, to=owner, reason="spread")
                    self.hub.hand_over(site)
                continue
            if d.stopping.is_set():
                continue  # its lease is being handed back (or already is)
            if token is not None:
                d.lease.token = None  # taken by another daemon while we were away
            with bound_contextvars(site=site):
                d.apply_lease(LeaseState(False, value or "", self.lease_ms), started, d.is_leader)
            if not d.loaded.is_set():
                continue
            if not self._free(value, alive):
                self._free_since.pop(site, None)
                continue
            owner = plan.get(site, "")
            first = self._free_since.setdefault(site, started)
            waited = started - first >= self.lease_ms / 1000
            if owner == self.instance or owner not in alive or waited:
                to_take.append(site)
        self.leading = leading
        if to_take:
            self._take_sites([sites[s] for s in to_take], started, now)
        self._heartbeats(sites, now)
        self._watch(sites)

    def _next_wait(self, alive: dict[str, int], now: int) -> float:
        """Until the next renewal: the renewal period, or less when another member's
        entry runs out before then (it may have died: its sites are then taken just
        after its entry expires, not up to one renewal period later). A live member's
        entry is always more than a renewal period ahead, so this costs no extra round
        trip while every daemon lives."""
        others = [until for member, until in alive.items() if member != self.instance]
        if not others:
            return self.renew_s
        soonest = (min(others) - now) / 1000 + EXPIRY_MARGIN_S - MIN_GAP_S
        return min(self.renew_s, max(0.0, soonest))

    def _assignment(
        self, names: tuple[str, ...], peers: tuple[str, ...], holders: dict[str, str]
    ) -> dict[str, str]:
        """The spread (``holders``: site → lease value); a site stays with the daemon
        leading it while that one is within the bound (a reload or a join moves only the
        sites that must move)."""
        key = (names, peers)
        if (key, holders) != (self._plan_key, self._holders):
            current, since = {}, {}
            for site, value in holders.items():
                current[site], since[site] = tenure_of(value)
            self._plan, self._holders = assign(names, peers, current, since), holders
        if key != self._plan_key:
            self._plan_key = key
            counts: dict[str, int] = {}
            for owner in self._plan.values():
                counts[owner] = counts.get(owner, 0) + 1
            log.info("sites_spread", daemons=len(peers), sites=len(names),
                     mine=counts.get(self.instance, 0))  # fmt: skip
        return self._plan

    def _free(self, value: str | None, alive: dict[str, int]) -> bool:
        """Worth trying to take (the takeover script decides for sure)."""
        if value is None:
            return True
        instance, pool = holder_of(value)
        if pool is None:
            return False  # a standalone daemon's lease: it expires by itself
        if instance == self.instance:
            return True  # our predecessor under the same name
        if pool != self.hub.pool.pool:
            return True  # another pool's daemon: the script looks at its members
        return instance not in alive

    def _take_sites(self, daemons: list[Daemon], started: float, now: int) -> None:
        keys = [self.hub.pool.members, *(d.keys.leader for d in daemons)]
        tokens = self._take(keys, [self.instance, self.hub.pool.pool])
        for d, token in zip(daemons, tokens, strict=True):
            if token is None:
                continue
            value = text(token)
            d.lease.token = value
            self._free_since.pop(d.settings.site, None)
            if d.stopping.is_set():
                # The site began to stop while the script ran: it may already have
                # released (nothing to release then), so the lease we just took is
                # given back here. Token first, then the flag, on both sides: one of
                # the two releases it (the script deletes only our own token).
                self._release_taken(d)
                continue
            with bound_contextvars(site=d.settings.site):
                d.apply_lease(LeaseState(True, value, self.lease_ms), started, False)
            self._beaten.pop(d.settings.site, None)  # beat at once

    @staticmethod
    def _release_taken(d: Daemon) -> None:
        with bound_contextvars(site=d.settings.site):
            try:
                released = d.lease.release()
            except REDIS_DOWN:
                released = False  # the members entry goes with the daemon: others take it
            log.info("lease_released", reason="site stopping", released=released)

    # -- heartbeats and key checks, a few sites per renewal ---------------------------

    def beat_ms(self, held: int) -> int:
        """How often each led site's heartbeat hash is refreshed."""
        rounds = max(1, math.ceil(held / BEATS_PER_TICK))
        return int(max(3, rounds) * self.renew_s * 1000)

    def _heartbeats(self, sites: dict[str, Daemon], now: int) -> None:
        held = [d for d in sites.values() if d.lease.token is not None]
        if not held:
            return
        every = self.beat_ms(len(held))
        due = sorted(held, key=lambda d: self._beaten.get(d.settings.site, 0.0))
        fresh = [d for d in due if d.settings.site not in self._beaten]
        stale = [d for d in due if d.settings.site in self._beaten][:BEATS_PER_TICK]
        cutoff = time.monotonic() - every / 1000
        batch = fresh + [d for d in stale if self._beaten[d.settings.site] <= cutoff]
        if not batch:
            return
        pipe = self.hub.r.pipeline(transaction=False)
        for d in batch:
            key = d.keys.scheduler(self.instance)
            fields: dict[str, str] = heartbeat_fields(d) | {
                Heartbeat.ROLE: "leader",
                Heartbeat.HEARTBEAT: str(now),
                Heartbeat.BEAT_MS: str(every),
            }
            pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
            pipe.pexpire(key, every * 3)
        pipe.execute()
        stamp = time.monotonic()
        for d in batch:
            self._beaten[d.settings.site] = stamp
        for site in set(self._beaten) - set(sites):
            del self._beaten[site]

    def _watch(self, sites: dict[str, Daemon]) -> None:
        """One site's keys per renewal; every site's when one shows a loss."""
        loaded = [d for _, d in sorted(sites.items()) if d.loaded.is_set()]
        if not loaded:
            return
        self._watch_next %= len(loaded)
        d = loaded[self._watch_next]
        self._watch_next += 1
        try:
            with bound_contextvars(site=d.settings.site):
                lost = d.watch.check()
            if lost:
                for other in loaded:
                    if other is not d:
                        with bound_contextvars(site=other.settings.site):
                            other.watch.check()
        except REDIS_DOWN:
            raise
        except START_ERRORS as e:
            log.debug("state_check_skipped", site=d.settings.site, error=str(e))


def mid_second(wait: float, now: float) -> float:
    """``wait`` moved by up to half a second so that the renewal begins half-way between
    two whole seconds: cron instants fall on whole seconds, and a renewal of a thousand
    sites holds the interpreter for several milliseconds that the fires due then would
    wait for. Not for short leases, where half a second is much of the margin."""
    if wait < MID_SECOND_FROM_S:
        return wait
    return wait + 0.5 - (now + wait) % 1.0
