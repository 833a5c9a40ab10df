"""Batch firing end to end: real ``btu-scheduler run`` processes against a real Redis and
the stand-in site (btu_scheduler/demo/standin.py), which answers ``enqueue_batch`` per
fire (or, playing an app before protocol 1.1, 417 / 404), de-duplicates by fire_id
whether a fire comes singly or in a batch, and enqueues the RQ jobs."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from streams.keys import Outcome, demo_seen_key
from streams.redisio import text
from tests.harness import Stack, now_ms, wait_for

pytestmark = pytest.mark.slow

COUNT = 40


def _due_together(stack: Stack, prefix: str, count: int = COUNT, lead_ms: int = 1500) -> set[str]:
    """``count`` once items due at the same instant; their fire_ids."""
    at = (now_ms() // 1000 + 2) * 1000 + lead_ms
    for i in range(count):
        stack.once(f"{prefix}-{i:03d}", at)
    return {f"{prefix}-{i:03d}@{at}" for i in range(count)}


def _accepted(stack: Stack) -> set[str]:
    return {text(m) for m in stack.r.smembers(demo_seen_key(stack.site))}


def _final(stack: Stack) -> dict[str, str]:
    """fire_id -> its last recorded outcome."""
    return {f.fire_id: f.outcome for f in stack.fires()}


def _rq_jobs(stack: Stack) -> Counter[str]:
    return Counter(str(job.meta.get("fire_id")) for job in stack.queue().get_jobs())


def test_fires_due_together_go_in_batches_with_per_fire_outcomes(stack: Stack) -> None:
    """Forty fires due at one instant reach the site in batch requests; a fire the site
    answers 503 for is retried on its own until accepted, an unknown item (404) fails,
    and every other fire is enqueued once."""
    fire_ids = _due_together(stack, "RL")
    stack.functions.pop("RL-039")  # the site does not know this item: a per-fire 404
    busy = {"RL-007": 2}  # 503 twice, then accepted

    def fault(request: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        left = busy.get(str(request["id"]), 0)
        if left:
            busy[str(request["id"])] = left - 1
            return 503, {"exception": "queue unavailable"}
        return None

    stack.cfg.fault = fault
    stack.start_daemon()
    wait_for(lambda: len(_accepted(stack)) >= COUNT - 1, 20)
    wait_for(
        lambda: set(_final(stack)) >= fire_ids and Outcome.RETRYING not in _final(stack).values(),
        10,
    )
    final = _final(stack)
    unknown = next(f for f in fire_ids if f.startswith("RL-039"))
    assert Outcome.FAILED == final.pop(unknown)
    assert {Outcome.ENQUEUED} == set(final.values())
    batched = [fid for batch in stack.cfg.batches for fid in batch]
    assert fire_ids <= set(batched)  # every fire went in a batch at first
    assert max(len(batch) for batch in stack.cfg.batches) > 1
    retried = [f for f in stack.fires() if f.id == "RL-007"]
    assert [Outcome.RETRYING, Outcome.RETRYING, Outcome.ENQUEUED] == [f.outcome for f in retried]
    assert [503, 503] == [f.http for f in retried[:2]]
    failed = next(f for f in stack.fires() if f.fire_id == unknown)
    assert 404 == failed.http
    assert [] == [fid for fid, n in _rq_jobs(stack).items() if n > 1]


@pytest.mark.parametrize("answer", ["417", "404"])
def test_a_site_without_the_batch_endpoint_gets_every_fire_singly_exactly_once(
    stack: Stack, answer: str
) -> None:
    """An app before protocol 1.1 (Frappe's 417 "Failed to get method", or a proxy's 404):
    every fire still reaches the single endpoint, each exactly once, and the daemon says
    why it sends single requests."""
    stack.cfg.batch = answer
    fire_ids = _due_together(stack, "OLD")
    daemon = stack.start_daemon()
    wait_for(lambda: _accepted(stack) >= fire_ids, 20)
    wait_for(lambda: set(_final(stack)) >= fire_ids, 10)
    assert {Outcome.ENQUEUED} == {_final(stack)[f] for f in fire_ids}
    singles = Counter(str(r["fire_id"]) for r in stack.cfg.requests)
    assert (fire_ids, {1}) == (set(singles), set(singles.values()))
    assert [] == stack.cfg.batches  # the batch path never took a fire
    assert Counter({f: 1 for f in fire_ids}) == _rq_jobs(stack)
    assert "batch_endpoint_unknown" in daemon.log()


def test_kill_9_mid_batch_loses_no_fire_and_accepts_none_twice(stack: Stack) -> None:
    """The daemon dies (SIGKILL) while its batch request is with the site, which then
    accepts the batch anyway. The daemon restarted under the same name re-sends the
    claimed fires; the site answers them as duplicates: every fire is enqueued once."""
    in_site = threading.Event()
    killed = threading.Event()

    def hold_first_batch(_body: dict[str, Any]) -> None:
        if not in_site.is_set():
            in_site.set()
            killed.wait(15)  # the site finishes the batch after the daemon is gone

    stack.cfg.batch_hook = hold_first_batch
    fire_ids = _due_together(stack, "KILL")
    daemon = stack.start_daemon("same")
    assert in_site.wait(20)
    daemon.kill()
    killed.set()
    held = set(stack.cfg.batches[0])
    wait_for(lambda: _accepted(stack) >= held, 10)  # the held batch was accepted
    again = stack.start_daemon("same")
    wait_for(lambda: _accepted(stack) >= fire_ids, 20)
    wait_for(lambda: set(_final(stack)) >= fire_ids, 10)
    final = _final(stack)
    assert {Outcome.ENQUEUED, Outcome.DUPLICATE} >= {final[f] for f in fire_ids}
    assert Counter({f: 1 for f in fire_ids}) == _rq_jobs(stack)
    enqueued = Counter(f.fire_id for f in stack.fires() if f.outcome == Outcome.ENQUEUED)
    assert [] == [fid for fid, n in enqueued.items() if n > 1]
    assert "fire_recovered" in again.log()
