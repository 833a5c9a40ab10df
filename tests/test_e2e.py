"""End to end: publish → daemon fires → stand-in endpoint → RQ job ran, plus the
operator CLI against a live daemon."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from streams.keys import F
from tests.harness import Stack, now_ms, wait_for

pytestmark = pytest.mark.slow


def test_published_schedule_fires_and_rq_job_runs(stack: Stack) -> None:
    """A seconds-level cron item fires within milliseconds of its instant and the RQ job
    enqueued under the fire_id-derived id runs the task."""
    stack.start_daemon()
    stack.cron("TS-E2E-1", "* * * * * *", tz="Europe/London")
    fire = wait_for(lambda: stack.enqueued(), 5)[0]
    assert fire.job == fire.fire_id.replace("@", "_")
    assert fire.fire_id == f"TS-E2E-1@{fire.due}"
    assert fire.due % 1000 == 0
    assert 0 <= fire.lag_ms < 1000
    stack.run_worker()
    job = stack.queue().fetch_job(fire.job)
    assert job is not None and job.is_finished
    assert str(job.return_value()).startswith("hello, world")


def test_once_item_fires_exactly_once_then_disarms(stack: Stack) -> None:
    """A run-later item fires one time at its instant and is no longer armed after."""
    stack.start_daemon()
    at = now_ms() + 700
    stack.once("RL-E2E-1", at)
    assert stack.rpc("reload", "RL-E2E-1")["armed"] is True
    fire = wait_for(lambda: stack.enqueued(), 5)[0]
    assert (fire.id, fire.due) == ("RL-E2E-1", at)
    wait_for(lambda: stack.ping()["armed"] == 0, 3)
    assert 1 == len([f for f in stack.fires() if f.id == "RL-E2E-1"])


def test_reload_answers_after_the_change_is_applied(stack: Stack) -> None:
    """`reload` replies armed with the next five instants in the item's zone."""
    stack.start_daemon()
    stack.cron("TS-E2E-2", "30 2 * * *", tz="America/New_York")
    reply = stack.rpc("reload", "TS-E2E-2")
    assert reply["id"] == "TS-E2E-2" and reply["armed"] is True
    assert 5 == len(reply["next"])
    assert all(":30:00-0" in instant for instant in reply["next"])


def test_disabled_and_deleted_items_are_not_armed(stack: Stack) -> None:
    """enabled=0 keeps the item known but unarmed; delete removes it."""
    stack.start_daemon()
    stack.cron("TS-E2E-3", "* * * * *", enabled=False)
    assert stack.rpc("reload", "TS-E2E-3") == {"id": "TS-E2E-3", "armed": False, "next": []}
    stack.cron("TS-E2E-4", "* * * * *")
    assert stack.rpc("reload", "TS-E2E-4")["armed"] is True
    stack.delete("TS-E2E-4")
    assert stack.rpc("reload", "TS-E2E-4") == {"id": "TS-E2E-4", "armed": False, "next": []}
    ids = [row["id"] for row in stack.rpc("schedules")]
    assert ["TS-E2E-3"] == ids


def test_malformed_entries_are_dead_lettered_and_the_daemon_carries_on(stack: Stack) -> None:
    """Bad stream entries land in the dead stream with a reason; later good ones apply."""
    stack.start_daemon()
    cron = {"v": "1", "op": "upsert", "kind": "cron", "task": "t", "enabled": "1", "ts": "1"}
    bad = [
        {"v": "1", "op": "upsert", "id": "TS-BAD-1"},
        {"v": "2", "op": "upsert", "id": "TS-BAD-2"},
        {"v": "1", "op": "explode", "id": "TS-BAD-3", "ts": "1"},
        cron | {"id": "TS-BAD-4", "cron": "61 * * * *", "tz": "UTC"},
        cron | {"id": "TS-BAD-5", "cron": "* * * * *", "tz": "Mars/Base"},
    ]
    for fields in bad:
        stack.r.xadd(stack.keys.schedules, fields)
    stack.cron("TS-GOOD-1", "* * * * *")
    assert stack.rpc("reload", "TS-GOOD-1")["armed"] is True
    dead = wait_for(lambda: len(stack.dead()) == len(bad) and stack.dead(), 5)
    assert all(d[F.REASON] for d in dead)
    assert ["TS-BAD-1", "TS-BAD-2", "TS-BAD-3", "TS-BAD-4", "TS-BAD-5"] == [
        orjson.loads(d[F.FIELDS])["id"] for d in dead
    ]
    assert "minute" in dead[3][F.REASON] and "Mars/Base" in dead[4][F.REASON]
    assert stack.ping()["leader"] is True


