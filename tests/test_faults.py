"""Fault injection against real daemon processes: kill -9 at random moments, Redis
restarted empty, the site failing or slow, the active instance dying with a standby."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from streams.keys import Outcome, demo_seen_key
from streams.publish import publish_all
from streams.redisio import hgetall_text
from tests.harness import Stack, now_ms, wait_for
from tests.redis_server import RedisServer
from tests.tcpproxy import TcpProxy

pytestmark = pytest.mark.slow


def _post_counts(stack: Stack) -> Counter[str]:
    return Counter(req["fire_id"] for req in stack.cfg.requests)


def test_kill_9_at_random_moments_loses_no_change_and_no_fire(stack: Stack) -> None:
    """SIGKILLing the daemon during a burst of changes and fires, then restarting it,
    loses no change, misses no run-later item, and sends each fire once unless a restarted
    daemon recovered it (the endpoint then de-duplicates)."""
    rng = random.Random(20261127)
    # A slow site keeps requests in flight, so some kills land between claim and answer.
    stack.cfg.fault = lambda _request: time.sleep(0.15)
    stack.start_daemon("k0")
    start = now_ms()
    once_ids = [f"RL-K-{i:03d}" for i in range(80)]
    for i, item_id in enumerate(once_ids):
        stack.once(item_id, start + 1_000 + i * 175)

    def burst() -> None:
        for n in range(300):
            item_id = f"TS-K-{rng.randrange(40):03d}"
            if rng.random() < 0.2:
                stack.delete(item_id)
            else:
                stack.cron(item_id, f"{rng.randrange(60)} {rng.randrange(24)} * * *",
                           enabled=rng.random() < 0.8)  # fmt: skip
            time.sleep(0.01 if n % 10 else 0.05)

    publisher = threading.Thread(target=burst)
    publisher.start()
    for n in range(1, 7):
        time.sleep(rng.uniform(0.1, 1.5))
        stack.daemons[-1].kill()
        restarted = stack.start_daemon(f"k{n}", wait_leader=False)
        wait_for(lambda d=restarted: stack.ping(0.3).get("instance") == d.instance, 10)
    publisher.join()
    deadline_ms = start + 1_000 + 80 * 175 + 1_000
    wait_for(lambda: now_ms() > deadline_ms, 20)
    answered = (Outcome.ENQUEUED, Outcome.DUPLICATE)
    wait_for(lambda: {f.id for f in stack.fires() if f.outcome in answered} >= set(once_ids), 5)

    # No run-later item missed: each one's fire_id reached the site, which enqueued it.
    seen = {m.decode() for m in stack.r.smembers(demo_seen_key(stack.site))}
    assert [] == [i for i in once_ids if not any(s.startswith(f"{i}@") for s in seen)]
    # Never enqueued twice: one `enqueued` answer per fire_id, one RQ job per fire_id.
    enqueued = Counter(f.fire_id for f in stack.fires() if f.outcome == Outcome.ENQUEUED)
    assert [] == [fid for fid, n in enqueued.items() if n > 1]
    assert len(seen) == stack.queue().count + len(stack.queue().finished_job_registry)
    # A fire is POSTed twice only when a restarted daemon recovered an unfinished claim.
    recovered = "\n".join(d.log() for d in stack.daemons)
    twice = [fid for fid, n in _post_counts(stack).items() if n > 1]
    assert [] == [fid for fid in twice if f'"fire_id":"{fid}"' not in recovered]
    # No change lost: the last daemon's view equals the state hash.
    state = {
        item_id: orjson.loads(value)
        for item_id, value in hgetall_text(stack.r, stack.keys.state).items()
    }
    view = {row["id"]: row for row in stack.rpc("schedules")}
    assert set(state) == set(view)
    for item_id, fields in state.items():
        assert (fields["enabled"] == "1") == view[item_id]["enabled"], item_id
        if fields["kind"] == "cron":
            assert fields["cron"] == view[item_id]["cron"], item_id


def test_claim_left_by_a_killed_instance_is_sent_again(stack: Stack) -> None:
    """A fire claimed by an instance that died before the site answered is re-sent by the
    next leader (the endpoint de-duplicates by fire_id)."""
    due = now_ms() - 2_000
    stack.once("RL-CLAIMED", due)
    fire_id = f"RL-CLAIMED@{due}"
    stack.r.set(stack.keys.fired(fire_id), "claimed dead-instance", px=60_000)
    stack.r.hset(stack.keys.last_fire, "RL-CLAIMED", due)
    daemon = stack.start_daemon("rc1")
    wait_for(lambda: stack.enqueued(), 5)
    assert [fire_id] == [f.fire_id for f in stack.enqueued()]
    assert "fire_recovered" in daemon.log()
    assert b"done" == stack.r.get(stack.keys.fired(fire_id))


def test_redis_restart_keeps_firing_and_asks_for_a_republish(
    tmp_path: Path, site: str, private_redis: RedisServer
) -> None:
    """Redis coming back empty: the daemon keeps firing from memory, says so loudly and
    calls republish_all, after which the state hash is back."""
    server = private_redis
    stack = Stack(server.url, site, tmp_path)
    try:
        spec = stack.cron("TS-R-1", "* * * * * *")
        stack.cfg.republish = lambda: publish_all(stack.r, stack.keys, [spec], now_ms()).upserts
        daemon = stack.start_daemon("r1")
        wait_for(lambda: stack.enqueued(), 5)
        server.restart()
        restarted = now_ms()
        wait_for(lambda: stack.cfg.republished >= 1, 15)
        wait_for(lambda: [f for f in stack.enqueued() if f.due > restarted], 10)
        assert {"TS-R-1"} == set(hgetall_text(stack.r, stack.keys.state))
        assert "redis_state_lost" in daemon.log()
        assert daemon.alive
    finally:
        stack.close()


def test_site_errors_are_retried_until_success(stack: Stack) -> None:
    """Two 500s then success: records retrying, retrying, enqueued with attempts 1-3."""
    attempts: Counter[str] = Counter()

    def fault(request: dict[str, object]) -> tuple[int, dict[str, object]] | None:
        attempts[str(request["fire_id"])] += 1
        return (500, {"exception": "boom"}) if attempts[str(request["fire_id"])] <= 2 else None

    stack.cfg.fault = fault
    stack.start_daemon()
    stack.once("RL-500", now_ms() + 300)
    wait_for(lambda: stack.enqueued(), 10)
    records = [(f.outcome, f.attempt, f.http) for f in stack.fires() if f.id == "RL-500"]
    assert [("retrying", 1, 500), ("retrying", 2, 500), ("enqueued", 3, 200)] == records


def test_site_timeouts_are_retried(stack: Stack) -> None:
    """A request that outlives the request timeout is retried; the retry succeeds."""
    calls: Counter[str] = Counter()

    def fault(request: dict[str, object]) -> tuple[int, dict[str, object]] | None:
        calls[str(request["fire_id"])] += 1
        if calls[str(request["fire_id"])] == 1:
            time.sleep(1.5)  # the daemon's request timeout is 1 s in the harness
        return None

    stack.cfg.fault = fault
    stack.start_daemon()
    stack.once("RL-SLOW", now_ms() + 300)
    sent = ("enqueued", "duplicate")
    # A later attempt may time out too on a loaded machine: wait for the one that succeeds.
    wait_for(lambda: [f for f in stack.fires() if f.id == "RL-SLOW" and f.outcome in sent], 15)
    records = [(f.outcome, f.attempt) for f in stack.fires() if f.id == "RL-SLOW"]
    assert ("retrying", 1) == records[0]
    assert records[-1][0] in sent and records[-1][1] >= 2


def test_permanent_client_error_fails_once(stack: Stack) -> None:
    """A 404 (unknown item) is a permanent failure: one failed record, no retry."""
    stack.cfg.fault = lambda _req: (404, {"exc_type": "DoesNotExistError"})
    stack.start_daemon()
    stack.once("RL-404", now_ms() + 200)
    wait_for(lambda: stack.fires(), 5)
    time.sleep(0.5)
    assert [("failed", 1, 404)] == [(f.outcome, f.attempt, f.http) for f in stack.fires()]


def test_site_down_ends_in_failed_records_and_an_empty_backlog(stack: Stack) -> None:
    """With nothing listening at the site URL, fires retry until the deadline, then are
    recorded failed; nothing piles up in memory."""
    stack.start_daemon(BTU_FRAPPE_URL="http://127.0.0.1:9", BTU_RETRY_DEADLINE_SECONDS="1")
    stack.cron("TS-DOWN", "* * * * * *")
    wait_for(lambda: len([f for f in stack.fires() if f.outcome == "failed"]) >= 2, 10)
    outcomes = {f.outcome for f in stack.fires()}
    assert {"retrying", "failed"} <= outcomes and "enqueued" not in outcomes
    stack.delete("TS-DOWN")
    wait_for(lambda: stack.rpc("status")["backlog"] == 0, 5)


def test_standby_takes_over_within_the_lease_without_double_fire(stack: Stack) -> None:
    """SIGKILL the active instance: the standby fires within the lease time and no fire
    is enqueued twice."""
    active = stack.start_daemon("a1")
    standby = stack.start_daemon("a2", wait_leader=False)
    stack.cron("TS-HA-1", "* * * * * *")
    wait_for(lambda: len(stack.enqueued()) >= 2, 5)
    assert "a1" == stack.ping()["instance"]
    heartbeat = wait_for(lambda: hgetall_text(stack.r, stack.keys.scheduler("a2")), 5)
    assert "standby" == heartbeat["role"]
    active.kill()
    killed = now_ms()
    first = wait_for(lambda: [f for f in stack.enqueued() if f.instance == "a2"], 10)[0]
    assert first.sent - killed <= 1_500 + 500  # lease is 1.5 s in the harness
    assert standby.alive
    enqueued = Counter(f.fire_id for f in stack.enqueued())
    assert [] == [fid for fid, n in enqueued.items() if n > 1]


def test_sigterm_hands_over_at_once_and_exits_0(stack: Stack) -> None:
    """SIGTERM: the active instance releases the lease and exits 0; the standby leads."""
    active = stack.start_daemon("t1")
    stack.start_daemon("t2", wait_leader=False)
    assert 0 == active.term()
    stopped = time.monotonic()
    wait_for(lambda: stack.ping(0.3).get("instance") == "t2", 5)
    assert time.monotonic() - stopped < 1.5
    assert '"lease_released":true' in active.log()


def test_redis_unreachable_then_back_loses_no_stream_entry(stack: Stack) -> None:
    """While the daemon cannot reach Redis it keeps its heap and retries; once back it
    applies every entry published meanwhile and goes on firing."""
    port = int(stack.redis_url.rsplit(":", 1)[1].split("/")[0])
    proxy = TcpProxy(port)
    try:
        daemon = stack.start_daemon("u1", BTU_REDIS_URL=proxy.url)
        stack.cron("TS-U-0", "* * * * * *")
        wait_for(lambda: stack.enqueued(), 5)
        proxy.cut()
        for n in range(1, 21):
            stack.cron(f"TS-U-{n}", "0 0 * * *")
        time.sleep(2.0)
        proxy.restore()
        view = wait_for(lambda: len(stack.rpc_or_none("schedules") or []) == 21, 20)
        view = stack.rpc("schedules")
        assert {f"TS-U-{n}" for n in range(21)} == {row["id"] for row in view}
        back = now_ms()
        wait_for(lambda: [f for f in stack.enqueued() if f.due > back], 5)
        assert daemon.alive and "redis_unavailable" in daemon.log()
    finally:
        proxy.close()
