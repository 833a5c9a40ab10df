"""Prometheus metrics of one daemon (``prometheus_client``), in a registry of its own.

A registry per daemon process, not the library's global one: tests build several daemons
in one process, and a daemon's numbers must never mix with another's. The registry also
holds the default process, platform and GC collectors. A daemon serving several sites
shares one registry (:class:`Families`); every series but ``btu_redis_up`` has a ``site``
label.

Counters and histograms move as the fires stream says: every entry the daemon writes to
``btu:{site}:fires`` is one ``btu_fires_total{outcome}`` increment and one
``btu_fire_lag_seconds`` observation (its ``lag_ms``). Gauges are read at scrape time
from the daemon (:meth:`Metrics.bind`).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.metrics import MetricWrapperBase

from streams.keys import Outcome
from streams.messages import FireRecord

# Seconds. Fires are normally a few milliseconds late; retries and catch-up take longer.
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)
PROPAGATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60)
SENT_OUTCOMES = frozenset({Outcome.ENQUEUED, Outcome.DUPLICATE})


class Families:
    """The metric families, registered once in one registry (with the process, platform
    and GC collectors). A daemon serving several sites shares one: each site takes its
    labelled children (:class:`Metrics`)."""

    def __init__(self) -> None:
        self.registry = reg = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=reg)
        PlatformCollector(registry=reg)
        GCCollector(registry=reg)
        self.fires = Counter(
            "btu_fires_total",
            "Fire outcomes recorded in the fires stream, by outcome.",
            ["site", "outcome"],
            registry=reg,
        )
        self.lag = Histogram(
            "btu_fire_lag_seconds",
            "sent - due of each fires-stream entry, in seconds.",
            ["site"],
            buckets=LAG_BUCKETS,
            registry=reg,
        )
        self.dead = Counter(
            "btu_dead_letters_total",
            "Entries set aside in the dead-letter stream.",
            ["site"],
            registry=reg,
        )
        self.changes = Counter(
            "btu_changes_applied_total",
            "Schedule changes applied from the schedules stream.",
            ["site"],
            registry=reg,
        )
        self.propagation = Histogram(
            "btu_propagation_seconds",
            "From a change's ts (written by the app) to its application here, in seconds.",
            ["site"],
            buckets=PROPAGATION_BUCKETS,
            registry=reg,
        )
        self.last_fire = Gauge(
            "btu_last_fire_timestamp_seconds",
            "Unix time of the last fire the site accepted (enqueued or duplicate).",
            ["site"],
            registry=reg,
        )
        self.gauges: dict[str, Gauge] = {
            name: Gauge(name, doc, ["site"], registry=reg)
            for name, doc in (
                ("btu_armed_items", "Items armed in this instance's heap."),
                ("btu_leader", "1 on the leader, 0 on a standby."),
                ("btu_retrying_fires", "Fires waiting for their next retry."),
                ("btu_backlog", "Claimed fires not finished yet (sending or retrying)."),
            )
        }
        self.redis_up = Gauge(
            "btu_redis_up", "1 when the last Redis round trip succeeded, else 0.", registry=reg
        )


class Metrics:
    """One site's instruments; thread-safe (prometheus_client's are). Without
    ``families`` the site gets a registry of its own (one daemon, one site)."""

    def __init__(self, site: str, families: Families | None = None) -> None:
        self.site = site
        self.families = fam = families or Families()
        self.shared = families is not None
        self.registry = fam.registry
        self._fires = {outcome: fam.fires.labels(site, outcome) for outcome in sorted(Outcome.ALL)}
        self._lag = fam.lag.labels(site)
        self._dead = fam.dead.labels(site)
        self._changes = fam.changes.labels(site)
        self._propagation = fam.propagation.labels(site)
        self._last_fire = fam.last_fire.labels(site)
        self._gauges = {name: gauge.labels(site) for name, gauge in fam.gauges.items()}
        self._redis_up = fam.redis_up

    def bind(
        self,
        *,
        armed: Callable[[], float],
        leader: Callable[[], float],
        retrying: Callable[[], float],
        backlog: Callable[[], float],
        redis_up: Callable[[], float],
    ) -> None:
        """Read the gauges from the daemon at scrape time."""
        self._gauges["btu_armed_items"].set_function(armed)
        self._gauges["btu_leader"].set_function(leader)
        self._gauges["btu_retrying_fires"].set_function(retrying)
        self._gauges["btu_backlog"].set_function(backlog)
        if not self.shared:  # a process-wide gauge: the fleet binds it once
            self._redis_up.set_function(redis_up)

    def forget(self) -> None:
        """Remove this site's series (a site no longer served by a shared registry)."""
        fam = self.families
        for outcome in Outcome.ALL:
            _remove(fam.fires, self.site, outcome)
        for family in (fam.lag, fam.dead, fam.changes, fam.propagation, fam.last_fire,
                       *fam.gauges.values()):  # fmt: skip
            _remove(family, self.site)

    # -- observations (from Stats) ----------------------------------------------------

    def fire_outcome(self, record: FireRecord) -> None:
        counter = self._fires.get(record.outcome)
        if counter is not None:
            counter.inc()
        self._lag.observe(max(0, record.lag_ms) / 1000)
        if record.outcome in SENT_OUTCOMES:
            self._last_fire.set(record.sent / 1000)

    def applied(self, propagation_ms: int | None) -> None:
        self._changes.inc()
        if propagation_ms is not None:
            self._propagation.observe(max(0, propagation_ms) / 1000)

    def dead(self) -> None:
        self._dead.inc()


def _remove(family: MetricWrapperBase, *labels: str) -> None:
    try:
        family.remove(*labels)
    except KeyError:
        pass
