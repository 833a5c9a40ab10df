"""Multi-site daemons end to end (issue 11): real ``btu-scheduler run --config FILE``
processes against a real Redis, one stand-in endpoint per site.

Every test uses its own sites and its own pool (so its ``btu:@pool:{pool}:*`` keys are
its own) and removes their keys afterwards. The stand-ins record every fire request they
get (``sent``) and accept each fire_id once (``accepted``), like the app does.
Measured numbers are printed (``pytest -s``) and asserted against generous bounds only.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import socket
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from btu_scheduler.demo.standin import StandInConfig, StandInEndpoint
from streams.keys import Keys, PoolKeys
from streams.messages import FireRecord, ScheduleUpsert, job_id_for
from streams.publish import publish_upsert
from streams.redisio import xrevrange
from tests.harness import API_KEY, API_SECRET, DaemonProc, now_ms, wait_for

LEASE_S = 1.5
RENEW_S = LEASE_S / 2.5
EVERY_SECOND = "* * * * * *"


@dataclass
class Sent:
    site: str
    fire_id: str
    item: str
    due: int
    at: float  # time.time() when the stand-in got it
    new: bool  # accepted (first time this fire_id was seen)


class Hang:
    """A TCP server that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.conns: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(conn)

    def close(self) -> None:
        self._stop.set()
        for conn in self.conns:
            conn.close()
        self.sock.close()


