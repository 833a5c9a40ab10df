"""``btu-scheduler demo``: the whole chain on one machine, in about 20 seconds.

Embedded Redis → the daemon (a real ``btu-scheduler run`` process) → the stand-in
enqueue endpoint → RQ → an RQ worker running example functions. It publishes a few
schedules the way the app does, prints what happens, sums up, and cleans up everything
it started.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job

from btu_scheduler.demo.embedded import start_embedded
from btu_scheduler.demo.standin import StandInConfig, StandInEndpoint
from btu_scheduler.demo.tasks import DEMO_TASKS
from btu_scheduler.stats import percentile
from streams.errors import RpcError
from streams.keys import Keys
from streams.messages import FireRecord, ScheduleUpsert
from streams.publish import publish_all, publish_upsert
from streams.redisio import xread
from streams.rpc import RpcClient

SITE = "demo.localhost"
API_KEY, API_SECRET = "demo-key", "demo-secret"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="run the whole chain locally for ~20 s (embedded Redis, stand-in site, RQ worker)",
    )
    p.add_argument("--seconds", type=float, default=20.0, help="how long to watch (default 20)")
    p.add_argument(
        "--keep",
        action="store_true",
        help="after the summary, keep everything running until Ctrl-C (to try the commands)",
    )
    p.add_argument(
        "--fakeredis",
        action="store_true",
        help="use fakeredis's TCP server even when redis-server is installed",
    )
    p.set_defaults(func=run)


def _say(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')}  {text}", flush=True)


def _schedules(now_ms: int) -> list[ScheduleUpsert]:
    return [
        ScheduleUpsert(id="TS-DEMO-01", kind="cron", task="Say Hello", cron="*/2 * * * * *",
                       tz="Europe/London", enabled=True, ts=now_ms),
        ScheduleUpsert(id="TS-DEMO-02", kind="cron", task="Sum Numbers", cron="*/5 * * * * *",
                       tz="America/New_York", enabled=True, ts=now_ms),
        ScheduleUpsert(id="RL-DEMO-01", kind="once", task="Nap", at=now_ms + 7_000,
                       enabled=True, ts=now_ms),
        ScheduleUpsert(id="TS-DEMO-03", kind="cron", task="Say Hello", cron="* * * * * *",
                       tz="UTC", enabled=False, ts=now_ms),
    ]  # fmt: skip


def run(args: argparse.Namespace) -> int:
    started: list[Any] = []
    workdir = Path(tempfile.mkdtemp(prefix="btu-demo-"))
    try:
        return _run(args, started, workdir)
    except KeyboardInterrupt:
        _say("interrupted" if not args.keep else "stopping")
        return 0 if args.keep else 130
    finally:
        for thing in reversed(started):
            _stop(thing)
        _say(f"cleaned up: everything the demo started is stopped (logs kept in {workdir})")


def _stop(thing: Any) -> None:
    if isinstance(thing, subprocess.Popen):
        if thing.poll() is None:
            thing.send_signal(signal.SIGTERM)
            try:
                thing.wait(timeout=15)
            except subprocess.TimeoutExpired:
                thing.kill()
                thing.wait()
    elif hasattr(thing, "cleanup"):
        thing.cleanup()
    else:
        thing.stop()


def _run(args: argparse.Namespace, started: list[Any], workdir: Path) -> int:
    server = start_embedded(prefer_real=not args.fakeredis)
    started.append(server)
    _say(f"redis: {server.kind} on port {server.port}")
    r = redis.Redis.from_url(server.url)
    keys = Keys(SITE)
    functions = {s.id: DEMO_TASKS[s.task] for s in _schedules(0)}

    def republish() -> int:
        return publish_all(
            r, keys, _schedules(int(time.time() * 1000)), int(time.time() * 1000)
        ).upserts

    endpoint = StandInEndpoint(
        StandInConfig(server.url, SITE, API_KEY, API_SECRET, functions, republish=republish)
    ).start()
    started.append(endpoint)
    _say(f"stand-in site endpoint: {endpoint.url}")

    env = os.environ | {
        "BTU_REDIS_URL": server.url, "BTU_SITE": SITE, "BTU_FRAPPE_URL": endpoint.url,
        "BTU_API_KEY": API_KEY, "BTU_API_SECRET": API_SECRET, "BTU_LOG_FORMAT": "json",
        "BTU_INSTANCE": "demo-daemon", "BTU_LEASE_SECONDS": "3",
    }  # fmt: skip
    worker_log = (workdir / "rq-worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "rq.cli", "worker", "--url", server.url, "--worker-class",
         "btu_scheduler.demo.worker.DemoWorker", "--name", "btu-demo-worker", "default"],
        stdout=worker_log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    started.append(worker)
    _say("rq worker started (queue 'default')")
    daemon_log = (workdir / "btu-scheduler.log").open("wb")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "btu_scheduler.cli", "run"],
        stdout=daemon_log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    started.append(daemon)
    rpc = RpcClient(r, keys)
    if not _wait_for_daemon(rpc, daemon):
        _say(f"the daemon did not answer; see {workdir / 'btu-scheduler.log'}")
        return 1
    _say(f"btu-scheduler running (pid {daemon.pid}), logs in {workdir / 'btu-scheduler.log'}")

    now = int(time.time() * 1000)
    for spec in _schedules(now):
        publish_upsert(r, keys, spec)
        reply = rpc.call("reload", spec.id, timeout=2.0)
        when = spec.cron if spec.kind == "cron" else "once"
        if reply["armed"]:
            _say(f"armed     {spec.id} ({spec.task}, {when}) next: {', '.join(reply['next'][:2])}")
        else:
            _say(f"published {spec.id} ({spec.task}, {when}) disabled: not armed")

    fires, finished = _watch(r, keys, args.seconds)
    _summary(server, keys, fires, finished, rpc, args.keep)
    if args.keep:
        _say("still running (--keep): press Ctrl-C to stop everything")
        while daemon.poll() is None:
            time.sleep(0.5)
    return 0


def _wait_for_daemon(rpc: RpcClient, daemon: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and daemon.poll() is None:
        try:
            if rpc.call("ping", timeout=0.5)["leader"]:
                return True
        except RpcError:
            pass
    return False


def _watch(r: redis.Redis, keys: Keys, seconds: float) -> tuple[list[FireRecord], dict[str, float]]:
    fires: list[FireRecord] = []
    waiting: dict[str, FireRecord] = {}
    finished: dict[str, float] = {}
    last = "$"
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if last == "$":
            info = r.xinfo_stream(keys.fires) if r.exists(keys.fires) else None
            last = info["last-generated-id"].decode() if info else "0-0"
        for _stream, entries in xread(r, {keys.fires: last}, 200):
            for entry_id, raw in entries:
                last = entry_id
                record = FireRecord.decode(raw)
                fires.append(record)
                _say(
                    f"fired     {record.id:<11} due {_clock(record.due)}  lag {record.lag_ms:>3} ms"
                    f"  → {record.outcome} {record.job}"
                )
                if record.job:
                    waiting[record.job] = record
        for job_id, record in list(waiting.items()):
            try:
                job = Job.fetch(job_id, connection=r)
            except NoSuchJobError:
                continue
            if job.is_finished or job.is_failed:
                ended = job.ended_at.timestamp() if job.ended_at else time.time()
                finished[job_id] = (ended * 1000) - record.due
                result = job.return_value() if job.is_finished else "FAILED"
                _say(
                    f"job done  {record.id:<11} {finished[job_id]:>5.0f} ms after due → {result!r}"[
                        :150
                    ]
                )
                del waiting[job_id]
    return fires, finished


def _clock(ms: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ms / 1000)) + f".{ms % 1000:03d}"


def _summary(
    server: Any,
    keys: Keys,
    fires: list[FireRecord],
    finished: dict[str, float],
    rpc: RpcClient,
    keep: bool,
) -> None:
    outcomes = Counter(f.outcome for f in fires)
    lags = sorted(f.lag_ms for f in fires if f.outcome == "enqueued")
    print()
    _say("summary")
    print(f"  fires: {len(fires)} ({', '.join(f'{k} {v}' for k, v in sorted(outcomes.items()))})")
    if lags:
        print(f"  fire lag (due → request sent): p50 {percentile(lags, 50)} ms, max {lags[-1]} ms")
    print(f"  jobs finished: {len(finished)}")
    try:
        status = rpc.call("status", timeout=2.0)
        print(f"  daemon: {status['armed']} armed, {status['events_applied']} changes applied")
    except RpcError:
        pass
    cli = f"redis-cli -p {server.port}"
    where = "now" if keep else "with `btu-scheduler demo --keep`, or against your own Redis"
    print(f"  inspect what happened ({where}):")
    print(f"    {cli} XRANGE {keys.fires} - +")
    print(f"    {cli} XRANGE {keys.schedules} - +")
    print(f"    {cli} HGETALL {keys.state}")
    print(f"    {cli} GET {keys.leader}")
    print(f"    {cli} HGETALL {keys.scheduler('demo-daemon')}")
    env = f"BTU_SITE={keys.site} BTU_REDIS_URL={server.url}"
    print("  or with the operator's commands (in the venv: `. .venv/bin/activate`):")
    for command in ("status", "schedules", "fires", "dead"):
        print(f"    {env} btu-scheduler {command}")
    if not keep:
        print("  (this Redis stops with the demo: run `btu-scheduler demo --keep` to keep it)")
    print("  read next: README.md (what BTU is), docs/operations.md (running the daemon),")
    print("  docs/desk-guide.md (tasks and schedules in the Desk)")
