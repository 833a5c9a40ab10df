"""The lease thread of a single-site daemon: renew the lease (or try to take it) every
``renew_seconds`` and refresh the heartbeat hash; Redis being away is waited out with
backoff. (A site of a multi-site daemon has none: the hub's keeper renews every site's
lease at once; both hand the answer to ``Daemon.apply_lease``.)"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog
from redis.exceptions import RedisError

from btu_scheduler.backoff import Backoff
from btu_scheduler.errors import REDIS_DOWN
from btu_scheduler.heartbeat import heartbeat_fields

if TYPE_CHECKING:
    from btu_scheduler.daemon import Daemon

log = structlog.get_logger("btu_scheduler")

HEARTBEAT_EVERY = 3  # lease renewals per heartbeat refresh (its TTL is three leases)


def tick(d: Daemon) -> float:
    """One renewal or acquisition attempt; returns seconds until the next one."""
    started = time.monotonic()
    was_valid = d.is_leader
    d._lease_ticks += 1
    beat = not was_valid or d._lease_ticks % HEARTBEAT_EVERY == 1
    state = d.lease.tick(heartbeat_fields(d) if beat else None)
    d.redis_up, d.redis_error = True, ""
    return d.apply_lease(state, started, was_valid)


def run(d: Daemon) -> None:
    """Until the hand-back at shutdown is done (``lease_stop``)."""
    settings = d.settings
    backoff = Backoff(min(settings.renew_seconds, settings.reconnect_max_seconds))
    wait = settings.renew_seconds
    while not d.lease_stop.wait(wait):
        try:
            wait = tick(d)
            backoff.reset()
        except REDIS_DOWN as e:
            d.redis_up, d.redis_error = False, str(e)
            if d._was_leader and not d.is_leader:
                d._was_leader = False
                log.warning("leader_lost", instance=d.instance, error=str(e))
            wait = backoff.next()
        except RedisError as e:
            d.redis_up, d.redis_error = False, str(e)
            log.error("lease_error", error=str(e))
            wait = backoff.next()
