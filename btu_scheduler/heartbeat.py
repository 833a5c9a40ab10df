"""The fields of this instance's heartbeat hash ``btu:{site}:scheduler:{instance}``
(PROTOCOL.md "Keys"), refreshed with the lease."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

from btu_scheduler import __version__
from streams.keys import Heartbeat

if TYPE_CHECKING:
    from btu_scheduler.daemon import Daemon


def heartbeat_fields(d: Daemon) -> dict[str, str]:
    next_due = d._view_next_due
    return {
        Heartbeat.INSTANCE: d.instance,
        Heartbeat.HOST: socket.gethostname(),
        Heartbeat.PID: str(os.getpid()),
        Heartbeat.VERSION: __version__,
        Heartbeat.STARTED: str(d.started_ms),
        Heartbeat.EPOCH: d.lease.token or "",
        Heartbeat.ARMED: str(d._view_armed),
        Heartbeat.NEXT_DUE: "" if next_due is None else str(next_due),
        Heartbeat.LAST_ID: d.last_id,
        Heartbeat.EVENTS: str(d.stats.events_applied),
        Heartbeat.FIRES_SENT: str(d.stats.fires_sent),
        Heartbeat.FIRES_FAILED: str(d.stats.fires_failed),
        Heartbeat.DEAD: str(d.stats.dead_letters),
    }
