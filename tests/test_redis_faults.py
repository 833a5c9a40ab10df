"""Redis faults against real daemon processes and a private redis-server.

Start-up: the daemon waits for Redis instead of dying (unreachable, refusing the
password, or without the database index asked for): one JSON line per attempt, the
password never printed, and it starts normally once Redis answers. While running:
FLUSHALL under a connected daemon is noticed within seconds."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import orjson
import pytest
import redis

from btu_scheduler.demo.embedded import free_port
from btu_scheduler.redisdiag import AUTH_FAILED, BAD_DB, UNREACHABLE, describe
from streams.publish import publish_all
from streams.redisio import hgetall_text
from tests.harness import Stack, now_ms, wait_for
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow

PASSWORD = "hunter2-do-not-log"


def _needs_redis_server() -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server on PATH for fault injection")


def _events(log: str, event: str) -> list[dict[str, object]]:
    lines = [orjson.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == event]


def _url(port: int, password: str | None = None, db: int = 0) -> str:
    auth = f":{password}@" if password else ""
    return f"redis://{auth}127.0.0.1:{port}/{db}"


def test_daemon_started_before_redis_waits_then_arms_and_fires(tmp_path: Path, site: str) -> None:
    """Nothing listens on the port at start-up: the daemon logs one line per attempt and
    stays up; once a redis-server starts there it takes the lease, arms and fires."""
    _needs_redis_server()
    server = RedisServer(port=free_port())
    stack = Stack(server.url, site, tmp_path)
    try:
        daemon = stack.start_daemon("early", wait_leader=False)
        wait_for(lambda: len(_events(daemon.log(), UNREACHABLE)) >= 3 or not daemon.alive, 15)
        assert daemon.alive, daemon.log()[-2000:]
        assert "Traceback" not in daemon.log()
        attempts = [line["attempt"] for line in _events(daemon.log(), UNREACHABLE)]
        assert attempts[:3] == [1, 2, 3]
        server.start()
        stack.once("RL-EARLY", now_ms() + 500)
        wait_for(lambda: stack.enqueued(), 20)
        assert ["RL-EARLY"] == [f.id for f in stack.enqueued()]
    finally:
        stack.close()
        server.cleanup()


def test_wrong_password_is_said_plainly_and_the_daemon_waits(tmp_path: Path, site: str) -> None:
    """The daemon's ACL user does not exist yet: each attempt logs redis_auth_failed (the
    password never appears); once the user is created the daemon starts and fires."""
    _needs_redis_server()
    server = RedisServer(args=["--requirepass", "admin-pass"]).start()
    admin_url = _url(server.port, "admin-pass")
    admin = redis.Redis.from_url(admin_url)
    stack = Stack(admin_url, site, tmp_path)
    try:
        url = f"redis://btu:{PASSWORD}@127.0.0.1:{server.port}/0"
        daemon = stack.start_daemon("auth", wait_leader=False, BTU_REDIS_URL=url)
        wait_for(lambda: len(_events(daemon.log(), AUTH_FAILED)) >= 2 or not daemon.alive, 15)
        assert daemon.alive, daemon.log()[-2000:]
        log = daemon.log()
        assert PASSWORD not in log and "Traceback" not in log
        line = _events(log, AUTH_FAILED)[0]
        assert "password" in str(line["problem"]) and "********" in str(line["redis"])
        admin.acl_setuser("btu", enabled=True, passwords=[f"+{PASSWORD}"], keys=["*"],
                          channels=["*"], commands=["+@all"])  # fmt: skip
        stack.once("RL-AUTH", now_ms() + 500)
        wait_for(lambda: stack.enqueued(), 20)
        assert PASSWORD not in daemon.log()
    finally:
        admin.close()
        stack.close()
        server.cleanup()


def test_missing_database_index_waits_instead_of_exiting(tmp_path: Path, site: str) -> None:
    """A database index the server does not have: redis_db_invalid per attempt, exit
    neither 1 nor 2; the process stays up until stopped, then exits 0."""
    _needs_redis_server()
    server = RedisServer(args=["--databases", "2"]).start()
    stack = Stack(server.url, site, tmp_path)
    try:
        daemon = stack.start_daemon("db", wait_leader=False, BTU_REDIS_URL=_url(server.port, db=5))
        wait_for(lambda: len(_events(daemon.log(), BAD_DB)) >= 2 or not daemon.alive, 15)
        assert daemon.alive, daemon.log()[-2000:]
        assert "Traceback" not in daemon.log()
        assert 0 == daemon.term()
    finally:
        stack.close()
        server.cleanup()


@pytest.mark.parametrize(
    ("error", "event"),
    [
        (redis.AuthenticationError("invalid username-password pair"), AUTH_FAILED),
        (redis.ResponseError("DB index is out of range"), BAD_DB),
        (redis.ConnectionError("Error 111 connecting"), UNREACHABLE),
        (ConnectionRefusedError(111, "refused"), UNREACHABLE),
    ],
)
def test_errors_are_described_for_operators(error: Exception, event: str) -> None:
    assert event == describe(error)[0]


def test_flushall_under_a_connected_daemon_is_noticed_and_republished(
    tmp_path: Path, site: str, private_redis: RedisServer
) -> None:
    """FLUSHALL while the daemon stays connected (no reconnect to trigger a check): it
    logs redis_state_lost within seconds, keeps firing, and calls republish_all, after
    which the state hash is back."""
    stack = Stack(private_redis.url, site, tmp_path)
    try:
        spec = stack.cron("TS-FLUSH", "* * * * * *")
        stack.cfg.republish = lambda: publish_all(stack.r, stack.keys, [spec], now_ms()).upserts
        daemon = stack.start_daemon("f1")
        wait_for(lambda: stack.enqueued(), 5)
        stack.r.flushall()
        flushed = now_ms()
        wait_for(lambda: stack.cfg.republished >= 1, 10)
        assert {"TS-FLUSH"} == set(hgetall_text(stack.r, stack.keys.state))
        wait_for(lambda: [f for f in stack.enqueued() if f.due > flushed], 10)
        [lost] = _events(daemon.log(), "redis_state_lost")
        assert "error" == lost["level"] and daemon.alive
        assert "redis_reconnected" not in daemon.log()
    finally:
        stack.close()


def test_a_republish_slower_than_the_request_timeout_is_asked_once(
    tmp_path: Path, site: str, private_redis: RedisServer
) -> None:
    """The app takes longer than a fire's request timeout (1 s here) to republish a large
    site: the daemon waits for its answer instead of timing out and asking again."""
    stack = Stack(private_redis.url, site, tmp_path)
    try:
        spec = stack.cron("TS-SLOW", "* * * * * *")

        def slow_republish() -> int:
            time.sleep(2.0)
            return publish_all(stack.r, stack.keys, [spec], now_ms()).upserts

        stack.cfg.republish = slow_republish
        daemon = stack.start_daemon("s1")
        wait_for(lambda: stack.enqueued(), 5)
        stack.r.flushall()
        wait_for(lambda: _events(daemon.log(), "republish_requested"), 15)
        assert 1 == stack.cfg.republished
        [answer] = _events(daemon.log(), "republish_requested")
        assert "enqueued" == answer["outcome"]
    finally:
        stack.close()
