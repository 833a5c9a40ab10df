"""Batch firing against a real Frappe bench, through the real daemon.

    python benchmarks/real_bench.py --url http://127.0.0.1:8000 --host btu.localhost \\
        --api-key KEY --api-secret SECRET --bench /path/to/frappe-bench \\
        [--site btu.localhost] [--redis-url redis://127.0.0.1:11000] \\
        [--sizes 100,1000,10000] [--single-sizes 100,1000] [--drain-sizes 100,1000] \\
        [--daemon-setting http_concurrency=4 ...] [--json out.json]

Run it from the project's virtualenv (the daemon runs from this checkout, ``python -m
btu_scheduler.cli run``); the bench must have BTU installed (the same version), its web
server, Redis and ``bench worker`` processes running, and an API user with the *BTU
Scheduler* role (``--api-key``/``--api-secret``). Site-side work (creating items,
counting Task Logs, enqueuing ``frappe.ping``) is done by ``benchmarks/real_bench_site.py``
run in the bench's Python from its ``sites`` folder.

**Acceptance** (one row per endpoint and size): N Run Later items (once) of a task
running ``btu.samples.hello``, all due at one whole second, created in bulk and
published; one daemon, started for the endpoint with ``batch_size`` 1 (``single``:
``enqueue_scheduled`` per fire) or 100 (``batch``: ``enqueue_batch``). Measured: due →
the last fire's outcome recorded by the daemon (``btu:{site}:fires`` entry ids, written
when the answer arrived), fires/s, the CPU time of the gunicorn processes (every process
whose command line names gunicorn and ``frappe.app:application``, from /proc, before the
due instant and after the last answer) per fire, and the daemon's. The items' jobs go to
the ``--hold-queue`` (default ``btu_bench_hold``; declare it in the bench's
``common_site_config.json`` ``workers`` and start ``bench worker --queue
short,default,long``), which no worker serves, so draining does not compete with the
web server for the CPU; they are deleted after the row. On a bench without that queue
the jobs go to ``--drain-queue`` instead, where the workers run some of them during the
row (the output says which); the rest are deleted unrun. Checked: every item has exactly
one Task Log, no ``fire_id`` has two.

**Drain** (one row per size): the same through the batch endpoint, with jobs on
``--drain-queue`` (default ``default``), due → all Task Logs finished (their last
``ended``); against the same number of ``frappe.ping`` jobs enqueued at once on the same
queue (first enqueue → last RQ ``ended_at``), with the jobs' median run time (RQ
``started_at`` → ``ended_at``) of each.

Everything created is deleted at the end (items, their state-hash entries, Task Logs,
RQ jobs, the task), also on error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import REPO, Child, wait_until
from streams.errors import RpcFailed, RpcTimeout
from streams.keys import Keys
from streams.rpc import RpcClient

SITE_HELPER = REPO / "benchmarks" / "real_bench_site.py"
FINAL = {"enqueued", "duplicate", "failed", "missed"}
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- the bench ----------------------------------------------------------------------------


class Site:
    """Runs ``real_bench_site.py`` commands in the bench's Python."""

    def __init__(self, bench: Path, site: str) -> None:
        self.bench = bench
        self.site = site
        self.python = bench / "env" / "bin" / "python"
        if not self.python.is_file():
            raise SystemExit(f"--bench {bench}: no env/bin/python there (not a bench folder?)")

    def call(self, command: str, **args: Any) -> dict[str, Any]:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        proc = subprocess.run(
            [str(self.python), str(SITE_HELPER), self.site, command, json.dumps(args)],
            cwd=self.bench / "sites",
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"site helper {command} failed:\n{proc.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        return result


def cpu_ticks(pid: int) -> int:
    """utime + stime of ``pid`` (clock ticks); 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def web_pids(sites: Path) -> list[int]:
    """The gunicorn processes serving Frappe (master and workers) from this bench's
    ``sites`` folder (another bench on the machine is not counted)."""
    pids = []
    sites = sites.resolve()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"gunicorn" not in cmd or b"frappe.app:application" not in cmd:
            continue
        try:
            if (entry / "cwd").resolve() == sites:
                pids.append(int(entry.name))
        except OSError:
            continue
    return sorted(pids)


def web_cpu_s(pids: list[int]) -> float:
    return sum(cpu_ticks(p) for p in pids) / CLK_TCK


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- the daemon ---------------------------------------------------------------------------


class Daemon:
    def __init__(self, args: argparse.Namespace, batch_size: int, log_path: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BTU_")}
        env |= {
            "BTU_SITE": args.site,
            "BTU_REDIS_URL": args.redis_url,
            "BTU_FRAPPE_URL": args.url,
            "BTU_HOST_HEADER": args.host,
            "BTU_API_KEY": args.api_key,
            "BTU_API_SECRET": args.api_secret,
            "BTU_INSTANCE": f"real-bench-{batch_size}",
            "BTU_LOG_LEVEL": "warning",
            "BTU_LOG_FORMAT": "json",
            "BTU_BATCH_SIZE": str(batch_size),
            "BTU_MAX_BACKLOG": "50000",
            "BTU_FIRES_MAXLEN": "100000",
        }
        env |= {f"BTU_{k.upper()}": v for k, v in args.daemon_setting}
        self.log_path = log_path
        self.child = Child(
            f"daemon batch_size={batch_size}",
            [sys.executable, "-m", "btu_scheduler.cli", "run"],
            env=env,
            log_path=log_path,
        )
        self.rpc = RpcClient(redis.Redis.from_url(args.redis_url), Keys(args.site))

    def wait_leader(self, timeout: float = 60.0) -> None:
        def ready() -> bool:
            if not self.child.alive:
                raise RuntimeError(f"the daemon exited; see {self.log_path}")
            try:
                return bool(self.rpc.call("ping", timeout=0.5).get("leader"))
            except (RpcTimeout, RpcFailed):
                return False

        wait_until(ready, timeout, interval=0.2)

    def cpu_s(self) -> float:
        return cpu_ticks(self.child.pid) / CLK_TCK

    def stop(self) -> None:
        self.child.stop(timeout=30)


# -- measuring ----------------------------------------------------------------------------


@dataclass
class Row:
    what: str
    n: int
    values: dict[str, Any] = field(default_factory=dict)


def fires_since(r: redis.Redis, keys: Keys, start_id: str, ids: set[str]) -> dict[str, tuple]:
    """The last outcome of each of ``ids``' fires recorded after ``start_id``:
    {item id: (outcome, entry ms, fire_id)}."""
    out: dict[str, tuple] = {}
    start = f"({start_id}"
    while True:
        batch = r.xrange(keys.fires, min=start, max="+", count=10_000)
        if not batch:
            return out
        for eid, fields in batch:
            item = fields.get(b"id", b"").decode()
            if item in ids:
                ms = int(eid.decode().split("-")[0])
                out[item] = (fields[b"outcome"].decode(), ms, fields[b"fire_id"].decode())
        start = "(" + batch[-1][0].decode()


def last_id(r: redis.Redis, keys: Keys) -> str:
    entries = r.xrevrange(keys.fires, count=1)
    return entries[0][0].decode() if entries else "0-0"


def sleep_until_ms(at_ms: int) -> None:
    delay = at_ms / 1000 - time.time()
    if delay > 0:
        time.sleep(delay)


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.site = Site(Path(args.bench), args.site)
        self.r = redis.Redis.from_url(args.redis_url)
        self.keys = Keys(args.site)
        self.run_id = uuid.uuid4().hex[:6]
        self.tags: list[str] = []
        self.logdir = Path(args.logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.daemon: Daemon | None = None
        self.rows: list[Row] = []

    def tag(self, label: str) -> str:
        tag = f"{self.run_id}{label}"
        self.tags.append(tag)
        return tag

    def start_daemon(self, batch_size: int) -> Daemon:
        self.stop_daemon()
        self.daemon = Daemon(self.args, batch_size, self.logdir / f"daemon-{batch_size}.log")
        self.daemon.wait_leader()
        return self.daemon

    def stop_daemon(self) -> None:
        if self.daemon is not None:
            self.daemon.stop()
            self.daemon = None

    def fire(self, label: str, n: int, queue: str, timeout_s: float) -> tuple[str, dict]:
        """Create n items due at one instant, wait until the daemon recorded an outcome
        for each; the acceptance figures."""
        assert self.daemon is not None
        tag = self.tag(label)
        lead = 4 + n // 1000
        created = self.site.call("create", tag=tag, n=n, lead_s=lead, queue=queue)
        at_ms = created["at_ms"]
        ids = {f"RL-B{tag}-{i:05d}" for i in range(n)}
        start_id = last_id(self.r, self.keys)
        pids = web_pids(self.site.bench / "sites")
        sleep_until_ms(at_ms - 200)
        web0, daemon0 = web_cpu_s(pids), self.daemon.cpu_s()
        deadline = time.monotonic() + timeout_s + (at_ms / 1000 - time.time())
        seen: dict[str, tuple] = {}
        while time.monotonic() < deadline:
            seen = fires_since(self.r, self.keys, start_id, ids)
            if len(seen) == n and all(o[0] in FINAL for o in seen.values()):
                break
            time.sleep(0.1)
        web1, daemon1 = web_cpu_s(pids), self.daemon.cpu_s()
        outcomes: dict[str, int] = {}
        for outcome, _ms, _fid in seen.values():
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        accepted = [ms for outcome, ms, _ in seen.values() if outcome in ("enqueued", "duplicate")]
        last_ms = max(accepted) if accepted else None
        wall = (last_ms - at_ms) / 1000 if last_ms else None
        return tag, {
            "due_to_last_accepted_s": wall,
            "fires_per_s": (len(accepted) / wall) if wall else None,
            "web_cpu_ms_per_fire": 1000 * (web1 - web0) / n,
            "daemon_cpu_ms_per_fire": 1000 * (daemon1 - daemon0) / n,
            "outcomes": outcomes,
            "recorded": len(seen),
            "at_ms": at_ms,
            "create_s": created["create_s"],
        }

    def acceptance(self, mode: str, batch_size: int, sizes: list[int]) -> None:
        self.start_daemon(batch_size)
        for n in sizes:
            print(f"[{time.strftime('%H:%M:%S')}] {mode} endpoint, {n} fires ...", flush=True)
            timeout = 120 + n / (20 if batch_size == 1 else 200)
            tag, values = self.fire(f"{mode[0]}{n}", n, self.args.hold_queue, timeout)
            check = self.site.call("check", tag=tag)
            values |= {
                "logs": check["logs"],
                "fire_ids_twice": check["fire_ids_twice"],
                "items_twice": check["items_twice"],
                "lost": check["items_without_log"],
                "site_last_log_created_s": (check["last_created_ms"] - values["at_ms"]) / 1000
                if check["last_created_ms"]
                else None,
            }
            self.rows.append(Row(f"accept {mode}", n, values))
            print("   ", _short(values), flush=True)
            self.site.call("cleanup", tag=tag)
        self.stop_daemon()

    def drain(self, sizes: list[int]) -> None:
        self.start_daemon(100)
        for n in sizes:
            print(f"[{time.strftime('%H:%M:%S')}] drain, {n} BTU runs ...", flush=True)
            timeout = 300 + n
            tag, values = self.fire(f"d{n}", n, self.args.drain_queue, timeout)
            waited = self.site.call("wait_success", tag=tag, n=n, timeout_s=timeout)
            times = self.site.call("job_times", tag=tag)
            values |= {
                "drain_s": (waited["last_ended_ms"] - values["at_ms"]) / 1000
                if waited["last_ended_ms"]
                else None,
                "statuses": waited["statuses"],
                "fire_ids_twice": waited["fire_ids_twice"],
                "lost": waited["items_without_log"],
                "job_median_ms": statistics.median(times["durations_ms"])
                if times["durations_ms"]
                else None,
            }
            self.rows.append(Row("drain btu", n, values))
            print("   ", _short(values), flush=True)
            self.site.call("cleanup", tag=tag)
            print(f"[{time.strftime('%H:%M:%S')}] drain, {n} frappe.ping ...", flush=True)
            ping = self.site.call("ping_drain", n=n, queue=self.args.drain_queue, timeout_s=timeout)
            pv = {
                "drain_s": (ping["last_end_ms"] - ping["first_enqueue_ms"]) / 1000
                if ping["last_end_ms"]
                else None,
                "ended": ping["ended"],
                "enqueue_s": (ping["enqueued_ms"] - ping["first_enqueue_ms"]) / 1000,
                "job_median_ms": statistics.median(ping["durations_ms"])
                if ping["durations_ms"]
                else None,
            }
            self.rows.append(Row("drain frappe.ping", n, pv))
            print("   ", _short(pv), flush=True)
        self.stop_daemon()

    def cleanup(self) -> None:
        self.stop_daemon()
        for tag in self.tags:
            try:
                self.site.call("cleanup", tag=tag)
            except RuntimeError as e:
                print(f"cleanup of {tag} failed: {e}", file=sys.stderr)


def _short(values: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in values.items()
        if k not in ("at_ms",)
    )


def _f(value: Any, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def render(rows: list[Row], info: dict[str, Any], args: argparse.Namespace) -> str:
    workers = [w for w in info["workers"] if _alive(w.get("pid"))]
    lines = [
        f"Machine: {os.cpu_count()} CPUs, {platform.platform()}, "
        f"Python {platform.python_version()}",
        f"Bench: {args.bench}, site {args.site}, "
        f"{len(web_pids(Path(args.bench) / 'sites'))} gunicorn processes "
        f"(master + workers), {len(workers)} RQ workers serving "
        f"{sorted({q for w in workers for q in w['queues']})}",
        f"Load average at the end: {load_average()}",
        f"Daemon settings beyond the defaults: {dict(args.daemon_setting) or 'none'}",
        f"Acceptance rows' jobs: held in {args.hold_queue} (no worker)"
        if args.held
        else f"Acceptance rows' jobs: on {args.hold_queue}, run by the workers meanwhile",
        "",
        "| endpoint | fires | due → last accepted | fires/s | web CPU/fire | daemon CPU/fire "
        "| Task Logs | lost | fire_id twice |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if not row.what.startswith("accept"):
            continue
        v = row.values
        lines.append(
            f"| {row.what.split()[1]} | {row.n:,} | {_f(v['due_to_last_accepted_s'], '.2f')} s "
            f"| {_f(v['fires_per_s'], ',.0f')} | {v['web_cpu_ms_per_fire']:.2f} ms "
            f"| {v['daemon_cpu_ms_per_fire']:.2f} ms | {v['logs']:,} | {v['lost']} "
            f"| {v['fire_ids_twice']} |"
        )
    drains = [row for row in rows if row.what.startswith("drain")]
    if drains:
        lines += [
            "",
            "| drain | jobs | due (or first enqueue) → last ended | jobs/s | job median "
            "(RQ start → end) | checks |",
            "|---|---|---|---|---|---|",
        ]
        for row in drains:
            v = row.values
            rate = row.n / v["drain_s"] if v.get("drain_s") else None
            checks = (
                f"{v.get('statuses')}, lost {v.get('lost')}, twice {v.get('fire_ids_twice')}"
                if row.what == "drain btu"
                else f"ended {v.get('ended')}, enqueue took {v['enqueue_s']:.2f} s"
            )
            lines.append(
                f"| {row.what.split()[1]} | {row.n:,} | {_f(v.get('drain_s'), '.1f')} s "
                f"| {_f(rate, '.1f')} | {_f(v.get('job_median_ms'), '.0f')} ms | {checks} |"
            )
    return "\n".join(lines)


def _alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, TypeError, ValueError):
        return False
    return True


def _sizes(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()] if text else []


def _setting(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key.strip(), value.strip()


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True, help="the site's base URL (gunicorn)")
    p.add_argument("--host", default="", help="Host header (the site name)")
    p.add_argument("--api-key", required=True)
    p.add_argument("--api-secret", required=True)
    p.add_argument("--bench", required=True, help="the frappe-bench folder")
    p.add_argument("--site", default="", help="site name (default: --host)")
    p.add_argument("--redis-url", default="", help="default: the Redis the app publishes to")
    p.add_argument("--sizes", default="100,1000,10000", help="batch endpoint sizes")
    p.add_argument("--single-sizes", default="100,1000", help="single endpoint sizes")
    p.add_argument("--drain-sizes", default="100,1000")
    p.add_argument("--hold-queue", default="btu_bench_hold")
    p.add_argument("--drain-queue", default="default")
    p.add_argument(
        "--daemon-setting",
        action="append",
        default=[],
        type=_setting,
        metavar="KEY=VALUE",
        help="another daemon setting (e.g. http_concurrency=4), repeatable",
    )
    p.add_argument("--logdir", default="/tmp/btu-real-bench")
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args(argv)
    args.site = args.site or args.host
    if not args.site:
        p.error("give --site or --host")
    site = Site(Path(args.bench), args.site)
    info = site.call("info")
    args.redis_url = args.redis_url or info["redis_url"]
    args.held = True
    if args.hold_queue not in info["queues"]:
        print(
            f"note: --hold-queue {args.hold_queue} is not a queue of this bench "
            f"({info['queues']}): the acceptance rows' jobs go to --drain-queue "
            f"{args.drain_queue}, where the workers run some of them meanwhile (the rest "
            "are deleted unrun after each row)",
            flush=True,
        )
        args.hold_queue, args.held = args.drain_queue, False
    served = {
        q.split(":")[-1] for w in info["workers"] if _alive(w.get("pid")) for q in w["queues"]
    }
    if args.held and args.hold_queue in served:
        p.error(f"a worker serves --hold-queue {args.hold_queue}: it must hold the jobs")
    if args.drain_queue not in served and _sizes(args.drain_sizes):
        p.error(f"no worker serves --drain-queue {args.drain_queue}")
    print(f"load average at the start: {load_average()}", flush=True)
    signal.signal(signal.SIGTERM, _terminate)
    run = Run(args)
    try:
        if _sizes(args.single_sizes):
            run.acceptance("single", 1, _sizes(args.single_sizes))
        if _sizes(args.sizes):
            run.acceptance("batch", 100, _sizes(args.sizes))
        if _sizes(args.drain_sizes):
            run.drain(_sizes(args.drain_sizes))
    finally:
        run.cleanup()
    print()
    print(render(run.rows, info, args))
    if args.json:
        Path(args.json).write_text(
            json.dumps({"info": info, "rows": [r.__dict__ for r in run.rows]}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
