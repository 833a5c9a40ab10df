"""One blocking XREAD over every site's schedules and RPC streams (and the pool's control
stream), for all the sites of one Redis server.

An idle daemon issues one command per :data:`BLOCK_MS` whatever the number of sites. The
blocking read asks for one entry per stream (``COUNT 1``): it only says which streams
have news. RPC requests are answered from it; for a schedules stream with news, one
pipelined round trip then runs XINFO STREAM and XREAD of that stream back to back,
exactly as a single-site daemon does, so a stream trimmed past a site's position is
noticed the same way (:meth:`btu_scheduler.reader.Reader.process`).

Sites added, removed or reloaded interrupt the blocking read (``CLIENT UNBLOCK``), so
the next read covers them at once.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, cast

import redis
import structlog
from structlog.contextvars import bound_contextvars

from btu_scheduler import redisdiag
from btu_scheduler.backoff import Backoff
from btu_scheduler.errors import REDIS_DOWN
from btu_scheduler.reader import BLOCK_MS, READ_COUNT
from streams.redisio import Entry, block_ms, parse_xread, text

if TYPE_CHECKING:
    from btu_scheduler.daemon import Daemon
    from btu_scheduler.fleet.hub import Hub

log = structlog.get_logger("btu_scheduler")

BLOCKING_SOCKET_TIMEOUT_S = 35.0  # longer than BLOCK_MS
RELOAD_CONFIG = "reload-config"
WAKE_COALESCE_S = 0.05


class FleetReader:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.rb = redis.Redis(
            connection_pool=redis.BlockingConnectionPool.from_url(
                hub.redis_url,
                max_connections=1,
                timeout=None,
                socket_timeout=BLOCKING_SOCKET_TIMEOUT_S,
                socket_connect_timeout=5.0,
            )
        )
        self._client_id: int | None = None
        self._woken = threading.Event()
        self.control_id: str | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="btu-fleet-reader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.rb.close()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """End the blocking read now, so the next one covers the current sites. Many
        wake-ups before the next read cost one."""
        client_id = self._client_id
        if client_id is None or self._woken.is_set():
            return
        self._woken.set()
        try:
            self.hub.r.client_unblock(client_id)
        except redisdiag.START_ERRORS as e:
            log.debug("reader_wake_failed", error=str(e))

    def _loop(self) -> None:
        backoff = Backoff(10.0)
        down = False
        while not self.hub.stopping.is_set():
            try:
                if down:
                    self.rb.ping()  # still down: the error below, and no second line
                    self._after_reconnect()
                    down = False
                    backoff.reset()
                self.read_once()
            except REDIS_DOWN as e:
                if not down:
                    event, problem = redisdiag.describe(e)
                    log.error(event, error=str(e), problem=problem, pool=self.hub.pool.pool)
                down = True
                self._client_id = None
                backoff.sleep(self.hub.stopping)
            except redis.RedisError as e:
                log.error("redis_error", error=str(e))
                backoff.sleep(self.hub.stopping)
            except Exception:
                log.exception("reader_error")
                backoff.sleep(self.hub.stopping)

    def _after_reconnect(self) -> None:
        """Did Redis keep every site's data? (One line for the hub, not one per site.)"""
        daemons = self._ready()
        for d in daemons:
            with bound_contextvars(site=d.settings.site):
                d.watch.check()
        log.info("redis_reconnected", pool=self.hub.pool.pool, sites_checked=len(daemons))

    def _ready(self) -> list[Daemon]:
        return [
            d for d in self.hub.sites().values() if d.loaded.is_set() and not d.stopping.is_set()
        ]

    def read_once(self) -> None:
        if self._client_id is None:
            self._client_id = int(self.rb.client_id())
        control = self.hub.pool.control
        if self.control_id is None:
            last = self.rb.xrevrange(control, count=1)
            self.control_id = text(last[0][0] or "0-0") if last else "0-0"
        if self._woken.is_set():
            self.hub.stopping.wait(WAKE_COALESCE_S)  # let a burst of changes gather
            self._woken.clear()
        streams: dict[str, str] = {control: self.control_id}
        owner: dict[str, Daemon] = {}
        daemons = self._ready()
        for d in daemons:
            with d.lock:
                streams[d.keys.schedules] = d.last_id
            streams[d.keys.rpc] = d.rpc_id
            owner[d.keys.schedules] = owner[d.keys.rpc] = d
        reply = self.rb.xread(cast(Any, streams), count=1, block=block_ms(self.rb, BLOCK_MS))
        active: list[Daemon] = []
        requests: list[tuple[Daemon, Any]] = []
        for stream, entries in parse_xread(reply):
            if stream == control:
                self._control(entries)
                continue
            d = owner[stream]
            if stream == d.keys.schedules:
                active.append(d)
            else:
                requests.append((d, entries))
        if active:
            self._read_changes(active)
        for d, entries in requests:
            with bound_contextvars(site=d.settings.site):
                d.reader.serve_rpc(entries)

    def _read_changes(self, daemons: list[Daemon]) -> None:
        """XINFO + XREAD of each stream with news, in one round trip."""
        positions = []
        pipe = self.hub.r.pipeline(transaction=False)
        for d in daemons:
            with d.lock:
                position, count = d.last_id, d.last_count
            positions.append((position, count))
            pipe.xinfo_stream(d.keys.schedules)
            pipe.xread({d.keys.schedules: position}, count=READ_COUNT)
        replies = pipe.execute(raise_on_error=False)
        for i, d in enumerate(daemons):
            position, count = positions[i]
            with bound_contextvars(site=d.settings.site):
                try:
                    d.reader.process(replies[2 * i], replies[2 * i + 1], position, count)
                except REDIS_DOWN:
                    raise
                except Exception:
                    log.exception("reader_error")  # one site's bug costs that site's batch

    def _control(self, entries: list[Entry]) -> None:
        for entry_id, fields in entries:
            self.control_id = entry_id
            cmd = text(fields.get("cmd") or fields.get(b"cmd") or "")
            if cmd == RELOAD_CONFIG:
                log.info("reload_config_requested", entry=entry_id)
                threading.Thread(
                    target=self.hub.reload_config, name="btu-reload", daemon=True
                ).start()
            else:
                log.warning("control_command_unknown", entry=entry_id, cmd=cmd[:40])
