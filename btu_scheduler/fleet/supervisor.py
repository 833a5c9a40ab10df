"""A daemon serving many sites: one :class:`~btu_scheduler.daemon.Daemon` per site, in
threads, sharing per Redis server a :class:`~btu_scheduler.fleet.hub.Hub`.

What one site cannot do to another: each site has its own engine, fire path (backlog,
retries, HTTP connections), dead letters and metrics series; the hub's shared threads
never wait on a site's endpoint. Signals: SIGTERM/SIGINT stop every site cleanly (fires
in flight finish or are handed back, leases released); SIGHUP re-reads the configuration
(as does ``btu-scheduler reload-config``): sites added start, sites removed stop, sites
whose settings changed restart; the others are not touched.
"""

from __future__ import annotations

import contextvars
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import structlog
from structlog.contextvars import bind_contextvars

from btu_scheduler import __version__, threads
from btu_scheduler.config import Fleet, Settings
from btu_scheduler.daemon import Daemon
from btu_scheduler.errors import ConfigError
from btu_scheduler.fleet.hub import Hub
from btu_scheduler.health import HealthServer, serve
from btu_scheduler.metrics import Families
from btu_scheduler.redisdiag import START_ERRORS
from btu_scheduler.sitecheck import startup_check
from streams.keys import SITES_REGISTRY
from streams.sites import decode_registry

log = structlog.get_logger("btu_scheduler")

DISCOVER_EVERY_S = 30.0
CHECK_AFTER_LOAD_MAX_S = 60.0


def _open_gate() -> threading.Event:
    gate = threading.Event()
    gate.set()
    return gate


@dataclass
class Site:
    settings: Settings
    daemon: Daemon
    thread: threading.Thread
    discovered: bool = False
    gate: threading.Event = field(default_factory=_open_gate)


