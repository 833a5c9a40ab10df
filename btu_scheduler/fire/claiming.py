"""Claiming: the firing loop's due fires become claimed fires handed to the dispatcher
(PROTOCOL.md "Firing", steps 1 and 2), in chunks of one script call each.

The first chunk is small, so its requests are on their way while the rest are being
claimed; after each chunk the sender is told it has everything (no linger for them).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from btu_scheduler.engine import Fire
from btu_scheduler.errors import REDIS_DOWN
from btu_scheduler.fire.dispatch import ALREADY_FIRED, CLAIMED, DUPLICATE, FENCED, Dispatcher
from streams.keys import Outcome

if TYPE_CHECKING:
    from btu_scheduler.daemon import Daemon

log = structlog.get_logger("btu_scheduler")

CLAIM_CHUNK = 500
FIRST_CHUNK = 32  # a burst's first claim is small, so its requests go out sooner


@dataclass
class ClaimRun:
    """What claiming left to the caller."""

    deferred: list[Fire] = field(default_factory=list)  # to claim again later
    fenced: bool = False  # another instance holds the lease
    redis_down: bool = False


def claim_for(d: Daemon, fires: list[Fire]) -> None:
    """The firing loop's fires, claimed and sent under the daemon's lease; what cannot be
    claimed now (the lease went, Redis is down, another instance fenced us) is kept for
    later (``Daemon._defer``)."""
    token = d.lease.token
    if token is None:  # the lease went between popping and claiming: keep them
        d._defer(fires)
        return
    run = claim_and_submit(d.dispatcher, fires, token, d.instance)
    after_claim(d, run)
    if run.redis_down:
        d.stopping.wait(0.2)


def after_claim(d: Daemon, run: ClaimRun) -> None:
    """A fenced claim ends this instance's leadership; what was not claimed is kept."""
    if run.fenced:
        d._lease_valid_until = 0.0
    if run.deferred:
        d._defer(run.deferred)


def claim_and_submit(
    dispatcher: Dispatcher, fires: list[Fire], token: str, instance: str
) -> ClaimRun:
    """Claim ``fires`` under the fencing ``token`` and send (or record) each claimed one."""
    run = ClaimRun()
    bounds = [0, *range(min(FIRST_CHUNK, len(fires)), len(fires), CLAIM_CHUNK), len(fires)]
    for start, stop in itertools.pairwise(bounds):
        chunk = fires[start:stop]
        try:
            claimed = dispatcher.claim(chunk, token)
        except REDIS_DOWN as e:
            log.warning("claim_failed_redis", error=str(e), fires=len(fires) - start)
            run.deferred += fires[start:]
            run.redis_down = True
            return run
        submit_claimed(dispatcher, claimed, instance, run)
    return run


def submit_claimed(
    dispatcher: Dispatcher, claimed: list[tuple[Fire, int, str]], instance: str, run: ClaimRun
) -> None:
    """Act on one claim script's reply: send what was claimed, record what was missed or
    already claimed, keep what was fenced in ``run``; then let the sender go."""
    fenced: list[Fire] = []
    for fire, code, _previous in claimed:
        if code == CLAIMED:
            if fire.missed:
                dispatcher.record(fire, Outcome.MISSED, "late beyond grace")
            else:
                dispatcher.submit(fire)
        elif code == DUPLICATE:
            dispatcher.record(fire, Outcome.DUPLICATE, "already claimed")
        elif code == ALREADY_FIRED:
            log.debug("fire_already_claimed", id=fire.id, fire_id=fire.fire_id)
        elif code == FENCED:
            fenced.append(fire)
    dispatcher.flush()
    if fenced:
        log.warning("fire_fenced", count=len(fenced), instance=instance)
        run.fenced = True
        run.deferred += fenced


def latest_per_item(fires: list[Fire]) -> list[Fire]:
    """Several pending instants of one item coalesce into the latest (PROTOCOL.md
    catch-up rule), keeping the items' order."""
    if len(fires) < 2:
        return fires
    latest: dict[str, Fire] = {}
    for fire in fires:
        kept = latest.get(fire.id)
        if kept is None or fire.due > kept.due:
            latest[fire.id] = fire
    return list(latest.values())


def pending_after(pending: list[Fire], fires: list[Fire], now: int, grace_ms: int) -> list[Fire]:
    """Fires kept to claim later: like missed instants, the fires of one item coalesce
    into its latest, and grace is re-checked against it."""
    return [
        Fire(f.id, f.kind, f.task, f.due, missed=f.missed or now - f.due > grace_ms)
        for f in latest_per_item([*pending, *fires])
    ]
