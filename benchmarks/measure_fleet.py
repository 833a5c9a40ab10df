"""Section "fleet": 1,000 sites x 20 items served by one multi-site daemon, then by two.

Every site is a ``[sites."…"]`` table of ONE config file (top-level defaults: the private
Redis, the stub endpoint, the API key); the daemons differ only by ``BTU_INSTANCE`` and
``BTU_METRICS_LISTEN``, and share the pool ``bench-fleet-<pid>``. The state hash of
every site is filled directly (20 cron items from :func:`quiet_schedules`, none due for
two hours, one matching entry in the schedules stream), as in the start-up section.

Measured, for one daemon and then for two:

- **start-up**: spawn → ``/readyz`` answers 200 "ready: N sites, …" (every site loaded),
  and → every site led (one daemon) / the leaders spread (two daemons: the sum of both
  ``leading`` counts is N, neither leads more than ⌈N/2⌉ + 1); VmRSS and VmHWM.
- **idle**: ``INFO stats`` ``total_commands_processed`` over the window minus the
  driver's own INFO calls, and per command (``INFO commandstats``); the daemon's CPU
  over the same window (utime + stime of ``/proc/<pid>/stat``).
- **fire lag**: then a few sites ("busy") get 2 items due every 3 s
  (``{k}/3 * * * * *``), published through their schedules streams; one of them points
  at a TCP listener that accepts and never answers (``frappe_url`` in its table). Over
  the window, for the other busy sites: ``sent - due`` from ``btu:{site}:fires`` and the
  stub's receive time - due; the daemons' CPU over their idle rate, per fire.
- **failover** (two daemons): ``kill -9`` of the second daemon; the time until every
  site it led names the survivor in its leader key (polled every 50 ms), and until each
  of its healthy busy sites has a fire sent by the survivor (``sent`` - kill); every
  ``fire_id`` the stub received more than once in the two-daemon phase.

Baseline: one site x 20 items (2 of them busy, no hanging site) on one daemon, same
config form, same measurements. Sizes: 1,000 sites with 50 busy (``--quick``: 200 and
20), 30 s idle windows (quick: 10 s), 12 s lag windows (quick: 6 s). Also: MEMORY USAGE
of one quiet site's keys while it is led, and per fire. About 4 minutes (quick: 1.5).
"""

from __future__ import annotations

import math
import os
import socket
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import redis

from benchmarks.common import (
    API_KEY,
    API_SECRET,
    DAEMON_LOG_LEVEL,
    ZONES,
    Bench,
    Row,
    cron_item,
    fmt_ms,
    now_ms,
    pct,
    proc_status,
    quiet_schedules,
    ratio,
    read_fires,
    wait_until,
)
from streams.keys import Keys, Leader
from streams.publish import publish_events

SITES = 1_000
QUICK_SITES = 200
ITEMS = 20
BUSY = 50  # sites that get 2 items due every 3 s for the lag and failover measurements
QUICK_BUSY = 20
BUSY_PERIOD_S = 3
LAG_WINDOW_S = 12
QUICK_LAG_WINDOW_S = 6
IDLE_WINDOW_S = 30
QUICK_IDLE_WINDOW_S = 10
SETTLE_S = 3.0
LEASE_S = 5.0  # the default lease_seconds
TARGET_LOAD_S = 5.0
TARGET_IDLE_PER_S = 20.0
TARGET_LAG_P99_MS = 20.0
TICKS = os.sysconf("SC_CLK_TCK")


def site_name(i: int) -> str:
    return f"fleet-{i:04d}.bench"


# -- the pieces the section starts ------------------------------------------------------