class Supervisor:
    def __init__(self, fleet: Fleet, reload: Callable[[], Fleet]) -> None:
        self.fleet = fleet
        self._reload = reload
        first = fleet.first()
        self.defaults = first
        self.instance = first.instance
        self.families = Families()
        self.hubs: dict[str, Hub] = {}
        self.sites: dict[str, Site] = {}
        self.discovered: dict[str, Settings] = {}
        self._bad_entries: dict[str, str] = {}  # registry entries set aside, and why
        self._ended: set[str] = set()  # sites whose loop ended while still wanted
        self._lock = threading.RLock()
        self.stopping = threading.Event()
        self._reload_wanted = threading.Event()
        self.server: HealthServer | None = None
        self.families.redis_up.set_function(
            lambda: 1 if self.hubs and all(h.redis_up for h in self.hubs.values()) else 0
        )

    # -- life -------------------------------------------------------------------------

    def run(self) -> int:
        self._install_signals()
        log.info("starting", instance=self.instance, sites=len(self.fleet.sites),
                 discover=self.fleet.discover, version=__version__, pid=os.getpid())  # fmt: skip
        if self.defaults.metrics_listen:
            self.server = serve(
                self.defaults.metrics_listen, self.families.registry, self.healthz, self.readyz
            )
        self._apply(self._wanted())
        next_discovery = time.monotonic()
        while not self.stopping.is_set():
            if self._reload_wanted.is_set():
                self._reload_wanted.clear()
                self.reload_config()
            if self.fleet.discover and time.monotonic() >= next_discovery:
                self._discover()
                next_discovery = time.monotonic() + DISCOVER_EVERY_S
            self.stopping.wait(0.2)
        self._stop_all()
        return 0

    def request_stop(self) -> None:
        self.stopping.set()

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda _s, _f: threads.from_signal(self.stopping.set, "btu-stop"))
        signal.signal(
            signal.SIGHUP, lambda _s, _f: threads.from_signal(self._reload_wanted.set, "btu-hup")
        )

    def _stop_all(self) -> None:
        log.info("stopping", instance=self.instance, sites=len(self.sites))
        with self._lock:
            sites = list(self.sites.values())
        for site in sites:
            site.daemon.request_stop()
        for site in sites:
            site.thread.join(timeout=site.settings.shutdown_timeout_seconds + 15)
        for hub in self.hubs.values():
            hub.stop()
        if self.server is not None:
            self.server.stop()
        log.info("stopped", instance=self.instance)

    # -- sites ------------------------------------------------------------------------

    def _wanted(self) -> dict[str, Settings]:
        wanted = dict(self.discovered)
        wanted.update({s.site: s for s in self.fleet.sites})
        return wanted

    def _apply(self, wanted: dict[str, Settings]) -> None:
        """Start, stop and restart sites so that exactly ``wanted`` run."""
        with self._lock:
            current = dict(self.sites)
            stopping = [s for name, s in current.items() if name not in wanted]
            changed = [s for name, s in current.items()
                       if name in wanted and s.settings != wanted[name]]  # fmt: skip
            for site in stopping + changed:
                self._stop_site(site)
                threads.thread(self._finish, "btu-site-stop", site).start()
            # Build every new site first, then start them: building is quick, and
            # loading sites would otherwise compete with it for the interpreter.
            new = [self._build_site(settings, discovered=name in self.discovered)
                   for name, settings in wanted.items()
                   if name not in self.sites or self.sites[name] in changed]  # fmt: skip
            # Threads that begin work at once slow the next start (each start waits for
            # the interpreter): all start held, then go together.
            gate = threading.Event()
            for site in new:
                site.gate = gate
                site.thread.start()
            gate.set()
        if new:
            threads.thread(self._check_sites, "btu-check", new).start()
        if stopping or changed or len(wanted) != len(current):
            log.info("sites_changed", serving=len(wanted),
                     added=sorted(set(wanted) - set(current))[:20],
                     removed=sorted(s.settings.site for s in stopping)[:20],
                     restarted=sorted(s.settings.site for s in changed)[:20])  # fmt: skip

    def _hub(self, settings: Settings) -> Hub:
        hub = self.hubs.get(settings.redis_url)
        if hub is None:
            hub = Hub(
                settings.redis_url,
                self.instance,
                settings.pool,
                settings.lease_seconds,
                self.families,
                self.hand_over,
                lambda: self._reload_wanted.set(),
            )
            self.hubs[settings.redis_url] = hub
            hub.start()
        return hub

    def _start_site(self, settings: Settings, discovered: bool = False) -> None:
        self._build_site(settings, discovered).thread.start()

    def _build_site(self, settings: Settings, discovered: bool = False) -> Site:
        hub = self._hub(settings)

        def build() -> Daemon:
            bind_contextvars(site=settings.site)  # every thread the site starts logs it
            return Daemon(settings, hub=hub)

        ctx = contextvars.copy_context()
        d = ctx.run(build)

        def run() -> None:
            try:
                site.gate.wait()
                d.run_in_fleet()
            finally:
                with self._lock:  # ended while still wanted: /healthz says so
                    if self.sites.get(settings.site) is site:
                        self._ended.add(settings.site)

        thread = threading.Thread(
            target=ctx.run, args=(run,), name=f"btu-site:{settings.site}", daemon=True
        )
        site = self.sites[settings.site] = Site(settings, d, thread, discovered)
        self._ended.discard(settings.site)
        hub.add(d)
        return site

    def _stop_site(self, site: Site) -> None:
        """Ask one site to stop cleanly (under the lock); :meth:`_finish` waits for it."""
        del self.sites[site.settings.site]
        site.daemon.request_stop()

    @staticmethod
    def _finish(site: Site) -> None:
        """Wait for a stopping site: its lease is released once its fires are handed back;
        then its hub forgets it."""
        site.thread.join(timeout=site.settings.shutdown_timeout_seconds + 15)
        if site.daemon.hub is not None:
            site.daemon.hub.remove(site.daemon)

    def hand_over(self, name: str) -> None:
        """Stop leading ``name`` (the keeper assigned it to another daemon): a clean stop,
        then the site starts again here as a standby."""

        def move() -> None:
            with self._lock:
                site = self.sites.get(name)
                if site is None or self.stopping.is_set():
                    return
                self._stop_site(site)
            self._finish(site)
            with self._lock:
                wanted = self._wanted()
                if not self.stopping.is_set() and name in wanted and name not in self.sites:
                    self._start_site(wanted[name], discovered=name in self.discovered)

        threads.thread(move, "btu-hand-over").start()

    # -- configuration and discovery --------------------------------------------------

    def reload_config(self) -> bool:
        """Re-read the configuration; on an error keep the current one (and say why)."""
        try:
            fleet = self._reload()
        except ConfigError as e:
            log.error("config_reload_failed", error=str(e), action="kept the running config")
            return False
        if fleet.sites and fleet.sites[0].instance != self.instance:
            # The instance name is the process's: a reload cannot rename it.
            fleet = Fleet(
                tuple(_with_instance(s, self.instance) for s in fleet.sites),
                fleet.multi,
                fleet.discover,
                {**fleet.defaults, "instance": self.instance},
            )
        self.fleet = fleet
        log.info("config_reloaded", sites=len(fleet.sites), discover=fleet.discover)
        self._apply(self._wanted())
        return True

    def _discover(self) -> None:
        """Serve the sites the app registered in Redis (``btu:sites``) that the file does
        not list, with the top-level settings (their credentials: a bench token, or
        ``signing_secret``); a site that unregisters stops."""
        hub = self._hub(self.defaults)
        try:
            raw = hub.r.hgetall(SITES_REGISTRY)
        except START_ERRORS as e:
            log.warning("discovery_failed", error=str(e))
            return
        entries, errors = decode_registry(raw)
        for name, reason in sorted(errors.items()):
            if self._bad_entries.get(name) != reason:
                log.warning("discovered_site_skipped", discovered=name[:80], reason=reason)
        self._bad_entries = errors
        found: dict[str, Settings] = {}
        for name, entry in entries.items():
            if self.fleet.get(name) is not None:
                continue  # listed in the file: its table wins
            try:
                settings = self.fleet.settings_for(name, entry.host_header)
                settings.require_firing()
            except ConfigError as e:
                if self._bad_entries.get(name) != str(e):
                    log.warning("discovered_site_skipped", discovered=name, reason=str(e))
                self._bad_entries[name] = str(e)
                continue
            found[name] = _with_instance(settings, self.instance)
        if found != self.discovered:
            log.info("sites_discovered", count=len(found), sites=sorted(found)[:20])
            self.discovered = found
            self._apply(self._wanted())

    def _check_sites(self, sites: list[Site]) -> None:
        """Each new site's URL and credentials, once, one after the other, after they
        have all loaded (the checks must not slow the start-up down)."""
        until = time.monotonic() + CHECK_AFTER_LOAD_MAX_S
        for site in sites:
            while not (site.daemon.loaded.is_set() or site.daemon.stopping.is_set()):
                if self.stopping.wait(0.2):
                    return
                if time.monotonic() > until:
                    break  # a site waiting for its Redis must not hold the others' checks
        for site in sites:
            if self.stopping.is_set():
                return
            bind_contextvars(site=site.settings.site)
            startup_check(site.settings)

    # -- health -----------------------------------------------------------------------

    def healthz(self) -> tuple[bool, str]:
        if self.stopping.is_set():
            return False, "stopping"
        for hub in self.hubs.values():
            ok, why = hub.threads_alive()
            if not ok:
                return False, why
        with self._lock:  # kept up by the site threads: a probe must not walk 1,000 sites
            dead = [n for n in self._ended if n in self.sites]
        if dead:
            return False, f"{len(dead)} site loop(s) stopped: {', '.join(sorted(dead)[:5])}"
        return True, f"ok: {len(self.sites)} sites"

    def readyz(self) -> tuple[bool, str]:
        healthy, why = self.healthz()
        if not healthy:
            return False, why
        for hub in self.hubs.values():
            if not hub.redis_up:
                return False, f"Redis unreachable: {hub.redis_error}"
        with self._lock:
            loading = sum(1 for s in self.sites.values() if not s.daemon.loaded.is_set())
        if loading:
            return False, f"starting: {loading} of {len(self.sites)} sites not loaded yet"
        leading = sum(h.keeper.leading for h in self.hubs.values() if h.keeper)
        return True, f"ready: {len(self.sites)} sites, leading {leading}"


def _with_instance(settings: Settings, instance: str) -> Settings:
    return replace(settings, instance=instance)
