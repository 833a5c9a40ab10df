"""The cluster part of RPC ``status``: the lease, every instance's heartbeat, the last
fires.

An instance's role comes from the lease (who holds it), not from what its heartbeat hash
last said: a killed leader's hash outlives it by up to three leases, and must not show as
a second leader. An instance whose heartbeat is older than :data:`GONE_AFTER_LEASES`
leases is shown as ``gone``. The answering instance's own row carries its live numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from btu_scheduler.observe import holder_instance
from streams.keys import Heartbeat
from streams.redisio import hgetall_text, text, xrevrange

if TYPE_CHECKING:
    from btu_scheduler.daemon import Daemon

# A standby beats at every renewal (lease / 2.5) and the leader every third (1.2 leases):
# two leases without a beat means the instance is gone.
GONE_AFTER_LEASES = 2.0


def server_ms(r: Any) -> int:
    seconds, micros = r.time()
    return int(seconds) * 1000 + int(micros) // 1000


def instance_row(data: dict[str, str], holder: str, now: int, lease_ms: int) -> dict[str, Any]:
    beat = data.get(Heartbeat.HEARTBEAT, "")
    age = now - int(beat) if beat.isdigit() else None
    name = data.get(Heartbeat.INSTANCE, "")
    every = data.get(Heartbeat.BEAT_MS, "")  # a multi-site daemon beats less often
    limit = max(GONE_AFTER_LEASES * lease_ms, 2 * int(every) if every.isdigit() else 0)
    if age is not None and age > limit:
        role = "gone"
    elif name == holder:
        role = "leader"
    else:
        role = "standby"
    return data | {"role": role, "heartbeat_age_ms": age}


def cluster_status(d: Daemon) -> dict[str, Any]:
    holder_value = d.r.get(d.keys.leader)
    holder_token = text(holder_value) if isinstance(holder_value, bytes | str) else None
    holder = holder_instance(holder_token)
    now = server_ms(d.r)
    lease_ms = int(d.settings.lease_seconds * 1000)
    instances = []
    for key in d.r.scan_iter(match=d.keys.scheduler_pattern, count=100):
        data = hgetall_text(d.r, text(key))
        if not data:
            continue
        row = instance_row(data, holder, now, lease_ms)
        if row.get(Heartbeat.INSTANCE) == d.instance:
            row[Heartbeat.ARMED] = str(d.engine.armed.armed)  # live, not the last beat's
        instances.append(row)
    recent = [fields | {"entry": eid} for eid, fields in xrevrange(d.r, d.keys.fires, 10)]
    return {
        "leader_lease": holder_token,
        "leader_instance": holder or None,
        "instances": sorted(instances, key=lambda i: i.get(Heartbeat.INSTANCE, "")),
        "recent_fires": recent,
        "backlog": d.dispatcher.backlog,
    }
