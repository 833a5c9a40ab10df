"""``btu-scheduler status`` over every site of a multi-site configuration, read straight
from Redis: no RPC, so a thousand sites cost two pipelined round trips per Redis server
instead of a thousand requests each waiting for a daemon.

What it reads (the keys the daemons write, docs/protocol.md and fleet/keeper.py):

1. Redis ``TIME``, the pool's members set (daemon → ms until which it is alive), and
   every site's ``btu:{site}:leader`` (MGET, in chunks).
2. For each site with a leader: that leader's heartbeat hash
   ``btu:{site}:scheduler:{instance}``; for each site the last entry of its fires
   stream; the members set of any other pool named by a lease.

A site is ``ok`` when it has a leader that is alive (a pool member whose score is still
ahead, or a standalone daemon's lease, which expires by itself) with a fresh heartbeat
and its last fire did not fail; otherwise the row says what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from btu_scheduler.cluster import GONE_AFTER_LEASES
from btu_scheduler.fleet.leases import holder_of, lease_data
from streams.keys import F, Heartbeat, Keys, Outcome, PoolKeys
from streams.redisio import text

MGET_CHUNK = 1_000  # leader keys per MGET


@dataclass(frozen=True, slots=True)
class SiteRef:
    """A site to show, with the lease length its daemons use."""

    site: str
    lease_seconds: float = 5.0


def _holder(value: str | None) -> tuple[str, str | None]:
    """``(instance, pool)`` of a lease value to show: a value that names none is shown as
    it is (80 characters)."""
    if value and lease_data(value) is None:
        return value[:80], None
    return holder_of(value)


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.lstrip("-").isdigit() else None


def read_pool(client: redis.Redis, sites: Sequence[SiteRef], pool: str) -> dict[str, Any]:
    """Every site's row and the pool's daemons, for the sites of one Redis server."""
    pool_keys = PoolKeys(pool)
    keys = [Keys(s.site) for s in sites]
    pipe = client.pipeline(transaction=False)
    pipe.time()
    pipe.zrange(pool_keys.members, 0, -1, withscores=True)
    for start in range(0, len(keys), MGET_CHUNK):
        pipe.mget([k.leader for k in keys[start : start + MGET_CHUNK]])
    first = pipe.execute()
    seconds, micros = first[0]
    now = int(seconds) * 1000 + int(micros) // 1000
    members = {text(m): int(score) for m, score in first[1]}
    leases: list[str | None] = []
    for chunk in first[2:]:
        leases += [None if v is None else text(v) for v in chunk]
    holders = [_holder(v) for v in leases]

    others = sorted({p for _, p in holders if p is not None and p != pool})
    pipe = client.pipeline(transaction=False)
    beat_index: dict[int, int] = {}
    for i, (k, (instance, _p)) in enumerate(zip(keys, holders, strict=True)):
        if instance:
            beat_index[i] = len(pipe)
            pipe.hgetall(k.scheduler(instance))
    fires_at = len(pipe)
    for k in keys:
        pipe.xrevrange(k.fires, count=1)
    others_at = len(pipe)
    for other in others:
        pipe.zrange(PoolKeys(other).members, 0, -1, withscores=True)
    second = pipe.execute()
    alive_in = {pool: members}
    for n, other in enumerate(others):
        alive_in[other] = {text(m): int(score) for m, score in second[others_at + n]}

    rows = []
    leads: dict[str, int] = {}
    for i, ref in enumerate(sites):
        instance, lease_pool = holders[i]
        raw_beat = second[beat_index[i]] if i in beat_index else {}
        beat = {text(f): text(v) for f, v in raw_beat.items()}
        last = second[fires_at + i]
        last_fire = {text(f): text(v) for f, v in last[0][1].items()} if last else None
        alive_until = alive_in.get(lease_pool or "", {}).get(instance) if lease_pool else None
        if lease_pool == pool and instance:
            leads[instance] = leads.get(instance, 0) + 1
        rows.append(_row(ref, now, instance, lease_pool, alive_until, beat, last_fire))
    daemons = [
        {
            "instance": name,
            "alive": until >= now,
            "alive_for_ms": until - now,
            "leads": leads.pop(name, 0),
        }
        for name, until in sorted(members.items())
    ]
    # Leases naming a daemon that is no longer in the members set at all.
    daemons += [
        {"instance": name, "alive": False, "alive_for_ms": None, "leads": count}
        for name, count in sorted(leads.items())
    ]
    return {"now_ms": now, "pool": pool, "sites": rows, "daemons": daemons}


def _row(
    ref: SiteRef,
    now: int,
    instance: str,
    lease_pool: str | None,
    alive_until: int | None,
    beat: dict[str, str],
    last_fire: dict[str, str] | None,
) -> dict[str, Any]:
    heartbeat = _int(beat.get(Heartbeat.HEARTBEAT))
    beat_age = now - heartbeat if heartbeat is not None else None
    row: dict[str, Any] = {
        "site": ref.site,
        "leader": instance or None,
        "leader_pool": lease_pool,
        "armed": _int(beat.get(Heartbeat.ARMED)),
        "next_due": _int(beat.get(Heartbeat.NEXT_DUE)),
        "fires_sent": _int(beat.get(Heartbeat.FIRES_SENT)),
        "fires_failed": _int(beat.get(Heartbeat.FIRES_FAILED)),
        "dead_letters": _int(beat.get(Heartbeat.DEAD)),
        "last_fire": _last_fire(last_fire),
        "heartbeat_age_ms": beat_age,
    }
    problem = _problem(ref, instance, lease_pool, alive_until, now, beat, beat_age, last_fire)
    return row | {"ok": problem is None, "problem": problem}


def _last_fire(fields: dict[str, str] | None) -> dict[str, Any] | None:
    if fields is None:
        return None
    return {
        "id": fields.get(F.ID),
        "due": _int(fields.get(F.DUE)),
        "sent": _int(fields.get(F.SENT)),
        "outcome": fields.get(F.OUTCOME),
        "detail": fields.get(F.DETAIL) or None,
    }


def _problem(
    ref: SiteRef,
    instance: str,
    lease_pool: str | None,
    alive_until: int | None,
    now: int,
    beat: dict[str, str],
    beat_age: int | None,
    last_fire: dict[str, str] | None,
) -> str | None:
    if not instance:
        return "no leader"
    if lease_pool is not None and (alive_until is None or alive_until < now):
        return f"leader {instance} is not alive (the site is taken over within a lease)"
    if beat_age is None:
        return "leader has no heartbeat"
    beat_ms = _int(beat.get(Heartbeat.BEAT_MS))
    # A fleet leader says how often it beats (older than twice is gone); a standalone
    # one beats every 1.2 leases.
    limit = 2 * beat_ms if beat_ms else GONE_AFTER_LEASES * ref.lease_seconds * 1000
    if beat_age > limit:
        return f"heartbeat {beat_age / 1000:.1f} s old"
    if last_fire is not None and last_fire.get(F.OUTCOME) == Outcome.FAILED:
        detail = last_fire.get(F.DETAIL) or "no detail"
        return f"last fire failed: {detail[:120]}"
    return None


def registered_sites(client: redis.Redis) -> list[tuple[str, str]]:
    """The sites the app registered for discovery, with their Host header."""
    from streams.keys import SITES_REGISTRY
    from streams.sites import decode_registry

    entries, _errors = decode_registry(client.hgetall(SITES_REGISTRY))
    return sorted((site, entry.host_header) for site, entry in entries.items())


def summary(rows: Iterable[dict[str, Any]]) -> tuple[int, int]:
    """(sites ok, sites with a problem)."""
    ok = bad = 0
    for row in rows:
        if row["ok"]:
            ok += 1
        else:
            bad += 1
    return ok, bad