def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = stack.env("cli")
    return subprocess.run(
        [sys.executable, "-m", "btu_scheduler.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_operator_commands_talk_to_the_daemon(stack: Stack) -> None:
    """ping, status, next, schedules and resync answer through the RPC stream."""
    stack.start_daemon("ops-1")
    stack.cron("TS-OPS-1", "*/5 * * * *", tz="Asia/Kolkata")
    stack.rpc("reload", "TS-OPS-1")
    assert "pong from ops-1 (leader)" in _cli(stack, "ping").stdout
    status = _cli(stack, "status")
    assert status.returncode == 0 and "armed      1 of 1 items" in status.stdout
    nxt = _cli(stack, "next", "3")
    assert nxt.returncode == 0 and "TS-OPS-1" in nxt.stdout
    schedules = _cli(stack, "schedules")
    assert "TS-OPS-1" in schedules.stdout and "+05:30" in schedules.stdout
    assert "resynced: 1 armed" in _cli(stack, "resync").stdout


def test_operator_commands_exit_1_when_no_daemon_answers(stack: Stack) -> None:
    """A daemon that left a heartbeat but does not answer: RPC commands exit 1 with one
    clear line."""
    stack.r.hset(stack.keys.scheduler("ghost"), "instance", "ghost")
    stack.r.pexpire(stack.keys.scheduler("ghost"), 30_000)
    result = _cli(stack, "ping", "--timeout", "0.3")
    assert 1 == result.returncode
    assert "no btu-scheduler answered 'ping'" in result.stderr
    assert 1 == len(result.stderr.strip().splitlines())


def test_a_site_without_a_daemon_is_named_and_left_untouched(stack: Stack) -> None:
    """A mistyped site exits 1 saying no daemon runs for it, and leaves no key behind
    (ping used to leave a btu:{site}:rpc stream forever)."""
    stack.start_daemon("real-1")
    for command in (["ping", "--timeout", "0.3"], ["status"], ["fires"], ["dead"],
                    ["reload", "X"], ["cancel", "X"]):  # fmt: skip
        result = _cli(stack, *command, "--site", "typo.example.com")
        assert (1, 1) == (result.returncode, len(result.stderr.strip().splitlines())), command
        assert "no btu-scheduler is running for site 'typo.example.com'" in result.stderr
        assert stack.site in result.stderr  # the sites that do have a daemon
    assert [] == list(stack.r.scan_iter(match="btu:typo.example.com:*"))


def test_config_masks_secrets(stack: Stack) -> None:
    """`config` prints every setting with the API secret masked."""
    result = _cli(stack, "config")
    assert 0 == result.returncode
    assert "test-secret-do-not-log" not in result.stdout
    assert "api_secret" in result.stdout and "********" in result.stdout


def test_secrets_never_reach_the_daemon_log(stack: Stack) -> None:
    """The API secret appears nowhere in the daemon's log, even when firing fails."""
    stack.cfg.fault = lambda _req: (401, {"exc_type": "AuthenticationError"})
    daemon = stack.start_daemon()
    stack.cron("TS-SEC-1", "* * * * * *")
    wait_for(lambda: [f for f in stack.fires() if f.outcome == "failed"], 5)
    daemon.term()
    assert "test-secret-do-not-log" not in daemon.log()


def test_typed_rpc_shortcuts_against_a_live_daemon(stack: Stack) -> None:
    """RpcClient's typed shortcuts return the daemon's answers as dataclasses."""
    from streams.rpc import RpcClient

    stack.start_daemon("typed")
    client = RpcClient(stack.r, stack.keys)
    stack.cron("TS-T-1", "0 12 * * *", tz="Asia/Kolkata")
    reload = client.reload("TS-T-1")
    assert ("TS-T-1", True, 5) == (reload.id, reload.armed, len(reload.next))
    ping = client.ping()
    assert ("typed", True, 1) == (ping.instance, ping.leader, ping.armed)
    assert ["TS-T-1"] == [n.id for n in client.next(3)]
    # A cancel lasts until the item's next upsert: a resync keeps it (docs/protocol.md).
    assert (True, 0) == (client.cancel("TS-T-1").removed, client.resync())
