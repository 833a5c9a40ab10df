"""A stand-in for the site's ``btu.api.enqueue_scheduled``, ``enqueue_batch`` (and
``republish_all``).

It behaves as PROTOCOL.md "Firing" step 4 asks of the app: token authentication, the
fire_id recorded durably (a Redis set) before enqueueing, so a repeated request answers
``duplicate: true`` and enqueues nothing, and the RQ job id derived from the fire_id.
Tasks are looked up by the item's ``task`` in a registry given at start.

``enqueue_batch`` ("Batch firing") answers one result per fire, in order, each decided as
a single request would be (an error status becomes ``{"fire_id", "error": {"status",
"message"}}``). ``StandInConfig.batch`` plays an app before protocol 1.1: ``"417"``
answers the batch path as Frappe v15 does for an unknown method, ``"404"`` as a proxy
might.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import redis
from rq import Queue

from streams import keys as stream_keys
from streams.keys import ENQUEUE_PATH, REPUBLISH_PATH, WHOAMI_PATH, demo_seen_key
from streams.messages import job_id_for

# What Frappe v15 answers (HTTP 417) for a whitelisted method that does not exist.
UNKNOWN_BATCH = (
    "frappe.exceptions.ValidationError: Failed to get method for command "
    "btu.api.enqueue_batch with No module named 'btu.api.enqueue_batch'"
)


@dataclass
class StandInConfig:
    redis_url: str
    site: str
    api_key: str
    api_secret: str
    # item id -> dotted path of the function its task runs
    functions: Mapping[str, str]
    queue: str = "default"
    # called by republish_all (the demo republishes its schedules)
    republish: Callable[[], int] | None = None
    # Tests inject faults here: called with each enqueue request body; a returned
    # (status, payload) is answered instead of enqueueing (it may also sleep first).
    fault: Callable[[dict[str, Any]], tuple[int, dict[str, Any]] | None] | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    republished: int = 0
    # "yes": enqueue_batch is known; "417" or "404": it is not (an app before 1.1).
    batch: str = "yes"
    # Called with each batch request body before it is answered (tests sleep in it).
    batch_hook: Callable[[dict[str, Any]], None] | None = None
    batches: list[list[str]] = field(default_factory=list)  # fire_ids of each batch


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the demo prints its own progress."""

    def do_POST(self) -> None:
        cfg = self.server.cfg
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        payload: dict[str, Any] | bytes
        if self.headers.get("Authorization") != f"token {cfg.api_key}:{cfg.api_secret}":
            self._reply(401, {"exc_type": "AuthenticationError", "exception": "bad token"})
            return
        if self.path == ENQUEUE_PATH:
            status, payload = self.server.enqueue(body)
        elif self.path == stream_keys.ENQUEUE_BATCH_PATH:
            status, payload = self.server.enqueue_batch(body)
        elif self.path == REPUBLISH_PATH:
            count = cfg.republish() if cfg.republish else 0
            cfg.republished += 1
            status, payload = 200, {"message": {"published": count}}
        else:
            status, payload = 404, {"exc_type": "DoesNotExistError", "exception": self.path}
        self._reply(status, payload)

    def do_GET(self) -> None:
        """``btu.api.whoami``: the daemon's start-up check and ``btu-scheduler check``."""
        cfg = self.server.cfg
        if self.headers.get("Authorization") != f"token {cfg.api_key}:{cfg.api_secret}":
            self._reply(401, {"exc_type": "AuthenticationError", "exception": "bad token"})
        elif self.path == WHOAMI_PATH:
            from btu_scheduler import __version__

            answer = {"user": "btu-daemon@stand-in", "roles": ["BTU Scheduler"], "app": "btu",
                      "version": __version__, "protocol": "1", "can_fire": True}  # fmt: skip
            self._reply(200, {"message": answer})
        else:
            self._reply(404, {"exc_type": "DoesNotExistError", "exception": self.path})

    def _reply(self, status: int, payload: dict[str, Any] | bytes) -> None:
        data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a daemon opens up to http_concurrency connections at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a daemon killed mid-request) is not an error here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def __init__(self, cfg: StandInConfig, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.cfg = cfg
        self.redis = redis.Redis.from_url(cfg.redis_url)
        self.queue = Queue(cfg.queue, connection=self.redis)
        self.lock = threading.Lock()

    def enqueue_batch(self, body: bytes) -> tuple[int, dict[str, Any] | bytes]:
        cfg = self.cfg
        if cfg.batch == "417":
            return 417, {"exc_type": "ValidationError", "exception": UNKNOWN_BATCH}
        if cfg.batch == "404":
            return 404, b"<html><body>404 Not Found</body></html>"
        try:
            fires = orjson.loads(body)["fires"]
            assert isinstance(fires, list) and all(isinstance(f, dict) for f in fires)
        except (orjson.JSONDecodeError, KeyError, TypeError, AssertionError):
            return 400, {"exc_type": "ValidationError", "exception": "bad batch body"}
        cfg.batches.append([str(f.get("fire_id")) for f in fires])
        if cfg.batch_hook is not None:
            cfg.batch_hook({"fires": fires})
        results = []
        for fire in fires:
            status, payload = self.enqueue_one(fire)
            if status == 200:
                results.append({"fire_id": fire.get("fire_id")} | payload["message"])
            else:
                error = {"status": status, "message": str(payload.get("exception", ""))}
                results.append({"fire_id": fire.get("fire_id"), "error": error})
        return 200, {"message": {"results": results}}

    def enqueue(self, body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError:
            return 400, {"exc_type": "ValidationError", "exception": "bad request body"}
        return self.enqueue_one(request)

    def enqueue_one(self, request: Any) -> tuple[int, dict[str, Any]]:
        try:
            item_id, fire = str(request["id"]), str(request["fire_id"])
            int(request["due"])
        except (KeyError, TypeError, ValueError):
            return 400, {"exc_type": "ValidationError", "exception": "bad request body"}
        self.cfg.requests.append(request)
        if self.cfg.fault is not None:
            injected = self.cfg.fault(request)
            if injected is not None:
                return injected
        function = self.cfg.functions.get(item_id)
        if function is None:
            return 404, {"exc_type": "DoesNotExistError", "exception": f"unknown item {item_id}"}
        job_id = job_id_for(fire)
        # Durable de-duplication first: a fire_id is enqueued at most once, ever, whether
        # it came singly or in a batch.
        if not self.redis.sadd(demo_seen_key(self.cfg.site), fire):
            return 200, {"message": {"job_id": job_id, "duplicate": True}}
        self.queue.enqueue(function, job_id=job_id, meta={"fire_id": fire, "due": request["due"]})
        return 200, {"message": {"job_id": job_id, "duplicate": False}}


class StandInEndpoint:
    """Runs the stand-in HTTP server in a background thread."""

    def __init__(self, cfg: StandInConfig, port: int = 0) -> None:
        self.cfg = cfg
        self._server = _Server(cfg, port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="standin", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> StandInEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server.redis.close()