class HangingEndpoint:
    """A TCP listener that accepts every connection and never answers (a hung site)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True, name="hang")
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.sock.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(
    path: Path, bench: Bench, names: list[str], pool: str, hang: dict[str, str]
) -> None:
    lines = [
        f'redis_url = "{bench.redis.url}"',
        f'frappe_url = "{bench.stub.url}"',
        f'api_key = "{API_KEY}"',
        f'api_secret = "{API_SECRET}"',
        f'pool = "{pool}"',
        f"lease_seconds = {LEASE_S}",
        "",
    ]
    for name in names:
        lines.append(f'[sites."{name}"]')
        if name in hang:
            lines.append(f'frappe_url = "{hang[name]}"')
    path.write_text("\n".join(lines) + "\n")


class FleetDaemon:
    """One ``btu-scheduler run --config …`` process serving every site of the file."""

    def __init__(self, bench: Bench, config: Path, instance: str) -> None:
        self.instance = instance
        self.port = free_port()
        self.log_path = bench.workdir / f"fleet-{instance}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BTU_")}
        env |= {
            "BTU_INSTANCE": instance,
            "BTU_METRICS_LISTEN": f"127.0.0.1:{self.port}",
            "BTU_LOG_LEVEL": DAEMON_LOG_LEVEL,
            "BTU_LOG_FORMAT": "json",
        }
        self.started = time.monotonic()
        self.child = bench.child(
            f"fleet daemon {instance}",
            [sys.executable, "-m", "btu_scheduler.cli", "run", "--config", str(config)],
            env=env,
            log_path=self.log_path,
            cwd=bench.daemon_src,
        )

    @property
    def pid(self) -> int:
        return self.child.pid

    def readyz(self) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.port}/readyz", timeout=2
            ) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError as e:
            return 0, str(e)

    def leading(self) -> int | None:
        """The ``leading M`` of a ready /readyz, else None."""
        status, text = self.readyz()
        if status != 200 or "leading" not in text:
            return None
        return int(text.rsplit("leading", 1)[1].split()[0])

    def wait_ready(self, timeout: float) -> float:
        def ready() -> bool:
            if not self.child.alive:
                raise RuntimeError(f"fleet daemon {self.instance} exited; see {self.log_path}")
            return self.readyz()[0] == 200

        wait_until(ready, timeout, 0.02)
        return time.monotonic() - self.started

    def cpu_s(self) -> float:
        with open(f"/proc/{self.pid}/stat") as f:
            after_name = f.read().rsplit(")", 1)[1].split()
        return (int(after_name[11]) + int(after_name[12])) / TICKS  # utime, stime

    def threads(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
        return 0


# -- filling Redis -------------------------------------------------------------------------


def fill(r: redis.Redis, names: list[str]) -> None:
    """20 quiet cron items per site in its state hash, one entry in its schedules stream."""
    shapes = quiet_schedules(count=50)
    ts = now_ms() - 1_000
    pipe = r.pipeline(transaction=False)
    for n, name in enumerate(names):
        keys = Keys(name)
        specs = [
            cron_item(f"Q-{j:02d}", *shapes[(n * ITEMS + j) % len(shapes)], ts=ts)
            for j in range(ITEMS)
        ]
        pipe.hset(keys.state, mapping={s.id: orjson.dumps(s.encode()) for s in specs})  # type: ignore[arg-type]
        pipe.xadd(keys.schedules, specs[-1].encode())  # type: ignore[arg-type]
        if len(pipe) >= 400:
            pipe.execute()
    pipe.execute()


def site_memory(r: redis.Redis, name: str) -> dict[str, int]:
    """MEMORY USAGE (bytes) of each key of one site, by kind of key."""
    out: Counter[str] = Counter()
    prefix = Keys(name).prefix
    for key in r.scan_iter(match=prefix + "*", count=1000):
        k = key.decode()
        size = int(r.memory_usage(k, samples=0) or 0)
        kind = k[len(prefix) :].split(":", 1)[0]
        if kind == "schedules" and k.endswith(":state"):
            kind = "schedules:state"
        out[kind] += size
    return dict(out)


def busy_items(index: int, ts: int) -> list[Any]:
    return [
        cron_item(
            f"B-{index:04d}-{j}",
            f"{(index + j) % BUSY_PERIOD_S}/{BUSY_PERIOD_S} * * * * *",
            ZONES[j % len(ZONES)],
            ts,
        )
        for j in range(2)
    ]


# -- measurements ---------------------------------------------------------------------


def _calls(stats: dict[str, Any]) -> dict[str, int]:
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


@dataclass
class Idle:
    per_s: float
    per_cmd: dict[str, int]
    cpu_pct: list[float]
    window_s: float


def measure_idle(r: redis.Redis, daemons: list[FleetDaemon], window_s: float) -> Idle:
    time.sleep(SETTLE_S)
    total0 = int(r.info("stats")["total_commands_processed"])
    cmd0 = _calls(r.info("commandstats"))
    cpu0 = [d.cpu_s() for d in daemons]
    t0 = time.monotonic()
    time.sleep(window_s)
    total1 = int(r.info("stats")["total_commands_processed"])
    cmd1 = _calls(r.info("commandstats"))
    cpu1 = [d.cpu_s() for d in daemons]
    elapsed = time.monotonic() - t0
    deltas = {k: v - cmd0.get(k, 0) for k, v in cmd1.items() if v - cmd0.get(k, 0) > 0}
    own_info = deltas.pop("info", 0)
    total = total1 - total0 - own_info
    return Idle(
        total / elapsed,
        dict(sorted(deltas.items(), key=lambda kv: -kv[1])),
        [100 * (b - a) / elapsed for a, b in zip(cpu0, cpu1, strict=True)],
        elapsed,
    )


@dataclass
class Lag:
    sent: list[float] = field(default_factory=list)
    received: list[float] = field(default_factory=list)
    expected: int = 0


def publish_busy(r: redis.Redis, names: list[str], busy: int) -> None:
    ts = now_ms()
    for i in range(busy):
        publish_events(r, Keys(names[i]), busy_items(i, ts))


def measure_lag(
    bench: Bench, healthy: list[str], window_s: int, records: list[tuple[str, float]]
) -> Lag:
    """Fire lag of the healthy busy sites over the window."""
    start = (now_ms() // 1000 + 2) * 1000
    end = start + window_s * 1000
    time.sleep(max(0.0, (end + 1_000) / 1000 - time.time()))
    lag = Lag(expected=len(healthy) * 2 * window_s // BUSY_PERIOD_S)

    def window() -> list[Any]:
        out = []
        for name in healthy:
            out += [f for f in read_fires(bench.r, Keys(name)) if start <= f.due < end]
        return out

    try:
        wait_until(lambda: len(window()) >= lag.expected, 10, 0.25)
    except TimeoutError:
        pass
    fires = window()
    lag.sent = [float(f.lag_ms) for f in fires]
    records.extend(bench.stub.record_pairs())
    for fire_id, at in records:
        _item, _, due = fire_id.rpartition("@")
        if start <= int(due) < end:
            lag.received.append(at - int(due))
    return lag


def leaders(r: redis.Redis, names: list[str]) -> list[str]:
    values = r.mget([Keys(n).leader for n in names])
    out = []
    for v in values:
        try:
            out.append(str(orjson.loads(v).get(Leader.INSTANCE, "")) if v else "")
        except (orjson.JSONDecodeError, AttributeError):
            out.append("")
    return out


@dataclass
class Failover:
    led: int
    new_leader_s: list[float]
    fired_again_s: list[float]
    busy_led: int
    missing: int


def measure_failover(
    bench: Bench, names: list[str], busy: int, killed: FleetDaemon, survivor: FleetDaemon
) -> Failover:
    owners = leaders(bench.r, names)
    led = [n for n, o in zip(names, owners, strict=True) if o == killed.instance]
    busy_led = [n for n in led if n in names[1:busy]]
    killed.child.proc.kill()
    t_kill = time.time()
    killed.child.proc.wait(timeout=10)
    taken: dict[str, float] = {}
    deadline = time.monotonic() + 3 * LEASE_S + 10
    while len(taken) < len(led) and time.monotonic() < deadline:
        now = time.time()
        for n, o in zip(led, leaders(bench.r, led), strict=True):
            if n not in taken and o == survivor.instance:
                taken[n] = now - t_kill
        time.sleep(0.05)
    fired: dict[str, float] = {}
    deadline = time.monotonic() + BUSY_PERIOD_S + 5
    while len(fired) < len(busy_led) and time.monotonic() < deadline:
        for n in busy_led:
            if n in fired:
                continue
            mine = [
                f.sent
                for f in read_fires(bench.r, Keys(n))
                if f.instance == survivor.instance and f.sent >= t_kill * 1000
            ]
            if mine:
                fired[n] = min(mine) / 1000 - t_kill
        time.sleep(0.1)
    return Failover(
        len(led),
        list(taken.values()),
        list(fired.values()),
        len(busy_led),
        len(led) - len(taken) + len(busy_led) - len(fired),
    )


# -- phases ---------------------------------------------------------------------------


@dataclass
class Phase:
    sites: int
    ready_s: list[float]
    led_s: float
    rss: list[dict[str, int]]
    threads: list[int]
    idle: Idle
    lag: Lag | None = None
    failover: Failover | None = None
    duplicates: int = 0
    cpu_per_fire_ms: float = 0.0  # daemons' CPU over their idle rate while firing, per fire
    received: int = 0
    memory: dict[str, int] = field(default_factory=dict)
    used_memory: int = 0


def _wait_led(daemons: list[FleetDaemon], sites: int, started: float, timeout: float) -> float:
    cap = math.ceil(sites / len(daemons)) + 1

    def spread() -> bool:
        counts = [d.leading() for d in daemons]
        return (
            all(c is not None and c <= cap for c in counts) and sum(c or 0 for c in counts) == sites
        )

    wait_until(spread, timeout, 0.05)
    return time.monotonic() - started


def phase(
    bench: Bench, sites: int, ndaemons: int, quick: bool, busy: int, hanging: bool, tag: str
) -> Phase:
    """Fill Redis, start the daemons, measure; site 0 hangs when ``hanging``."""
    bench.reset()
    names = [site_name(i) for i in range(sites)]
    hang = HangingEndpoint() if hanging else None
    try:
        used0 = int(bench.r.info("memory")["used_memory"])
        fill(bench.r, names)
        used1 = int(bench.r.info("memory")["used_memory"])
        config = bench.workdir / f"fleet-{tag}.toml"
        write_config(config, bench, names, f"bench-fleet-{os.getpid()}",
                     {names[0]: hang.url} if hang else {})  # fmt: skip
        daemons = [FleetDaemon(bench, config, f"{tag}-d{k + 1}") for k in range(ndaemons)]
        started = min(d.started for d in daemons)
        ready = [d.wait_ready(120) for d in daemons]
        led = _wait_led(daemons, sites, started, 120)
        time.sleep(1.0)
        rss = [proc_status(d.pid) for d in daemons]
        threads = [d.threads() for d in daemons]
        idle = measure_idle(bench.r, daemons, QUICK_IDLE_WINDOW_S if quick else IDLE_WINDOW_S)
        memory = site_memory(bench.r, names[-1])  # a quiet site, led, at rest
        result = Phase(sites, ready, led, rss, threads, idle, memory=memory,
                       used_memory=used1 - used0)  # fmt: skip
        records: list[tuple[str, float]] = []
        bench.stub.record_pairs()
        publish_busy(bench.r, names, busy)
        time.sleep(1.0)
        healthy = names[1:busy] if hanging else names[:busy]
        cpu0, t0 = [d.cpu_s() for d in daemons], time.monotonic()
        result.lag = measure_lag(
            bench, healthy, QUICK_LAG_WINDOW_S if quick else LAG_WINDOW_S, records
        )
        elapsed = time.monotonic() - t0
        busy_cpu = sum(d.cpu_s() for d in daemons) - sum(cpu0)
        at_rest = sum(idle.cpu_pct) / 100 * elapsed
        result.cpu_per_fire_ms = 1000 * (busy_cpu - at_rest) / max(1, len(result.lag.sent))
        result.memory["fires (per entry)"] = _fires_entry_bytes(bench.r, healthy[0])
        result.memory["fired marker (per fire)"] = _marker_bytes(bench.r, healthy[0])
        if ndaemons == 2:
            result.failover = measure_failover(bench, names, busy, daemons[1], daemons[0])
            time.sleep(2.0)
            records.extend(bench.stub.record_pairs())
        counts = Counter(fire_id for fire_id, _ in records)
        result.duplicates = sum(1 for c in counts.values() if c > 1)
        result.received = len(counts)
        return result
    finally:
        if hang is not None:
            hang.close()


def _fires_entry_bytes(r: redis.Redis, name: str) -> int:
    keys = Keys(name)
    length = int(r.xlen(keys.fires))
    return int(r.memory_usage(keys.fires, samples=0) or 0) // max(1, length)


def _marker_bytes(r: redis.Redis, name: str) -> int:
    keys = Keys(name)
    markers = list(r.scan_iter(match=keys.fired("*"), count=1000))
    if not markers:
        return 0
    return sum(int(r.memory_usage(k, samples=0) or 0) for k in markers) // len(markers)


# -- the table ------------------------------------------------------------------------


def _mb(kib: int) -> float:
    return kib * 1024 / 1e6


def _per_cmd(idle: Idle) -> str:
    return ", ".join(f"{k} {v / idle.window_s:.2f}" for k, v in list(idle.per_cmd.items())[:8])


def run(bench: Bench, quick: bool) -> list[Row]:
    sites = QUICK_SITES if quick else SITES
    busy = QUICK_BUSY if quick else BUSY
    base = phase(bench, 1, 1, quick, busy=1, hanging=False, tag="base")
    one = phase(bench, sites, 1, quick, busy=busy, hanging=True, tag="one")
    two = phase(bench, sites, 2, quick, busy=busy, hanging=True, tag="two")
    bench.reset()
    n = f"{sites:,} sites x {ITEMS}"
    b_rss = _mb(base.rss[0]["VmRSS"])
    rows = [
        Row(
            f"fleet start-up, {n}, 1 daemon: spawn → /readyz ready (all sites loaded)",
            f"{one.ready_s[0]:.2f} s (all led: {one.led_s:.2f} s)",
            f"{base.ready_s[0]:.2f} s (1 site x {ITEMS})",
            ratio(one.ready_s[0], base.ready_s[0]),
            f"≤ {TARGET_LOAD_S:g} s",
            one.ready_s[0] <= TARGET_LOAD_S,
            detail=f"{one.threads[0]} threads once loaded; Redis used_memory grew "
            f"{one.used_memory / 1e6:.1f} MB for the {n} items "
            f"({one.used_memory / sites:,.0f} B a site)",
        ),
        Row(
            f"fleet start-up, {n}, 2 daemons: spawn → both ready / leaders spread",
            f"{max(two.ready_s):.2f} s / {two.led_s:.2f} s",
            f"{base.ready_s[0]:.2f} s",
            ratio(max(two.ready_s), base.ready_s[0]),
            f"≤ {TARGET_LOAD_S:g} s (load)",
            max(two.ready_s) <= TARGET_LOAD_S,
        ),
        Row(
            f"fleet RSS, {n}, 1 daemon: VmRSS (VmHWM)",
            f"{_mb(one.rss[0]['VmRSS']):.0f} MB ({_mb(one.rss[0]['VmHWM']):.0f} MB)",
            f"{b_rss:.0f} MB (1 site)",
            ratio(_mb(one.rss[0]["VmRSS"]), b_rss),
            "—",
            None,
            detail=f"{(_mb(one.rss[0]['VmRSS']) - b_rss) * 1e3 / (sites - 1):,.0f} kB a site "
            "over the 1-site daemon",
        ),
        Row(
            f"fleet RSS, {n}, 2 daemons: VmRSS (VmHWM) each",
            " / ".join(f"{_mb(r['VmRSS']):.0f} MB ({_mb(r['VmHWM']):.0f})" for r in two.rss),
            f"{b_rss:.0f} MB",
            ratio(max(_mb(r["VmRSS"]) for r in two.rss), b_rss),
        ),
    ]
    for label, p in (("1 daemon", one), ("2 daemons", two)):
        rows.append(
            Row(
                f"fleet idle Redis commands/s, {n}, {label}, {p.idle.window_s:.0f} s",
                f"{p.idle.per_s:.1f}/s",
                f"{base.idle.per_s:.2f}/s (1 site)",
                ratio(p.idle.per_s, base.idle.per_s),
                f"≤ {TARGET_IDLE_PER_S:g}/s",
                p.idle.per_s <= TARGET_IDLE_PER_S,
                detail=f"per command /s: {_per_cmd(p.idle)}; not in this window: from "
                f"beat_ms (leading/4 renewals) after start, each daemon also refreshes 4 "
                f"heartbeat hashes a renewal, +{8 / (LEASE_S / 2.5):.0f}/s per daemon",
            )
        )
    for label, p in (("1 daemon", one), ("2 daemons", two)):
        rows.append(
            Row(
                f"fleet idle daemon CPU, {n}, {label}",
                " / ".join(f"{c:.1f} %" for c in p.idle.cpu_pct),
                f"{base.idle.cpu_pct[0]:.2f} % (1 site)",
                ratio(max(p.idle.cpu_pct), base.idle.cpu_pct[0]),
            )
        )
    base_lag = base.lag
    assert base_lag is not None
    for label, p in (("1 daemon", one), ("2 daemons", two)):
        lag = p.lag
        assert lag is not None
        p99 = pct(lag.sent, 99)
        rows.append(
            Row(
                f"fleet fire lag sent-due, {busy - 1} healthy busy sites, 1 hanging, {label}",
                f"p50 {fmt_ms(pct(lag.sent, 50))} / p99 {fmt_ms(p99)}",
                f"p50 {fmt_ms(pct(base_lag.sent, 50))} / p99 {fmt_ms(pct(base_lag.sent, 99))} "
                "(1 site, 2 busy items)",
                ratio(p99, pct(base_lag.sent, 99)),
                f"p99 ≤ {TARGET_LAG_P99_MS:g} ms",
                p99 is not None and p99 <= TARGET_LAG_P99_MS,
                detail=f"{len(lag.sent)} fires recorded of {lag.expected} expected; "
                f"{2 * busy} items due every {BUSY_PERIOD_S} s; stub receive - due: "
                f"{_p50_p99(lag.received)} of {len(lag.received)} (1 site: "
                f"{_p50_p99(base_lag.received)}); daemon CPU per fire over idle "
                f"{p.cpu_per_fire_ms:.2f} ms (1 site: {base.cpu_per_fire_ms:.2f} ms)",
            )
        )
    fo = two.failover
    assert fo is not None
    leader_max = max(fo.new_leader_s, default=None)
    fired_max = max(fo.fired_again_s, default=None)
    worst = max(x for x in (leader_max, fired_max, 0.0) if x is not None)
    rows.append(
        Row(
            f"fleet failover, kill -9 of 1 of 2 daemons ({fo.led} sites led): new leader / "
            f"fires again (max)",
            f"{fmt_s(leader_max)} / {fmt_s(fired_max)}",
            f"lease {LEASE_S:g} s",
            ratio(worst, LEASE_S),
            f"≤ {LEASE_S + 1:g} s",
            fo.missing == 0 and worst <= LEASE_S + 1,
            detail=f"new leader p50 {fmt_s(pct(fo.new_leader_s, 50))}; fired again by the "
            f"survivor: {len(fo.fired_again_s)} of {fo.busy_led} busy sites it led "
            f"(p50 {fmt_s(pct(fo.fired_again_s, 50))}); {fo.missing} site(s) missing",
        )
    )
    rows.append(
        Row(
            "fleet: fire_ids received twice by the stub (two-daemon phase, with the kill)",
            f"{two.duplicates} of {two.received}",
            "",
            "",
            "0",
            two.duplicates == 0,
        )
    )
    mem = ", ".join(f"{k} {v:,} B" for k, v in one.memory.items())
    rows.append(
        Row(
            f"fleet Redis memory of one site ({ITEMS} items, MEMORY USAGE)",
            f"{sum(v for k, v in one.memory.items() if 'per' not in k):,} B at rest",
            "",
            "",
            detail=mem,
        )
    )
    return rows


def _p50_p99(values: list[float]) -> str:
    return f"p50 {fmt_ms(pct(values, 50))} / p99 {fmt_ms(pct(values, 99))}"


def fmt_s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"
