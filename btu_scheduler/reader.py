"""The reader thread: one blocking XREAD on the schedules and RPC streams.

It applies schedule changes to the engine (dead-lettering what cannot be used), answers
RPC requests when this instance is the leader (after applying them: a completion
acknowledgement), and after a Redis outage checks whether Redis kept its data.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, cast

import structlog
from redis.exceptions import RedisError

from btu_scheduler import redisdiag, streaminfo, threads
from btu_scheduler.backoff import Backoff
from btu_scheduler.errors import REDIS_DOWN
from btu_scheduler.rpcserver import CHANGING_COMMANDS, BadRequest
from streams import codec
from streams.errors import CronError, ProtocolError
from streams.keys import Outcome
from streams.messages import RpcReply, RpcRequest, ScheduleDelete, decode_schedule_event
from streams.redisio import Entry, block_ms, parse_xread
from streams.rpc import send_reply

if TYPE_CHECKING:
    from btu_scheduler.daemon import Daemon

log = structlog.get_logger("btu_scheduler")

READ_COUNT = 1_000
BLOCK_MS = 30_000  # an idle reader issues one command per 30 s


class Reader:
    """Consumes the streams for one daemon; runs in its own thread."""

    def __init__(self, daemon: Daemon) -> None:
        self.d = daemon
        self._republishing = False
        # COUNT only while catching up: a read that is caught up blocks without it (some
        # servers, fakeredis among them, do not block when COUNT is given).
        self._behind = True

    def loop(self) -> None:
        d = self.d
        backoff = Backoff(d.settings.reconnect_max_seconds)
        down = False
        while not d.stopping.is_set():
            try:
                if down:
                    self.after_reconnect()
                    down = False
                    backoff.reset()
                self.read_once()
            except REDIS_DOWN as e:
                if not down:
                    # redis_unavailable, or redis_auth_failed when the password changed
                    event, problem = redisdiag.describe(e)
                    log.error(event, error=str(e), problem=problem)
                down = True
                backoff.sleep(d.stopping)
            except RedisError as e:
                log.error("redis_error", error=str(e))
                backoff.sleep(d.stopping)
            except Exception:
                # A bug must cost one batch, not the thread: changes would stop applying.
                log.exception("reader_error")
                backoff.sleep(d.stopping)

    def read_once(self) -> None:
        """One blocking XREAD, with XINFO of the schedules stream pipelined just before
        it (no extra round trip; the server runs both back to back): if entries after
        our position were trimmed before we could read them, the batch is dropped and
        the engine rebuilt from the state hash (:mod:`btu_scheduler.streaminfo`)."""
        d = self.d
        with d.lock:
            position, count = d.last_id, d.last_count
        streams = {d.keys.schedules: position, d.keys.rpc: d.rpc_id}
        pipe = d.rb.pipeline(transaction=False)
        pipe.xinfo_stream(d.keys.schedules)
        pipe.xread(cast(Any, streams), count=READ_COUNT if self._behind else None,
                   block=block_ms(d.rb, BLOCK_MS))  # fmt: skip
        info_reply, reply = pipe.execute(raise_on_error=False)
        self.process(info_reply, reply, position, count)

    def process(self, info_reply: Any, reply: Any, position: str, count: int | None) -> None:
        """Apply one XREAD ``reply`` read from ``position`` (the ``count``-th entry ever
        added), checked against ``info_reply``, the XINFO STREAM run just before it."""
        d = self.d
        if isinstance(reply, Exception):
            raise reply
        batches = parse_xread(reply)
        info = streaminfo.parse(info_reply)
        self._behind = any(len(entries) >= READ_COUNT for _stream, entries in batches)
        gap = info.gap_after(position, count)
        if gap and self._republishing:
            # Redis lost its data and the app is republishing: the hash is not whole
            # yet, so a resync now would disarm what is still to come. The resync
            # follows the republish; meanwhile apply what arrives.
            log.warning("stream_trimmed_past_us", our_last_id=position, our_count=count,
                        action="resync after the republish", **info.log_fields())  # fmt: skip
            with d.lock:
                d.last_count = None  # unknown until that resync
            gap = False
        elif gap:
            log.warning("stream_trimmed_past_us", our_last_id=position, our_count=count,
                        action="resync", **info.log_fields())  # fmt: skip
            d.resync()
        for stream, entries in batches:
            if d.stopping.is_set():
                return
            if stream == d.keys.schedules:
                if not gap:
                    self.apply_entries(entries, position)
            else:
                self.serve_rpc(entries)

    def apply_entries(self, entries: list[Entry], position: str | None = None) -> None:
        """Apply entries read from ``position`` (None: from wherever we are). A batch
        whose position was reset meanwhile (Redis lost its data) is dropped: the stream
        is read again from the new position."""
        d = self.d
        changed = False
        with d.lock:
            if position is not None and d.last_id != position:
                log.info("batch_dropped", reason="position reset", entries=len(entries))
                return
            now = d.now_ms()
            for entry_id, raw in entries:
                d.last_id = entry_id
                if d.last_count is not None:
                    d.last_count += 1
                try:
                    event = decode_schedule_event(raw)
                    applied = d.engine.apply(event, now)
                except (ProtocolError, CronError) as e:
                    d.dead.add(d.keys.schedules, entry_id, raw, str(e))
                    continue
                changed = True
                propagation = now - event.ts
                # An upsert that changes nothing about timing may carry an old ts (a
                # republish keeps the catch-up baseline): not a propagation sample.
                d.stats.applied(None if applied.action == "unchanged" else propagation)
                log.info(
                    "change_applied",
                    id=event.id,
                    op="delete" if isinstance(event, ScheduleDelete) else "upsert",
                    action=applied.action,
                    due=applied.due,
                    lag_ms=propagation,
                    entry=entry_id,
                )
            if changed:
                d.lock.notify_all()

    def serve_rpc(self, entries: list[Entry]) -> None:
        d = self.d
        for entry_id, raw in entries:
            d.rpc_id = entry_id
            if not d.is_leader:
                continue  # only the active instance answers
            try:
                request = RpcRequest.decode(raw)
            except ProtocolError as e:
                d.dead.add(d.keys.rpc, entry_id, raw, str(e))
                continue
            self.answer(request)

    def answer(self, request: RpcRequest) -> None:
        d = self.d
        t0 = time.perf_counter()
        if d.now_ms() > request.deadline:
            log.debug("rpc", cmd=request.cmd[:40], rid=request.rid, ok=False, outcome="expired")
            return
        try:
            data: Any = d.rpc.handle(request.cmd, request.arg)
            size = len(codec.dumps(data))
            if size > codec.MAX_JSON:
                raise BadRequest(
                    f"the reply to {request.cmd[:40]!r} would be {size} characters, over the "
                    f"protocol's limit of {codec.MAX_JSON}: ask for fewer"
                )
            reply = RpcReply(rid=request.rid, ok=True, ts=d.now_ms(), data=data)
        except (BadRequest, ProtocolError, CronError) as e:
            reply = RpcReply(rid=request.rid, ok=False, ts=d.now_ms(), error=str(e))
        except REDIS_DOWN:
            raise
        except Exception as e:
            log.exception("rpc_failed", cmd=request.cmd[:40], rid=request.rid)
            error = f"internal error in {request.cmd[:40]!r}: {e.__class__.__name__}"
            reply = RpcReply(rid=request.rid, ok=False, ts=d.now_ms(), error=error)
        if d.now_ms() > request.deadline:
            # The caller has given up: a reply now would only be a key left behind.
            log.debug("rpc", cmd=request.cmd[:40], rid=request.rid, ok=reply.ok, outcome="late")
            return
        taken = send_reply(d.r, d.keys, reply)
        if taken is not None:
            # Someone else's key under the reply's name: left alone, TTL included.
            log.warning("rpc_reply_key_taken", cmd=request.cmd[:40], rid=request.rid,
                        key_type=taken)  # fmt: skip
            return
        d.stats.rpc_answered += 1
        # Probes (ping, status, ...) at debug: a monitor asking every few seconds must not
        # fill the log; commands that change something stay at info.
        rpc_log = log.info if request.cmd in CHANGING_COMMANDS else log.debug
        rpc_log(
            "rpc",
            cmd=request.cmd[:40],
            rid=request.rid,
            arg=request.arg,
            ok=reply.ok,
            error=reply.error or None,
            ms=round((time.perf_counter() - t0) * 1000, 2),
        )

    def after_reconnect(self) -> None:
        """Check at once whether Redis kept its data (see :mod:`btu_scheduler.statewatch`);
        a stream trimmed past us is caught by the next read."""
        self.d.watch.check()
        log.info("redis_reconnected")

    def request_republish(self) -> None:
        """POST republish_all in the background until the site accepts it, then resync:
        the app answers once the state hash is whole again, so the daemon's memory
        becomes exactly the site's schedules (items deleted while Redis had lost them
        stop firing; changes trimmed from the stream during a huge republish are in)."""
        if self._republishing:
            return
        self._republishing = True
        d = self.d

        def call() -> None:
            backoff = Backoff(30.0)
            try:
                while not d.stopping.is_set():
                    result = d.endpoint.republish_all()
                    log.info(
                        "republish_requested",
                        outcome=result.outcome,
                        http=result.http,
                        detail=result.detail,
                    )
                    if result.outcome == Outcome.ENQUEUED:
                        d.resync()
                        return
                    if result.outcome != Outcome.RETRYING:
                        return
                    backoff.sleep(d.stopping)
            except redisdiag.START_ERRORS as e:
                log.warning("republish_resync_failed", error=str(e))
            finally:
                self._republishing = False

        threads.thread(call, "btu-republish").start()