class Fleet:
    """Sites with their stand-ins, a config file, and daemon processes."""

    def __init__(self, redis_url: str, tmp_path: Path, n_sites: int) -> None:
        self.redis_url = redis_url
        self.tmp_path = tmp_path
        self.r = redis.Redis.from_url(redis_url)
        tag = uuid.uuid4().hex[:8]
        self.pool = f"t{tag}"
        self.sites: list[str] = []
        self.endpoints: dict[str, StandInEndpoint] = {}
        self.urls: dict[str, str] = {}
        self.table_extra: dict[str, str] = {}
        self.hangs: list[Hang] = []
        self.sent: list[Sent] = []
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self.procs: list[DaemonProc] = []
        self.config = tmp_path / "fleet.toml"
        self.top = {"request_timeout_seconds": "2"}
        self._tag = tag
        for _ in range(n_sites):
            self.add_site()

    # -- sites and their endpoints ------------------------------------------------------

    def add_site(self, hang: bool = False) -> str:
        site = f"test-{self._tag}-{len(self.sites):02d}.local"
        self.sites.append(site)
        if hang:
            h = Hang()
            self.hangs.append(h)
            self.urls[site] = h.url
            return site

        def fault(request: dict[str, Any], site: str = site) -> tuple[int, dict[str, Any]]:
            fire = str(request["fire_id"])
            with self._lock:
                new = (site, fire) not in self._seen
                self._seen.add((site, fire))
                self.sent.append(
                    Sent(site, fire, str(request["id"]), int(request["due"]), time.time(), new)
                )
            return 200, {"message": {"job_id": job_id_for(fire), "duplicate": not new}}

        cfg = StandInConfig(self.redis_url, site, API_KEY, API_SECRET, {}, fault=fault)
        endpoint = StandInEndpoint(cfg).start()
        self.endpoints[site] = endpoint
        self.urls[site] = endpoint.url
        return site

    def write_config(self, sites: list[str] | None = None, broken: bool = False) -> None:
        lines = [
            f'redis_url = "{self.redis_url}"',
            f'pool = "{self.pool}"',
            f'api_key = "{API_KEY}"',
            f'api_secret = "{API_SECRET}"',
            f"lease_seconds = {LEASE_S}",
            "retry_initial_seconds = 0.05",
            "retry_max_seconds = 0.2",
            "reconnect_max_seconds = 0.5",
            "shutdown_timeout_seconds = 3",
            'log_format = "json"',
            *(f"{k} = {v}" for k, v in self.top.items()),
        ]
        for site in self.sites if sites is None else sites:
            lines += ["", f'[sites."{site}"]', f'frappe_url = "{self.urls[site]}"']
            if site in self.table_extra:
                lines.append(self.table_extra[site])
        if broken:
            lines.append("this is = = not toml")
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def items(self, site: str, n: int = 2, cron: str = EVERY_SECOND) -> None:
        keys = Keys(site)
        for i in range(n):
            spec = ScheduleUpsert(id=f"TS-{i}", kind="cron", task="Say Hello", cron=cron,
                                  tz="UTC", enabled=True, ts=now_ms())  # fmt: skip
            publish_upsert(self.r, keys, spec)

    # -- daemons ------------------------------------------------------------------------

    def env(self, instance: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BTU_")}
        return env | {"BTU_INSTANCE": instance} | extra

    def start(self, instance: str) -> DaemonProc:
        proc = DaemonProc(self.env(instance), self.tmp_path / f"{instance}.log",
                          ("run", "--config", str(self.config)))  # fmt: skip
        self.procs.append(proc)
        return proc

    def start_standalone(self, instance: str, site: str) -> DaemonProc:
        env = self.env(
            instance,
            BTU_SITE=site,
            BTU_REDIS_URL=self.redis_url,
            BTU_FRAPPE_URL=self.urls[site],
            BTU_API_KEY=API_KEY,
            BTU_API_SECRET=API_SECRET,
            BTU_LEASE_SECONDS=str(LEASE_S),
            BTU_RETRY_INITIAL_SECONDS="0.05",
            BTU_RETRY_MAX_SECONDS="0.2",
            BTU_REQUEST_TIMEOUT_SECONDS="1",
            BTU_RECONNECT_MAX_SECONDS="0.5",
            BTU_LOG_FORMAT="json",
        )
        proc = DaemonProc(env, self.tmp_path / f"{instance}.log")
        self.procs.append(proc)
        return proc

    def reload_via_stream(self) -> None:
        self.r.xadd(PoolKeys(self.pool).control, {"cmd": "reload-config"})

    # -- observing ----------------------------------------------------------------------

    def lease(self, site: str) -> dict[str, Any] | None:
        raw = self.r.get(Keys(site).leader)
        if raw is None:
            return None
        data: dict[str, Any] = orjson.loads(raw)
        return data

    def leaders(self, sites: list[str] | None = None) -> dict[str, str | None]:
        out = {}
        for site in self.sites if sites is None else sites:
            value = self.lease(site)
            out[site] = None if value is None else str(value["instance"])
        return out

    def spread(self, sites: list[str] | None = None) -> Counter[str | None]:
        return Counter(self.leaders(sites).values())

    def sent_copy(self) -> list[Sent]:
        with self._lock:
            return list(self.sent)

    def fires(self, site: str) -> list[FireRecord]:
        entries = xrevrange(self.r, Keys(site).fires, 100_000)
        return [FireRecord.decode(fields) for _eid, fields in reversed(entries)]

    def wait_firing(self, sites: list[str], since: float, timeout: float = 12.0) -> None:
        """Every site has had a fire accepted after ``since``."""

        def ok() -> bool:
            got = {s.site for s in self.sent_copy() if s.at > since and s.new}
            return set(sites) <= got

        try:
            wait_for(ok, timeout, 0.05)
        except AssertionError:
            got = {s.site for s in self.sent_copy() if s.at > since}
            raise AssertionError(
                f"sites not firing: {sorted(set(sites) - got)}; leaders {self.leaders(sites)}\n"
                + self.tail()
            ) from None

    def wait_stable(self, daemons: int, timeout: float = 15.0, hold: float = 2.0) -> None:
        """Every site led by a live daemon, the spread within the bound, no change for
        ``hold`` seconds."""
        bound = math.ceil(len(self.sites) / daemons) + 1
        deadline = time.monotonic() + timeout
        last: dict[str, str | None] = {}
        since = time.monotonic()
        while time.monotonic() < deadline:
            now = self.leaders()
            good = None not in now.values() and max(Counter(now.values()).values()) <= bound
            if now != last or not good:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= hold:
                return
            time.sleep(0.05)
        raise AssertionError(f"never stable: {Counter(last.values())}\n{self.tail()}")

    def tail(self, n: int = 40) -> str:
        out = []
        for p in self.procs:
            lines = p.log().splitlines()[-n:]
            out.append(f"--- {p.instance} (alive={p.alive})\n" + "\n".join(lines))
        return "\n".join(out)

    def assert_no_fire_twice(self, resend_ok: bool = False) -> None:
        """No fire_id enqueued twice: in the fires streams, nor at the stand-ins (unless
        ``resend_ok``, a request is not even sent twice but for a timed-out attempt's
        retry)."""
        for site in self.endpoints:
            enqueued = Counter(f.fire_id for f in self.fires(site) if f.outcome == "enqueued")
            twice = [fid for fid, n in enqueued.items() if n > 1]
            assert not twice, f"{site}: enqueued twice in fires: {twice[:5]}"
        accepted = Counter((s.site, s.fire_id) for s in self.sent_copy() if s.new)
        assert max(accepted.values(), default=0) <= 1
        if not resend_ok:
            # A request that timed out is retried (the app de-duplicates): that is the
            # fire path's contract, not a second fire. Anything else sent twice is.
            sent = Counter((s.site, s.fire_id) for s in self.sent_copy())
            retried = {(site, f.fire_id) for site in self.endpoints for f in self.fires(site)
                       if f.outcome == "retrying"}  # fmt: skip
            twice2 = [k for k, n in sent.items() if n > 1 and k not in retried]
            assert not twice2, f"sent twice: {twice2[:5]}"

    def close(self) -> None:
        for p in self.procs:
            p.close()
        for endpoint in self.endpoints.values():
            endpoint.stop()
        for h in self.hangs:
            h.close()
        patterns = [f"btu:{s}:*" for s in self.sites] + [f"btu:@pool:{self.pool}:*"]
        for pattern in patterns:
            batch = list(self.r.scan_iter(match=pattern, count=1000))
            if batch:
                self.r.delete(*batch)
        self.r.close()


@pytest.fixture
def make_fleet(redis_url: str | None, tmp_path: Path) -> Iterator[Any]:
    if redis_url is None:
        pytest.skip("end-to-end tests need a real Redis: BTU_TEST_REDIS_URL or redis-server")
    made: list[Fleet] = []

    def make(n_sites: int) -> Fleet:
        f = Fleet(redis_url, tmp_path, n_sites)
        made.append(f)
        return f

    try:
        yield make
    finally:
        for f in made:
            f.close()


def instants(sent: list[Sent], site: str, since: float, until: float) -> dict[str, list[int]]:
    """Per item, the dues accepted for ``site`` with due in [since, until) (seconds)."""
    out: dict[str, list[int]] = {}
    for s in sent:
        if s.site == site and s.new and since * 1000 <= s.due < until * 1000:
            out.setdefault(s.item, []).append(s.due)
    return {k: sorted(v) for k, v in out.items()}


# -- (a) two daemons, a dozen sites -----------------------------------------------------


def test_two_daemons_fire_every_site_once_per_instant_and_spread(make_fleet: Any) -> None:
    fleet = make_fleet(10)
    fleet.write_config()
    for site in fleet.sites:
        fleet.items(site)
    d1, d2 = fleet.start("fa-1"), fleet.start("fa-2")
    fleet.wait_stable(daemons=2)
    spread = fleet.spread()
    assert set(spread) == {d1.instance, d2.instance}, spread
    # a stable window: every site's every item fires at every second, once
    start = math.ceil(time.time()) + 1
    time.sleep(start + 4 - time.time() + 0.6)
    sent = fleet.sent_copy()
    for site in fleet.sites:
        got = instants(sent, site, start, start + 4)
        expected = [(start + k) * 1000 for k in range(4)]
        assert {"TS-0": expected, "TS-1": expected} == got, (site, got)
    assert max(fleet.spread().values()) <= math.ceil(10 / 2) + 1
    fleet.assert_no_fire_twice()
    print(f"\n(a) spread once stable: {dict(fleet.spread())}")


# -- (b) kill -9 -------------------------------------------------------------------------


def test_kill_9_sites_taken_over_within_lease(make_fleet: Any) -> None:
    fleet = make_fleet(8)
    fleet.write_config()
    for site in fleet.sites:
        fleet.items(site)
    d1, d2 = fleet.start("fb-1"), fleet.start("fb-2")
    fleet.wait_stable(daemons=2, hold=1.0)
    victims = [s for s, who in fleet.leaders().items() if who == d1.instance]
    assert victims
    killed = time.time()
    d1.kill()
    taken: dict[str, float] = {}
    fired: dict[str, float] = {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (len(taken) < len(victims) or len(fired) < len(victims)):
        for site, who in fleet.leaders(victims).items():
            if who == d2.instance and site not in taken:
                taken[site] = time.time() - killed
        for s in fleet.sent_copy():
            if s.site in victims and s.at > killed and s.site not in fired:
                fired[s.site] = s.at - killed
        time.sleep(0.02)
    assert set(taken) == set(victims), f"not taken: {set(victims) - set(taken)}\n{fleet.tail()}"
    assert set(fired) == set(victims), f"not fired: {set(victims) - set(fired)}"
    worst = max(fired.values())
    print(
        f"\n(b) kill -9 of a daemon leading {len(victims)} sites: taken over after "
        f"{min(taken.values()):.2f}-{max(taken.values()):.2f} s, firing again after "
        f"{min(fired.values()):.2f}-{worst:.2f} s (lease {LEASE_S} s, renewal {RENEW_S} s)"
    )
    assert worst <= LEASE_S + 1 + RENEW_S + 1.0  # generous: lease + 1 s + one renewal + 1 s
    time.sleep(1.5)
    fleet.assert_no_fire_twice(resend_ok=True)
    resent = Counter((s.site, s.fire_id) for s in fleet.sent_copy())
    print(f"(b) fire requests sent twice (answered duplicate by the app): "
          f"{sum(1 for n in resent.values() if n > 1)}")  # fmt: skip


# -- (c) reload: SIGHUP, control stream, broken file ------------------------------------


def test_reload_adds_sites_without_touching_the_others(make_fleet: Any) -> None:
    fleet = make_fleet(6)
    served = list(fleet.sites)
    fleet.write_config(served)
    for site in fleet.sites:
        fleet.items(site)
    d1, d2 = fleet.start("fc-1"), fleet.start("fc-2")
    fleet.wait_stable(daemons=2, hold=1.0)
    before = {s: fleet.lease(s) for s in served}

    # SIGHUP after adding a table
    added = fleet.add_site()
    fleet.items(added)
    fleet.write_config()
    mark = time.time()
    for d in (d1, d2):
        d.signal(signal.SIGHUP)
    fleet.wait_firing([added], mark, timeout=8)
    time.sleep(2 * LEASE_S)  # any spread move would have happened by now
    after = {s: fleet.lease(s) for s in served}
    assert before == after, f"a reload moved other sites' leases:\n{before}\n{after}"

    # the pool's control stream
    added2 = fleet.add_site()
    fleet.items(added2)
    fleet.write_config()
    before = {s: fleet.lease(s) for s in fleet.sites if s != added2}
    mark = time.time()
    fleet.reload_via_stream()
    fleet.wait_firing([added2], mark, timeout=8)
    time.sleep(2 * LEASE_S)
    after = {s: fleet.lease(s) for s in before}
    assert before == after, f"a reload moved other sites' leases:\n{before}\n{after}"

    # a broken file: the old configuration keeps running
    fleet.write_config(broken=True)
    for d in (d1, d2):
        d.signal(signal.SIGHUP)
    wait_for(lambda: all("config_reload_failed" in d.log() for d in (d1, d2)), 5)
    mark = time.time()
    fleet.wait_firing(fleet.sites, mark, timeout=5)
    assert d1.alive and d2.alive
    fleet.assert_no_fire_twice()


# -- (d) one site's endpoint hangs -------------------------------------------------------


def test_hanging_endpoint_adds_no_lag_elsewhere(make_fleet: Any) -> None:
    fleet = make_fleet(5)
    hung = fleet.add_site(hang=True)
    fleet.top["request_timeout_seconds"] = "4"
    fleet.write_config()
    for site in fleet.sites:
        fleet.items(site, n=3)
    fleet.start("fd-1")
    healthy = [s for s in fleet.sites if s != hung]
    wait_for(lambda: None not in fleet.leaders().values(), 10)
    mark = time.time()
    fleet.wait_firing(healthy, mark)
    time.sleep(6)  # the hanging site's fires time out and retry meanwhile
    # lag as the daemon measured it (fires streams), for the instants after the start
    lags = [f.lag_ms for s in healthy for f in fleet.fires(s)
            if f.outcome == "enqueued" and f.due > mark * 1000]  # fmt: skip
    hung_fires = fleet.fires(hung)
    assert len(lags) >= len(healthy) * 3 * 4
    lags.sort()
    p50, p99, worst = (lags[len(lags) // 2], lags[int(len(lags) * 0.99)], lags[-1])
    print(f"\n(d) {len(healthy)} healthy sites while one endpoint hangs (request timeout 4 s): "
          f"{len(lags)} fires, lag p50 {p50} ms, p99 {p99} ms, max {worst} ms; "
          f"hung site: {Counter(f.outcome for f in hung_fires)}")  # fmt: skip
    assert worst < 1000, "a healthy site waited on the hanging one"
    assert statistics.median(lags) < 200
    fleet.assert_no_fire_twice()


# -- (e) a site removed ------------------------------------------------------------------


def test_removed_site_stops_and_releases_its_lease(make_fleet: Any) -> None:
    fleet = make_fleet(4)
    fleet.write_config()
    for site in fleet.sites:
        fleet.items(site)
    d1, d2 = fleet.start("fe-1"), fleet.start("fe-2")
    fleet.wait_stable(daemons=2, hold=1.0)
    gone = fleet.sites[0]
    kept = fleet.sites[1:]
    fleet.write_config(kept)
    for d in (d1, d2):
        d.signal(signal.SIGHUP)
    wait_for(lambda: fleet.lease(gone) is None, 8)
    released = time.time()
    time.sleep(2 * LEASE_S)
    assert fleet.lease(gone) is None, "a daemon took the removed site again"
    late = [s for s in fleet.sent_copy() if s.site == gone and s.at > released + 0.5]
    assert not late, f"the removed site still fires: {late[:3]}"
    fleet.wait_firing(kept, released, timeout=4)
    fleet.assert_no_fire_twice()


# -- (f) a clean stop of one daemon ------------------------------------------------------


def test_sigterm_moves_sites_without_a_fire_sent_twice(make_fleet: Any) -> None:
    fleet = make_fleet(6)
    fleet.write_config()
    for site in fleet.sites:
        fleet.items(site, n=3)
    d1, d2 = fleet.start("ff-1"), fleet.start("ff-2")
    fleet.wait_stable(daemons=2, hold=1.0)
    moving = [s for s, who in fleet.leaders().items() if who == d1.instance]
    assert moving
    stopped = time.time()
    assert 0 == d1.term()
    exited = time.time() - stopped
    wait_for(lambda: set(fleet.leaders(moving).values()) == {d2.instance}, 8)
    taken = time.time() - stopped
    fleet.wait_firing(moving, time.time(), timeout=5)
    print(f"\n(f) SIGTERM of a daemon leading {len(moving)} sites: exited in {exited:.2f} s, "
          f"all taken by the other {taken:.2f} s after the signal")  # fmt: skip
    start = math.ceil(stopped)
    time.sleep(max(0.0, start + 3.6 - time.time()))
    fleet.assert_no_fire_twice()
    # every instant of the moving sites from the signal on fired (late or not)
    end = math.floor(time.time()) - 1
    sent = fleet.sent_copy()
    for site in moving:
        got = instants(sent, site, start, end)
        expected = [t * 1000 for t in range(start, end)]
        assert len(expected) >= 2
        assert {f"TS-{i}": expected for i in range(3)} == got, (site, got, expected)


# -- (g) a standalone daemon and a fleet daemon ------------------------------------------


def test_standalone_and_fleet_never_lead_the_same_site(make_fleet: Any) -> None:
    fleet = make_fleet(3)
    shared = fleet.sites[0]
    fleet.write_config()
    for site in fleet.sites:
        fleet.items(site)
    solo = fleet.start_standalone("fg-solo", shared)
    wait_for(lambda: (fleet.lease(shared) or {}).get("instance") == solo.instance, 10)
    member = fleet.start("fg-fleet")
    fleet.wait_firing(fleet.sites[1:], time.time(), timeout=10)
    time.sleep(2 * LEASE_S)
    assert solo.instance == (fleet.lease(shared) or {}).get("instance")
    # the standalone dies: the fleet daemon takes the site once its TTL ran out
    solo.kill()
    wait_for(lambda: (fleet.lease(shared) or {}).get("instance") == member.instance, 8)
    # a standalone started again stays a standby while the fleet daemon lives
    solo2 = fleet.start_standalone("fg-solo-2", shared)
    time.sleep(3 * LEASE_S)
    assert solo2.alive
    assert member.instance == (fleet.lease(shared) or {}).get("instance")
    # per instant, one instance fired the shared site
    by_due: dict[int, set[str]] = {}
    for f in fleet.fires(shared):
        by_due.setdefault(f.due, set()).add(f.instance)
    both = {due: who for due, who in by_due.items() if len(who) > 1}
    assert not both, f"two instances fired the same instant: {both}"
    fleet.assert_no_fire_twice(resend_ok=True)


# -- (h) a daemon joins ------------------------------------------------------------------


def test_joining_daemon_takes_its_share_without_a_gap_or_a_fire_twice(make_fleet: Any) -> None:
    fleet = make_fleet(8)
    fleet.write_config()
    for site in fleet.sites:
        fleet.items(site)
    d1 = fleet.start("fh-1")
    fleet.wait_stable(daemons=1, hold=0.5)
    joined = time.time()
    d2 = fleet.start("fh-2")
    # the longest time each site went without a leader, polled every 20 ms
    gap: dict[str, float] = dict.fromkeys(fleet.sites, 0.0)
    free_since: dict[str, float] = {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        leaders = fleet.leaders()
        now = time.monotonic()
        for site, who in leaders.items():
            if who is None:
                free_since.setdefault(site, now)
                gap[site] = max(gap[site], now - free_since[site])
            else:
                free_since.pop(site, None)
        spread = Counter(leaders.values())
        if None not in spread and spread[d2.instance] == 4 and spread[d1.instance] == 4:
            break
        time.sleep(0.02)
    assert {d1.instance: 4, d2.instance: 4} == dict(fleet.spread()), fleet.tail()
    moved_at = time.time() - joined
    start = math.ceil(joined)
    time.sleep(max(0.0, start + 1 + moved_at + 1.6 - time.time()))
    end = math.floor(time.time()) - 1
    sent = fleet.sent_copy()
    for site in fleet.sites:
        expected = [t * 1000 for t in range(start, end)]
        assert {"TS-0": expected, "TS-1": expected} == instants(sent, site, start, end), site
    fleet.assert_no_fire_twice()
    print(
        f"\n(h) join: 4 of 8 sites moved within {moved_at:.2f} s of the start of the 2nd "
        f"daemon; longest leaderless gap {max(gap.values()):.2f} s (lease {LEASE_S} s)"
    )
    assert max(gap.values()) <= LEASE_S


# -- the lease changed by a reload -------------------------------------------------------


def test_reload_with_a_shorter_lease_keeps_firing_on_time(make_fleet: Any) -> None:
    """A reload that shortens lease_seconds restarts the sites, but the pool keeps its
    renewal period: a site must stay leader between two renewals (with the new, shorter
    lease it lapsed between them and fired up to a renewal late)."""
    fleet = make_fleet(2)
    fleet.write_config()
    long = fleet.config.read_text().replace(f"lease_seconds = {LEASE_S}", "lease_seconds = 3")
    fleet.config.write_text(long)
    for site in fleet.sites:
        fleet.items(site)
    d = fleet.start("fl-1")
    wait_for(lambda: None not in fleet.leaders().values(), 10)
    fleet.config.write_text(long.replace("lease_seconds = 3", "lease_seconds = 0.4"))
    d.signal(signal.SIGHUP)
    wait_for(lambda: "config_reloaded" in d.log(), 5)
    mark = time.time() + 1
    time.sleep(5)
    lags = {site: max(f.lag_ms for f in fleet.fires(site) if f.due > mark * 1000)
            for site in fleet.sites}  # fmt: skip
    print(f"\nlease 3 s reloaded as 0.4 s: worst lag per site {lags}")
    assert max(lags.values()) < 400, lags


# -- kill -9 and a restart under the same instance name ----------------------------------


def test_restart_under_the_same_name_takes_its_sites_back_at_once(make_fleet: Any) -> None:
    """A daemon restarted under its name (a fixed ``instance``) takes the leases of its
    predecessor at once (another epoch), recovers its claims, and no fire is enqueued
    twice."""
    fleet = make_fleet(4)
    fleet.write_config()
    for site in fleet.sites:
        fleet.items(site, n=3)
    first = fleet.start("fr-1")
    fleet.wait_stable(daemons=1, hold=0.5)
    old = {s: fleet.lease(s) for s in fleet.sites}
    first.kill()
    restarted = time.time()
    fleet.start("fr-1")
    wait_for(lambda: all((fleet.lease(s) or {}) != old[s] for s in fleet.sites), 10)
    taken = time.time() - restarted
    fleet.wait_firing(fleet.sites, time.time(), timeout=5)
    assert {"fr-1"} == set(fleet.leaders().values())
    time.sleep(1.2)
    fleet.assert_no_fire_twice(resend_ok=True)
    print(f"\n(restart) same name: every lease retaken {taken:.2f} s after the restart began")
    assert taken < LEASE_S + 4  # process start-up included; its old lease is not waited for


def test_a_fleet_started_before_redis_waits_quietly_then_fires(tmp_path: Path) -> None:
    """Nothing listens on the Redis port at start-up: the multi-site daemon stays up and
    says so once per attempt for the server (not once per site and attempt); once a
    redis-server starts there, every site is led and fires."""
    from btu_scheduler.demo.embedded import free_port
    from tests.redis_server import RedisServer

    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server on PATH to start one late")
    server = RedisServer(port=free_port())
    fleet = Fleet(server.url, tmp_path, 4)
    try:
        fleet.write_config()
        proc = fleet.start("early")

        def unreachable() -> list[dict[str, Any]]:
            return [e for e in proc.events() if e.get("event") == "redis_unavailable"]

        wait_for(lambda: len(unreachable()) >= 4 or not proc.alive, 15)
        assert proc.alive, proc.log()[-2000:]
        attempts = [e["attempt"] for e in unreachable() if "attempt" in e]
        assert attempts[:3] == [1, 2, 3]
        # The reader adds one line when it first fails; the sites' own waits add none.
        assert len(unreachable()) <= len(attempts) + 1
        server.start()
        since = time.time()
        for site in fleet.sites:
            fleet.items(site, 1)
        fleet.wait_firing(fleet.sites, since, timeout=20)
        assert "Traceback" not in proc.log()
    finally:
        fleet.close()
        server.cleanup()


def test_signals_in_a_burst_still_stop_the_daemon(make_fleet: Any) -> None:
    """SIGHUP, SIGTERM and SIGTERM again, back to back: the handlers hand their work to a
    thread, so a second signal arriving while the first is handled cannot deadlock the
    main thread (it did: the daemon never exited)."""
    fleet = make_fleet(3)
    fleet.write_config()
    proc = fleet.start("burst")
    wait_for(lambda: all(v == "burst" for v in fleet.leaders().values()), 15)
    for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGTERM, signal.SIGINT):
        proc.signal(sig)
    assert 0 == proc.proc.wait(timeout=20)
    leaders = fleet.leaders()
    if not all(v is None for v in leaders.values()):
        print(proc.log())
    assert all(v is None for v in leaders.values()), leaders
