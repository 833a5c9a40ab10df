"""Noticing, within seconds, that Redis lost the site's keys under a connected daemon.

FLUSHALL, eviction under ``maxmemory``, a failover proxy pointing at an empty replica:
the connection may never drop, so the reconnect check alone does not see it. Every few
seconds (each lease period, in its own thread) one pipelined round trip looks at:

- ``btu:{site}:dataset``, a random id the daemons set once with ``SET NX`` and no expiry:
  missing (the daemon sets a new one in the same round trip) or different from the one
  this daemon saw means the data set was replaced;
- the schedules stream: gone or reset (its last id older than our position);
- the state hash: gone while this daemon holds items and has read the whole stream.

Then: ``redis_state_lost`` at error level, keep firing from memory, read a replaced
stream from its start (the RPC stream too when it is gone or reset), and ask the app to
republish everything (``republish_all``). When only the state hash went, the stream
position is kept: nothing to re-read, and no resync from an empty hash.
"""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING

import structlog

from btu_scheduler import streaminfo
from btu_scheduler.redisdiag import START_ERRORS
from streams.redisio import text

if TYPE_CHECKING:
    from btu_scheduler.daemon import Daemon

log = structlog.get_logger("btu_scheduler")


class StateWatch:
    def __init__(self, daemon: Daemon) -> None:
        self.d = daemon
        self.seen: str | None = None  # the dataset id this daemon has been working with
        self._lock = threading.Lock()  # the watch thread and the reader may both check
        self._reported: list[str] = []  # a loss still standing is reported once

    def arm(self) -> None:
        """At start-up, before the snapshot: adopt the current dataset id (or set one)."""
        d = self.d
        pipe = d.r.pipeline(transaction=False)
        pipe.set(d.keys.dataset, uuid.uuid4().hex, nx=True)
        pipe.get(d.keys.dataset)
        _, current = pipe.execute()
        self.seen = None if current is None else text(current)

    def loop(self) -> None:
        d = self.d
        while not d.stopping.wait(d.settings.renew_seconds):
            try:
                self.check()
            except START_ERRORS as e:
                log.debug("state_check_skipped", error=str(e))  # the reader logs outages
            except Exception:
                log.exception("state_check_error")

    def check(self) -> bool:
        """One round trip; True when the site's data was found lost (and handled)."""
        with self._lock:
            return self._check()

    def _check(self) -> bool:
        d = self.d
        with d.lock:
            position, items = d.last_id, len(d.engine.armed)
        pipe = d.r.pipeline(transaction=False)
        pipe.set(d.keys.dataset, uuid.uuid4().hex, nx=True)
        pipe.get(d.keys.dataset)
        pipe.exists(d.keys.state)
        pipe.xinfo_stream(d.keys.schedules)
        pipe.xinfo_stream(d.keys.rpc)
        created, current, state_exists, info_reply, rpc_reply = pipe.execute(raise_on_error=False)
        for reply in (created, current, state_exists):
            if isinstance(reply, Exception):
                raise reply
        info, rpc_info = streaminfo.parse(info_reply), streaminfo.parse(rpc_reply)
        dataset = None if current is None else text(current)
        reasons = []
        replaced = self.seen is not None and dataset != self.seen
        if replaced:
            reasons.append("dataset id gone" if created else "dataset id changed")
        if position != streaminfo.NO_STREAM and (not info.exists or info.behind(position)):
            replaced = True
            reasons.append("schedules stream gone" if not info.exists else "stream reset")
        if not state_exists and items and info.exists and info.last_generated == position:
            reasons.append("state hash gone")
        self.seen = dataset
        if reasons == self._reported:
            return False  # the same loss, already reported and being republished
        self._reported = reasons
        if not reasons:
            return False
        log.error(
            "redis_state_lost",
            reason="; ".join(reasons),
            items=items,
            our_last_id=position,
            stream_last_id=info.last_generated if info.exists else None,
            action="firing from memory; asking the app to republish all schedules",
        )
        with d.lock:
            if replaced:  # a new stream (or none yet): read it from its start
                d.last_id, d.last_count = streaminfo.NO_STREAM, 0
            if not rpc_info.exists or rpc_info.behind(d.rpc_id):
                d.rpc_id = streaminfo.NO_STREAM
        d.reader.request_republish()
        return True
