"""End-to-end harness: real daemons (``btu-scheduler run`` subprocesses) against a real
Redis and the demo's stand-in endpoint, on a site and an RQ queue of the test's own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import redis
from rq import Queue, SimpleWorker

from btu_scheduler.demo.standin import StandInConfig, StandInEndpoint
from btu_scheduler.demo.tasks import DEMO_TASKS
from streams.errors import RpcError
from streams.keys import Keys
from streams.messages import FireRecord, ScheduleDelete, ScheduleUpsert
from streams.publish import publish_delete, publish_upsert
from streams.redisio import xrevrange
from streams.rpc import RpcClient

API_KEY, API_SECRET = "test-key", "test-secret-do-not-log"


def now_ms() -> int:
    return int(time.time() * 1000)


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


class DaemonProc:
    """One ``btu-scheduler run`` process (``args``: the command and its options)."""

    def __init__(self, env: dict[str, str], log_path: Path, args: Sequence[str] = ("run",)) -> None:
        self.log_path = log_path
        self.instance = env["BTU_INSTANCE"]
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "btu_scheduler.cli", *args],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def term(self, timeout: float = 20.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def events(self) -> list[dict[str, Any]]:
        """The JSON log lines (BTU_LOG_FORMAT=json)."""
        out = []
        for line in self.log().splitlines():
            try:
                data = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(data, dict):
                out.append(data)
        return out

    def close(self) -> None:
        if self.alive:
            self.kill()
        self._log.close()


class Stack:
    """Redis + stand-in endpoint + daemons for one test."""

    def __init__(self, redis_url: str, site: str, tmp_path: Path) -> None:
        self.redis_url = redis_url
        self.site = site
        self.keys = Keys(site)
        self.tmp_path = tmp_path
        self.r = redis.Redis.from_url(redis_url)
        self.queue_name = f"btu-test-{site}"
        self.functions: dict[str, str] = {}
        self.cfg = StandInConfig(
            redis_url, site, API_KEY, API_SECRET, self.functions, queue=self.queue_name
        )
        self.endpoint = StandInEndpoint(self.cfg).start()
        self.daemons: list[DaemonProc] = []

    # -- daemons ----------------------------------------------------------------------

    def env(self, instance: str, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BTU_")}
        env |= {
            "BTU_REDIS_URL": self.redis_url,
            "BTU_SITE": self.site,
            "BTU_FRAPPE_URL": self.endpoint.url,
            "BTU_API_KEY": API_KEY,
            "BTU_API_SECRET": API_SECRET,
            "BTU_INSTANCE": instance,
            "BTU_LOG_FORMAT": "json",
            "BTU_LEASE_SECONDS": "1.5",
            "BTU_RETRY_INITIAL_SECONDS": "0.05",
            "BTU_RETRY_MAX_SECONDS": "0.2",
            "BTU_REQUEST_TIMEOUT_SECONDS": "1",
            "BTU_RECONNECT_MAX_SECONDS": "0.5",
        }
        env |= overrides
        return env

    def start_daemon(
        self, instance: str = "d1", *, wait_leader: bool = True, **env: str
    ) -> DaemonProc:
        proc = DaemonProc(self.env(instance, **env), self.tmp_path / f"{instance}.log")
        self.daemons.append(proc)
        if wait_leader:
            wait_for(lambda: self.ping(0.3).get("leader") if proc.alive else _dead(proc), 15)
        return proc

    def ping(self, timeout: float = 1.0) -> dict[str, Any]:
        try:
            data: dict[str, Any] = RpcClient(self.r, self.keys).call("ping", timeout=timeout)
            return data
        except Exception:
            return {}

    def rpc_or_none(self, cmd: str, arg: str | None = None, timeout: float = 1.0) -> Any:
        """Like :meth:`rpc`, but None when no daemon answers in time."""
        try:
            return self.rpc(cmd, arg, timeout)
        except RpcError:
            return None

    def rpc(self, cmd: str, arg: str | None = None, timeout: float = 2.0) -> Any:
        return RpcClient(self.r, self.keys).call(cmd, arg, timeout=timeout)

    # -- publishing (as the app does) ---------------------------------------------------

    def cron(self, item_id: str, cron: str, tz: str = "UTC", task: str = "Say Hello",
             enabled: bool = True) -> ScheduleUpsert:  # fmt: skip
        self.functions[item_id] = DEMO_TASKS[task]
        spec = ScheduleUpsert(id=item_id, kind="cron", task=task, cron=cron, tz=tz,
                              enabled=enabled, ts=now_ms())  # fmt: skip
        publish_upsert(self.r, self.keys, spec)
        return spec

    def once(
        self, item_id: str, at: int, task: str = "Say Hello", enabled: bool = True
    ) -> ScheduleUpsert:
        self.functions[item_id] = DEMO_TASKS[task]
        spec = ScheduleUpsert(
            id=item_id, kind="once", task=task, at=at, enabled=enabled, ts=now_ms()
        )
        publish_upsert(self.r, self.keys, spec)
        return spec

    def delete(self, item_id: str) -> None:
        publish_delete(self.r, self.keys, ScheduleDelete(id=item_id, ts=now_ms()))

    # -- observing ------------------------------------------------------------------------

    def fires(self) -> list[FireRecord]:
        entries = xrevrange(self.r, self.keys.fires, 100_000)
        return [FireRecord.decode(fields) for _eid, fields in reversed(entries)]

    def enqueued(self) -> list[FireRecord]:
        return [f for f in self.fires() if f.outcome == "enqueued"]

    def dead(self) -> list[dict[str, str]]:
        return [fields for _eid, fields in reversed(xrevrange(self.r, self.keys.dead, 100_000))]

    def run_worker(self) -> None:
        """Run the enqueued RQ jobs in this process (burst mode)."""
        worker = SimpleWorker([Queue(self.queue_name, connection=self.r)], connection=self.r)
        worker.work(burst=True)

    def queue(self) -> Queue:
        return Queue(self.queue_name, connection=self.r)

    def close(self) -> None:
        for proc in self.daemons:
            proc.close()
        self.endpoint.stop()
        for key in self.r.scan_iter(match=f"rq:*{self.queue_name}*", count=1000):
            self.r.delete(key)
        for fire in self.fires():
            if fire.job:
                self.r.delete(f"rq:job:{fire.job}", f"rq:results:{fire.job}")
        self.r.close()


def _dead(proc: DaemonProc) -> None:
    raise AssertionError(f"daemon {proc.instance} exited early:\n{proc.log()[-3000:]}")
