"""The benchmark driver: starts a private redis-server and the stub endpoint, runs the
sections, prints one table, and stops everything it started, even on Ctrl-C or error."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from types import FrameType

import orjson

from benchmarks import (
    measure_fires,
    measure_fleet,
    measure_fleet_status,
    measure_idle,
    measure_propagation,
    measure_rpc,
    measure_rqcron,
    measure_startup,
)
from benchmarks.common import DAEMON_LOG_LEVEL, REPO, Bench, Row

Section = Callable[[Bench, bool], list[Row]]
SECTIONS: dict[str, Section] = {
    "propagation": measure_propagation.run,
    "firelag": measure_fires.run_lag,
    "burst": measure_fires.run_burst,
    "ping": measure_rpc.run,
    "startup": measure_startup.run,
    "idle": measure_idle.run,
    "rqcron": measure_rqcron.run,
    "fleetstatus": measure_fleet_status.run,
    "fleet": measure_fleet.run,
}
COLUMNS = ("metric", "measured", "baseline (same run)", "ratio", "target", "met?")


def machine(bench: Bench | None) -> dict[str, str]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": f"{os.cpu_count()} ({len(os.sched_getaffinity(0))} usable)",
        "cpu": cpu,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "redis-py": version("redis"),
        "rq": version("rq"),
        "urllib3": version("urllib3"),
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    if bench is not None:
        info["redis-server"] = str(bench.r.info("server")["redis_version"])
        info["daemon source"] = describe_source(bench.daemon_src)
    return info


def describe_source(src: Path) -> str:
    """Which code the daemon ran: the commit (and whether the tree differs from it)."""
    marker = src / "SNAPSHOT_OF"
    if marker.is_file():
        return f"{src} (snapshot of {marker.read_text().strip()})"
    try:
        described = subprocess.run(
            ["git", "-C", str(src), "describe", "--always", "--dirty", "--exclude", "*"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return f"{src} (not a git checkout)"
    return f"{src} @ {described}"


def render(rows: list[Row]) -> str:
    cells = [COLUMNS] + [
        (r.metric, r.measured, r.baseline, r.ratio, r.target, r.verdict) for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    lines = []
    for n, c in enumerate(cells):
        lines.append("| " + " | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    notes = [f"- {r.metric}: {r.detail}" for r in rows if r.detail]
    return "\n".join(lines + (["", "Notes:", *notes] if notes else []))


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Benchmarks of btu-scheduler on a private redis-server with a local "
        "stub endpoint; prints one table.",
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, ~2 minutes")
    parser.add_argument(
        "--only", nargs="+", choices=list(SECTIONS), metavar="NAME",
        help=f"run only these sections: {', '.join(SECTIONS)}",
    )  # fmt: skip
    parser.add_argument("--json", metavar="PATH", help="also write the rows and machine here")
    parser.add_argument("--keep", action="store_true", help="keep the logs directory")
    parser.add_argument(
        "--profile", metavar="DIR",
        help="sample every daemon with py-spy (must be installed) into DIR/<site>-<pid>.txt",
    )  # fmt: skip
    parser.add_argument(
        "--daemon-src", metavar="DIR", default=str(REPO),
        help="run the daemon from this source tree (e.g. a copy with a prototype fix); "
        "default: this repository",
    )  # fmt: skip
    parser.add_argument(
        "--startup-sizes", nargs="+", type=int, metavar="N",
        help="item counts the startup section measures (default: 100000 1000000; "
        "100000 with --quick), e.g. --only startup --startup-sizes 1000000",
    )  # fmt: skip
    args = parser.parse_args(argv)
    measure_startup.SIZES = args.startup_sizes
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored

    workdir = Path(tempfile.mkdtemp(prefix="btu-bench-"))
    rows: list[Row] = []
    bench: Bench | None = None
    failed = False
    started = time.monotonic()
    try:
        profile = Path(args.profile).resolve() if args.profile else None
        bench = Bench(workdir, profile, Path(args.daemon_src).resolve())
        before = machine(bench)
        for name in args.only or SECTIONS:
            print(f"[{time.monotonic() - started:6.1f} s] {name} ...", file=sys.stderr, flush=True)
            try:
                bench.reset()
                rows.extend(SECTIONS[name](bench, args.quick))
            except KeyboardInterrupt:
                raise
            except Exception as e:
                failed = True
                traceback.print_exc()
                rows.append(Row(f"{name}: FAILED", f"{type(e).__name__}: {e}"[:200]))
    except KeyboardInterrupt:
        print("interrupted: stopping everything", file=sys.stderr)
        return 130
    finally:
        if bench is not None:
            bench.close()
        if args.keep or failed:
            print(f"logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    after = machine(None)
    mode = "quick" if args.quick else "full"
    print(f"\nbtu-scheduler benchmarks ({mode}), {before['date']}, "
          f"{time.monotonic() - started:.0f} s")  # fmt: skip
    for key, value in before.items():
        if key != "date":
            print(f"  {key}: {value}")
    print(f"  load average at the end: {after['load average']}")
    print(f"  daemon log level: {DAEMON_LOG_LEVEL} (start-up section: info)\n")
    print(render(rows))
    if args.json:
        Path(args.json).write_bytes(
            orjson.dumps(
                {"machine": before, "end": after, "mode": mode, "rows": [r.__dict__ for r in rows]},
                option=orjson.OPT_INDENT_2,
            )
        )
    return 1 if failed else 0
