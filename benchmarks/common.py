"""Shared machinery of the benchmarks: the processes they start (a private redis-server,
the stub endpoint, real ``btu-scheduler run`` daemons), statistics helpers and the rows
of the final table.

Every process is started in its own session (so a Ctrl-C in the terminal reaches only
the driver, which then stops them in order) and, on Linux, with a parent-death signal,
so none outlives a driver that was killed outright.
"""

from __future__ import annotations

import ctypes
import gc
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson
import pytz
import redis
import urllib3

from benchmarks.stub_endpoint import RECORDS_PATH
from btu_scheduler.demo.embedded import RedisServer
from streams.errors import RpcFailed, RpcTimeout
from streams.keys import Keys
from streams.messages import FireRecord, ScheduleUpsert
from streams.rpc import RpcClient

REPO = Path(__file__).resolve().parent.parent
API_KEY = "bench-key"
API_SECRET = "bench-secret-not-logged"
AUTH_HEADER = f"token {API_KEY}:{API_SECRET}"
DAEMON_LOG_LEVEL = "warning"


def now_ms() -> int:
    """Epoch milliseconds, truncated exactly as the daemon and ``streams`` do."""
    return int(time.time() * 1000)


# -- statistics -------------------------------------------------------------------------


def pct(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile (the daemon's own definition); None when empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def fmt_ms(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f} ms"
    return f"{value:.{digits}f} ms"


def p50_p99(values: Sequence[float], digits: int = 2) -> str:
    return f"p50 {fmt_ms(pct(values, 50), digits)} / p99 {fmt_ms(pct(values, 99), digits)}"


def ratio(measured: float | None, baseline: float | None) -> str:
    if measured is None or baseline is None or baseline <= 0:
        return "n/a"
    return f"{measured / baseline:.2f}x"


@dataclass
class Row:
    """One line of the final table."""

    metric: str
    measured: str
    baseline: str = "—"
    ratio: str = "—"
    target: str = "—"
    met: bool | None = None
    detail: str = ""  # printed under the table, not in it

    @property
    def verdict(self) -> str:
        return {True: "yes", False: "NO", None: "—"}[self.met]


# -- processes --------------------------------------------------------------------------


def _die_with_parent() -> None:  # runs in the child between fork and exec
    os.setsid()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Child:
    """A subprocess owned by the benchmark."""

    def __init__(
        self,
        name: str,
        args: list[str],
        *,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        stdout_pipe: bool = False,
        cwd: Path = REPO,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._log: IO[bytes] | None = log_path.open("ab") if log_path else None
        stdout: Any = subprocess.PIPE if stdout_pipe else (self._log or subprocess.DEVNULL)
        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=self._log or subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if self.alive:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (KiB) of a process, from /proc/<pid>/status."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


@contextmanager
def no_gc() -> Iterator[None]:
    """Keep the driver's own garbage collector out of a timed loop (a full collection
    of the driver's objects would show up as client-side latency)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class Pacer:
    """Spaces events ``spacing_s`` apart on a fixed grid (a late one does not push the
    rest back)."""

    def __init__(self, spacing_s: float) -> None:
        self.spacing = spacing_s
        self.next = time.perf_counter()

    def wait(self) -> None:
        self.next += self.spacing
        delay = self.next - time.perf_counter()
        if delay > 0:
            time.sleep(delay)


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout:g} s")
        time.sleep(interval)


class Stub:
    """The stub endpoint process (benchmarks/stub_endpoint.py)."""

    def __init__(self, workdir: Path) -> None:
        self.child = Child(
            "stub",
            [sys.executable, "-m", "benchmarks.stub_endpoint", "--auth", AUTH_HEADER],
            log_path=workdir / "stub.log",
            stdout_pipe=True,
        )
        assert self.child.proc.stdout is not None
        line = self.child.proc.stdout.readline().decode().split()
        if len(line) != 2 or line[0] != "READY":
            self.child.stop()
            raise RuntimeError(f"stub endpoint did not start (see {workdir / 'stub.log'})")
        self.port = int(line[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._http = urllib3.PoolManager(maxsize=1)

    def records(self) -> dict[str, float]:
        """fire_id → receive time (epoch ms, float) of every request since the last call."""
        return dict(self.record_pairs())

    def record_pairs(self) -> list[tuple[str, float]]:
        """(fire_id, receive time) of every fire received since the last call, in order,
        a fire_id received twice appearing twice."""
        response = self._http.request("GET", self.url + RECORDS_PATH)
        pairs: list[list[Any]] = orjson.loads(response.data)
        return [(str(fire), float(at)) for fire, at in pairs]

    def stop(self) -> None:
        self._http.clear()
        self.child.stop()


class Daemon:
    """One ``btu-scheduler run`` process for one site."""

    def __init__(
        self, bench: Bench, site: str, log_level: str = DAEMON_LOG_LEVEL, **overrides: str
    ) -> None:
        self.site = site
        self.keys = Keys(site)
        self.log_path = bench.workdir / f"daemon-{site}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BTU_")}
        env |= {
            "BTU_REDIS_URL": bench.redis.url,
            "BTU_SITE": site,
            "BTU_FRAPPE_URL": bench.stub.url,
            "BTU_API_KEY": API_KEY,
            "BTU_API_SECRET": API_SECRET,
            "BTU_INSTANCE": f"bench-{site}",
            "BTU_LOG_LEVEL": log_level,
            "BTU_LOG_FORMAT": "json",
        }
        env |= overrides
        self.rpc = RpcClient(bench.r, self.keys)
        self.started = time.monotonic()
        self.child = Child(
            f"daemon {site}",
            [sys.executable, "-m", "btu_scheduler.cli", "run"],
            env=env,
            log_path=self.log_path,
            cwd=bench.daemon_src,
        )

    @property
    def pid(self) -> int:
        return self.child.pid

    def ping(self, timeout: float = 0.25) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = self.rpc.call("ping", timeout=timeout)
        except (RpcTimeout, RpcFailed):
            return None
        return data

    def wait_leader(self, timeout: float = 30.0, ping_timeout: float = 0.25) -> float:
        """Seconds from process start until it answered a ping as leader."""

        def ready() -> bool:
            if not self.child.alive:
                raise RuntimeError(f"daemon for {self.site} exited; see {self.log_path}")
            data = self.ping(ping_timeout)
            return bool(data and data.get("leader"))

        wait_until(ready, timeout, interval=0.0)
        return time.monotonic() - self.started

    def call(self, cmd: str, arg: str | None = None, timeout: float = 5.0) -> Any:
        return self.rpc.call(cmd, arg, timeout=timeout)

    def wait_armed(self, count: int, timeout: float = 30.0) -> None:
        wait_until(lambda: (self.ping(1.0) or {}).get("armed", -1) >= count, timeout, 0.05)

    def rss_kib(self) -> dict[str, int]:
        return proc_status(self.pid)

    def cpu_s(self) -> float:
        """User + system CPU seconds the daemon has used so far (/proc/<pid>/stat): on a
        shared machine a steadier measure than wall time."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def events(self, name: str) -> list[dict[str, Any]]:
        """The daemon's JSON log lines whose ``event`` is ``name``."""
        out = []
        for line in self.log_path.read_bytes().splitlines():
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(entry, dict) and entry.get("event") == name:
                out.append(entry)
        return out

    def stop(self) -> None:
        self.child.stop(timeout=30)


class Bench:
    """Everything one benchmark run starts; :meth:`close` stops it all."""

    def __init__(
        self, workdir: Path, profile_dir: Path | None = None, daemon_src: Path = REPO
    ) -> None:
        self.workdir = workdir
        self.profile_dir = profile_dir
        self.daemon_src = daemon_src
        self.redis = RedisServer()
        self._children: list[Daemon | Child] = []
        self._profilers: dict[Daemon, Child] = {}
        self.redis.start()
        self.r = redis.Redis.from_url(self.redis.url, socket_timeout=60)
        self.stub = Stub(workdir)

    def daemon(self, site: str, log_level: str = DAEMON_LOG_LEVEL, **overrides: str) -> Daemon:
        d = Daemon(self, site, log_level, **overrides)
        self._children.append(d)
        if self.profile_dir is not None:
            self._profile(d)
        return d

    def _profile(self, d: Daemon) -> None:
        """Sample the daemon with py-spy: collapsed stacks of the thread holding the GIL
        (where its CPU time goes), one file per daemon; py-spy
        stops by itself when the daemon exits."""
        assert self.profile_dir is not None
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        out = self.profile_dir / f"{d.site}-{d.pid}.txt"
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self._profilers[d] = self.child(
            f"py-spy {d.site}",
            [exe, "record", "--pid", str(d.pid), "--rate", "250", "--nonblocking", "--gil",
             "--threads", "--format", "raw", "--output", str(out)],
            log_path=self.workdir / f"py-spy-{d.site}.log",
        )  # fmt: skip

    def child(self, name: str, args: list[str], **kwargs: Any) -> Child:
        c = Child(name, args, **kwargs)
        self._children.append(c)
        return c

    def stop(self, child: Daemon | Child) -> None:
        child.stop()
        if child in self._children:
            self._children.remove(child)
        profiler = self._profilers.pop(child, None) if isinstance(child, Daemon) else None
        if profiler is not None:  # it exits by itself once it has written its output
            try:
                profiler.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            self.stop(profiler)

    def reset(self) -> None:
        """Stop every daemon and helper a section left and empty Redis."""
        self._stop_all()
        self.r.flushall()
        self.stub.records()
        gc.collect()

    def _stop_all(self) -> None:
        # Daemons first: a profiler attached to one writes its output when it exits.
        for daemon in [c for c in self._children if isinstance(c, Daemon)]:
            self.stop(daemon)
        for child in reversed(self._children):
            child.stop()
        self._children.clear()

    def close(self) -> None:
        try:
            self._stop_all()
        finally:
            try:
                self.stub.stop()
            finally:
                self.r.close()
                self.redis.cleanup()


def read_fires(r: redis.Redis, keys: Keys) -> list[FireRecord]:
    """Every entry of the fires stream, oldest first."""
    out: list[FireRecord] = []
    start = "-"
    while True:
        batch = r.xrange(keys.fires, min=start, max="+", count=10_000)
        if not batch:
            return out
        for _eid, fields in batch:
            out.append(FireRecord.decode(fields))
        last = batch[-1][0]
        last_text = last.decode() if isinstance(last, bytes) else str(last)
        start = "(" + last_text


# -- schedules --------------------------------------------------------------------------

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata")


def quiet_schedules(count: int = 200, zones: Sequence[str] = ZONES) -> list[tuple[str, str]]:
    """``count`` distinct cron expressions times ``zones``: a realistic mix (daily, weekly,
    monthly, quarter-hourly within one hour, twice a day) of which none fires within the
    next two hours, so a benchmark that only arms them is not disturbed by fires."""
    out: list[tuple[str, str]] = []
    for tz in zones:
        hour_now = datetime.now(pytz.timezone(tz)).hour
        hours = [h for h in range(24) if (h - hour_now) % 24 > 2]
        seen: set[str] = set()
        for k in range(count):
            bump = 0
            expr = _shape(k, bump, hours)
            while expr in seen:
                bump += 1
                expr = _shape(k, bump, hours)
            seen.add(expr)
            out.append((expr, tz))
    return out


def _shape(k: int, bump: int, hours: Sequence[int]) -> str:
    minute = (k * 7 + bump) % 60
    h1 = hours[(k + bump // 60) % len(hours)]
    h2 = hours[(k + 7 + bump // 60) % len(hours)]
    shape = k % 5
    if shape == 0:
        return f"{minute} {h1} * * *"
    if shape == 1:
        return f"{minute} {h1} * * {k % 7}"
    if shape == 2:
        return f"{minute} {h1} {1 + k % 28} * *"
    if shape == 3:
        return f"{minute % 15}/15 {h1} * * 1-5"
    return f"{minute} {min(h1, h2)},{max(h1, h2)} * * *"


def cron_item(item_id: str, cron: str, tz: str, ts: int) -> ScheduleUpsert:
    return ScheduleUpsert(
        id=item_id, kind="cron", task="Bench", cron=cron, tz=tz, enabled=True, ts=ts
    )


def quiet_items(prefix: str, count: int, ts: int) -> list[ScheduleUpsert]:
    """``count`` enabled cron items over :func:`quiet_schedules` (none due for 2 hours)."""
    shapes = quiet_schedules()
    return [cron_item(f"{prefix}-{i:06d}", *shapes[i % len(shapes)], ts=ts) for i in range(count)]
