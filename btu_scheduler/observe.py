"""What the health endpoint and the metrics read from a running daemon.

``/healthz`` is about the process: its loops are alive (leader, standby, or still
waiting for Redis at start-up: waiting is what it should do). ``/readyz`` is about
service: Redis answers and the instance leads or has loaded the state and can take over.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import orjson
import structlog

from btu_scheduler.health import HealthServer, serve
from btu_scheduler.sitecheck import startup_check
from streams.keys import Leader

if TYPE_CHECKING:
    from btu_scheduler.daemon import Daemon

log = structlog.get_logger("btu_scheduler")


def holder_instance(token: str | None) -> str:
    """The instance named in a lease value (``{"instance": ..., "epoch": ...}``)."""
    if not token:
        return ""
    try:
        value = orjson.loads(token)
    except orjson.JSONDecodeError:
        return token[:80]
    name = value.get(Leader.INSTANCE) if isinstance(value, dict) else None
    return name if isinstance(name, str) else token[:80]


def _started(thread: threading.Thread | None) -> bool:
    return thread is not None and thread.ident is not None


class Observability:
    """Binds the metrics' gauges to the daemon and serves ``metrics_listen``."""

    def __init__(self, daemon: Daemon, check_site: bool = True) -> None:
        self.d = daemon
        self.check_site = check_site
        self.server: HealthServer | None = None
        self.leader_seen = ""  # who leads, as last seen by this standby
        daemon.metrics.bind(
            armed=lambda: daemon.engine.armed.armed,  # an int read: no lock needed
            leader=lambda: 1 if daemon.is_leader else 0,
            retrying=lambda: daemon.dispatcher.retrying,
            backlog=lambda: daemon.dispatcher.backlog,
            redis_up=lambda: 1 if daemon.redis_up else 0,
        )

    def start(self) -> None:
        """Serve ``metrics_listen``, and check the site and token in the background (an
        ``error`` line when they are wrong)."""
        listen = self.d.settings.metrics_listen
        if listen:
            self.server = serve(listen, self.d.metrics.registry, self.healthz, self.readyz)
        if self.check_site:
            threading.Thread(target=startup_check, args=(self.d.settings,), name="btu-check",
                             daemon=True).start()  # fmt: skip

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def standby(self, token: str | None) -> None:
        """Log once per change of leader that this instance is a standby, and who leads."""
        holder = holder_instance(token)
        if holder != self.leader_seen:
            self.leader_seen = holder
            log.info("standby", leader=holder or None)

    def _role(self) -> str:
        if self.d.is_leader:
            return "leader"
        return f"standby (leader: {self.leader_seen or 'none'})"

    def healthz(self) -> tuple[bool, str]:
        d = self.d
        if d.stopping.is_set():
            return False, "stopping"
        for name, thread in (("lease", d._lease_thread), ("reader", d.reader_thread)):
            if _started(thread) and thread is not None and not thread.is_alive():
                return False, f"the {name} loop has stopped"
        if not _started(d.reader_thread):
            return True, "ok: starting (waiting for Redis or loading the state)"
        return True, f"ok: {self._role()}"

    def readyz(self) -> tuple[bool, str]:
        d = self.d
        if d.stopping.is_set():
            return False, "stopping"
        if not d.redis_up:
            return False, f"Redis unreachable: {d.redis_error or 'not connected yet'}"
        if not _started(d.reader_thread):
            return False, "starting: the state is not loaded yet"
        healthy, reason = self.healthz()
        if not healthy:
            return False, reason
        if d.is_leader:
            return True, "ready: leader"
        return True, f"ready: {self._role()}, able to take over"
