"""The metrics and health endpoint (setting ``metrics_listen``).

``GET /metrics``  Prometheus text format from the daemon's own registry.
``GET /healthz``  200 while the process's loops are alive (leader or standby), else 503.
``GET /readyz``   200 when connected to Redis and leading or ready to take over, else
                  503 with a one-line reason.

A plain :mod:`http.server` in a daemon thread: the endpoints are tiny and must keep
answering whatever the scheduler is doing (they take no scheduler lock).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from btu_scheduler.errors import ConfigError

log = structlog.get_logger("btu_scheduler.health")

DEFAULT_PORT = 9464
Check = Callable[[], tuple[bool, str]]


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``:port`` (all interfaces) → (host, port)."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(
            f"setting 'metrics_listen' must be host:port (like 127.0.0.1:{DEFAULT_PORT}), "
            f"got {value!r}"
        )
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "0.0.0.0", int(port_text)


class _Handler(BaseHTTPRequestHandler):
    server: HealthServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._answer(200, generate_latest(self.server.registry), CONTENT_TYPE_LATEST)
        elif path in ("/healthz", "/readyz"):
            check = self.server.healthz if path == "/healthz" else self.server.readyz
            try:
                ok, reason = check()
            except Exception as e:  # a probe must answer, never hang up
                ok, reason = False, f"check failed: {e.__class__.__name__}"
            self._answer(200 if ok else 503, (reason + "\n").encode(), "text/plain")
        else:
            self._answer(404, b"not found: try /metrics, /healthz or /readyz\n", "text/plain")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # scrapes every few seconds would flood the log


class HealthServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], registry: CollectorRegistry, healthz: Check, readyz: Check
    ) -> None:
        self.registry = registry
        self.healthz = healthz
        self.readyz = readyz
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.2}, name="btu-metrics",
            daemon=True,
        )  # fmt: skip

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def serve(
    listen: str, registry: CollectorRegistry, healthz: Check, readyz: Check
) -> HealthServer | None:
    """Start serving on ``listen``; None (and an ``error`` line) when it cannot bind: the
    scheduler keeps firing without its metrics."""
    host, port = parse_listen(listen)
    try:
        server = HealthServer((host, port), registry, healthz, readyz).start()
    except OSError as e:
        log.error("metrics_listen_failed", listen=listen, error=str(e))
        return None
    log.info("metrics_listening", listen=f"{host}:{server.port}")
    return server
