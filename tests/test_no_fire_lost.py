"""Issue 8, part A: no claimed fire is lost, whatever happens to the daemon that claimed
it (kill -9 and a restart under the same name, a failover, a SIGTERM while
requests are in flight), and what a leader keeps in Redis stays bounded and fenced.

Real ``btu-scheduler run`` processes against a real Redis and the stand-in site."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from streams.keys import Outcome, demo_seen_key
from streams.redisio import text
from tests.harness import Stack, now_ms, wait_for

pytestmark = pytest.mark.slow

Fault = dict[str, object]


class Flaky:
    """The site answers 503 to every request until ``heal()``."""

    def __init__(self) -> None:
        self.healthy = threading.Event()

    def __call__(self, _request: Fault) -> tuple[int, Fault] | None:
        return None if self.healthy.is_set() else (503, {"exception": "queue unavailable"})

    def heal(self) -> None:
        self.healthy.set()


def _retrying_fire_ids(stack: Stack, item_id: str) -> set[str]:
    return {f.fire_id for f in stack.fires() if f.id == item_id and f.outcome == "retrying"}


def _accepted(stack: Stack) -> set[str]:
    return {text(m) for m in stack.r.smembers(demo_seen_key(stack.site))}


def _no_fire_enqueued_twice(stack: Stack) -> None:
    enqueued = Counter(f.fire_id for f in stack.fires() if f.outcome == Outcome.ENQUEUED)
    assert [] == [fid for fid, n in enqueued.items() if n > 1]


def _claim_several_then(stack: Stack, flaky: Flaky, item_id: str, count: int) -> set[str]:
    """A every-second item whose fires all get 503 until ``count`` of them are retrying."""
    stack.cfg.fault = flaky
    stack.cron(item_id, "* * * * * *")
    return set(
        wait_for(lambda: len(ids := _retrying_fire_ids(stack, item_id)) >= count and ids, 15)
    )


def test_restart_under_the_same_name_resends_every_claimed_fire(stack: Stack) -> None:
    """Fires of one item claimed and still retrying when the daemon is killed -9 are all
    re-sent by the daemon restarted under the same instance name (a new incarnation),
    and each is accepted exactly once."""
    flaky = Flaky()
    daemon = stack.start_daemon("same")
    _claim_several_then(stack, flaky, "TS-SAME", 4)
    daemon.kill()
    claimed = _retrying_fire_ids(stack, "TS-SAME")  # every claim made before the kill
    flaky.heal()
    again = stack.start_daemon("same")
    wait_for(lambda: _accepted(stack) >= claimed, 15)
    _no_fire_enqueued_twice(stack)
    assert "fire_recovered" in again.log()


@pytest.mark.parametrize("stop", ["kill", "term"])
def test_next_leader_resends_every_claimed_fire(stack: Stack, stop: str) -> None:
    """Every claimed-but-unfinished fire (several of one item, not only its latest) is
    re-sent by the standby that takes over, after a crash and after a clean stop whose
    in-flight requests did not finish (the hand-back)."""
    flaky = Flaky()
    active = stack.start_daemon("h1", BTU_SHUTDOWN_TIMEOUT_SECONDS="0.2")
    stack.start_daemon("h2", wait_leader=False)
    _claim_several_then(stack, flaky, "TS-HAND", 4)
    if stop == "kill":
        active.kill()
    else:
        active.proc.send_signal(signal.SIGTERM)
        assert 0 == active.proc.wait(timeout=20)
        assert "fire_handed_back" in active.log()
    claimed = _retrying_fire_ids(stack, "TS-HAND")
    flaky.heal()
    wait_for(lambda: _accepted(stack) >= claimed, 15)
    _no_fire_enqueued_twice(stack)


def test_sigterm_keeps_the_lease_until_requests_in_flight_are_handed_back(
    stack: Stack,
) -> None:
    """Requests in flight outlast the lease (4 s against 1.5 s): the stopping leader keeps
    renewing it, so the standby does not take over until it is released, then at once."""
    release = threading.Event()

    def slow(_request: Fault) -> tuple[int, Fault] | None:
        release.wait(4)
        return None

    stack.cfg.fault = slow
    active = stack.start_daemon(
        "l1", BTU_REQUEST_TIMEOUT_SECONDS="10", BTU_SHUTDOWN_TIMEOUT_SECONDS="4"
    )
    stack.start_daemon("l2", wait_leader=False)
    stack.once("RL-SLOW", now_ms() + 200)
    wait_for(lambda: stack.cfg.requests, 10)
    active.proc.send_signal(signal.SIGTERM)
    holders: set[str] = set()
    until = time.monotonic() + 3.5  # the shutdown lasts 4 s: the request is still on
    while time.monotonic() < until:
        holder = stack.r.get(stack.keys.leader)
        holders.add(text(holder) if holder is not None else "none")
        time.sleep(0.05)
    release.set()
    assert 0 == active.proc.wait(timeout=5)
    assert [] == [h for h in holders if '"l1"' not in h]
    assert '"lease_released":true' in active.log()
    wait_for(lambda: stack.ping(0.3).get("instance") == "l2", 5)


def test_sighup_with_the_same_configuration_changes_nothing(stack: Stack, tmp_path: Path) -> None:
    """SIGHUP re-reads the configuration; unchanged, the daemon keeps its lease."""
    conf = tmp_path / "btu.toml"
    conf.write_text("grace_seconds = 300\n")
    daemon = stack.start_daemon("hup", BTU_CONFIG=str(conf))
    lease = stack.r.get(stack.keys.leader)
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: '"config_reloaded"' in daemon.log(), 10)
    assert daemon.alive
    assert '"changed":false' in daemon.log()
    assert lease == stack.r.get(stack.keys.leader)


def test_sighup_with_a_changed_configuration_restarts_with_it(stack: Stack, tmp_path: Path) -> None:
    """A changed setting: a clean stop (lease released), then the same process runs again
    with the new value; a broken file is refused and the daemon keeps running."""
    conf = tmp_path / "btu.toml"
    conf.write_text("grace_seconds = 300\n")
    daemon = stack.start_daemon("hup", BTU_CONFIG=str(conf))
    conf.write_text("grace_seconds = [\n")
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: '"config_reload_failed"' in daemon.log(), 10)
    conf.write_text("grace_seconds = 120\n")
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: '"lease_released":true' in daemon.log(), 10)
    wait_for(lambda: stack.ping(0.3).get("leader"), 15)
    assert daemon.alive
    assert '"changed":true' in daemon.log()
    assert 2 == daemon.log().count('"event":"loaded"')


def test_cancel_holds_across_a_failover_until_the_next_upsert(stack: Stack) -> None:
    """A cancelled item stays disarmed when the standby takes over after a kill -9, and
    fires again after its next upsert."""
    active = stack.start_daemon("c1")
    stack.start_daemon("c2", wait_leader=False)
    stack.cron("TS-CANCEL", "* * * * * *")
    wait_for(lambda: stack.enqueued(), 5)
    assert {"id": "TS-CANCEL", "removed": True} == stack.rpc("cancel", "TS-CANCEL")
    cancelled = now_ms()
    active.kill()
    wait_for(lambda: stack.ping(0.3).get("instance") == "c2", 10)
    time.sleep(2.5)
    assert [] == [f.fire_id for f in stack.fires() if f.instance == "c2" and f.due > cancelled]
    assert [] == [r for r in stack.rpc("schedules") if r["id"] == "TS-CANCEL" and r["next"]]
    stack.cron("TS-CANCEL", "* * * * * *")
    wait_for(lambda: [f for f in stack.enqueued() if f.instance == "c2"], 5)


def test_fired_markers_live_only_while_a_duplicate_is_possible(stack: Stack) -> None:
    """A fired marker expires after grace + retry deadline + request timeout + 60 s
    (300 + 300 + 1 + 60 s in the harness), not after days."""
    stack.start_daemon("ttl")
    stack.once("RL-TTL", now_ms() + 200)
    [fire] = wait_for(lambda: stack.enqueued(), 5)
    pttl = stack.r.pttl(stack.keys.fired(fire.fire_id))
    assert 600_000 < pttl <= 661_000


def test_last_fire_forgets_deleted_items(stack: Stack) -> None:
    """The leader removes a deleted item's last-fire field, and at start-up the fields of
    items deleted while no daemon ran."""
    stack.r.hset(stack.keys.last_fire, "TS-GONE-BEFORE", now_ms() - 60_000)
    stack.start_daemon("lf")
    wait_for(lambda: not stack.r.hexists(stack.keys.last_fire, "TS-GONE-BEFORE"), 5)
    stack.cron("TS-GONE", "* * * * * *")
    wait_for(lambda: stack.r.hexists(stack.keys.last_fire, "TS-GONE"), 5)
    stack.delete("TS-GONE")
    wait_for(lambda: not stack.r.hexists(stack.keys.last_fire, "TS-GONE"), 5)
