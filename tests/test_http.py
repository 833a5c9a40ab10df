"""The enqueue endpoint client (btu_scheduler/fire/answers.py): classification and real HTTP.

The HTTP tests run a ``ThreadingHTTPServer`` on a free 127.0.0.1 port in a thread; it
records every request and counts accepted TCP connections (one handler per connection).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from btu_scheduler.fire.answers import Result, classify
from btu_scheduler.fire.endpoint import Endpoint
from streams.keys import ENQUEUE_PATH, REPUBLISH_PATH, Outcome

KEY = "key-abc"
SECRET = "secret-Zq81x"
DUE = 1_800_000_000_000
FIRE_ID = f"TS-000001@{DUE}"


def ok_body(job: str = "TS-000001_1800000000000", duplicate: bool = False) -> bytes:
    return json.dumps({"message": {"job_id": job, "duplicate": duplicate}}).encode()


class TestClassify:
    def test_enqueued(self) -> None:
        """A 200 answer with a message object is 'enqueued' with the job id."""
        expected = Result(Outcome.ENQUEUED, http=200, job="TS-000001_1800000000000")
        assert expected == classify(200, ok_body())

    def test_duplicate(self) -> None:
        """A 200 answer with duplicate: true is 'duplicate'."""
        expected = Result(Outcome.DUPLICATE, http=200, job="j1")
        assert expected == classify(200, ok_body("j1", duplicate=True))

    def test_duplicate_must_be_boolean(self) -> None:
        """Only a JSON true marks a duplicate; the string "true" does not."""
        body = b'{"message": {"job_id": "j1", "duplicate": "true"}}'
        assert Outcome.ENQUEUED == classify(200, body).outcome

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(b"{}", id="no-message"),
            pytest.param(b'{"message": "ok"}', id="message-not-object"),
            pytest.param(b"<html>proxy page</html>", id="not-json"),
            pytest.param(b"", id="empty"),
            pytest.param(b"[1, 2]", id="json-list"),
        ],
    )
    def test_2xx_without_message_fails(self, body: bytes) -> None:
        """A 2xx answer without a message object is a permanent 'failed'."""
        assert (Outcome.FAILED, 200) == (classify(200, body).outcome, classify(200, body).http)

    @pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
    def test_retryable_statuses(self, status: int) -> None:
        """408, 429 and 5xx are transient: 'retrying' with the status."""
        result = classify(status, b'{"exception": "busy"}')
        assert (Outcome.RETRYING, status, True) == (result.outcome, result.http, result.retryable)

    @pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 417])
    def test_permanent_statuses(self, status: int) -> None:
        """Other 4xx statuses are permanent: 'failed' with the status."""
        result = classify(status, b'{"exc_type": "PermissionError"}')
        assert (Outcome.FAILED, status, False) == (result.outcome, result.http, result.retryable)

    def test_detail_is_one_short_line(self) -> None:
        """The detail of an error answer is Frappe's exception text, on one line, bounded."""
        body = json.dumps({"exception": "frappe.ValidationError: bad\nline two" + "x" * 500})
        detail = classify(417, body.encode()).detail
        assert (True, False, True) == (
            detail.startswith("frappe.ValidationError: bad line two"),
            "\n" in detail,
            len(detail) <= 200,
        )


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Stub:
    """What the stub server saw, and how it answers."""

    url: str = ""
    port: int = 0
    requests: list[Seen] = field(default_factory=list)
    connections: int = 0
    answer: Callable[[Seen], tuple[int, bytes]] = lambda _seen: (200, ok_body())
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


def make_handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes

        def setup(self) -> None:
            with stub.lock:
                stub.connections += 1
            super().setup()

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen = Seen(self.path, dict(self.headers.items()), self.rfile.read(length))
            with stub.lock:
                stub.requests.append(seen)
            status, body = stub.answer(seen)
            if status == 0:  # drop the connection without answering
                self.close_connection = True
                return
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the client gave up (read timeout test)
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def stub() -> Iterator[Stub]:
    state = Stub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    state.port = server.server_address[1]
    state.url = f"http://127.0.0.1:{state.port}"
    thread = threading.Thread(
        target=server.serve_forever, args=(0.02,), name="stub-http", daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def endpoint_factory() -> Iterator[Callable[..., Endpoint]]:
    made: list[Endpoint] = []

    def make(url: str, **kwargs: object) -> Endpoint:
        endpoint = Endpoint(url, KEY, SECRET, **kwargs)  # type: ignore[arg-type]
        made.append(endpoint)
        return endpoint

    yield make
    for endpoint in made:
        endpoint.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TestEndpoint:
    def test_request_shape(self, stub: Stub, endpoint_factory: Callable[..., Endpoint]) -> None:
        """enqueue() POSTs the JSON body to the enqueue path with token auth."""
        result = endpoint_factory(stub.url).enqueue("TS-000001", "cron", DUE, FIRE_ID)
        [seen] = stub.requests
        expected_body = {"id": "TS-000001", "kind": "cron", "due": DUE, "fire_id": FIRE_ID}
        assert (
            ENQUEUE_PATH,
            expected_body,
            f"token {KEY}:{SECRET}",
            "application/json",
            f"127.0.0.1:{stub.port}",
            Result(Outcome.ENQUEUED, http=200, job="TS-000001_1800000000000"),
        ) == (
            seen.path,
            json.loads(seen.body),
            seen.headers.get("Authorization"),
            seen.headers.get("Content-Type"),
            seen.headers.get("Host"),
            result,
        )

    def test_host_header(self, stub: Stub, endpoint_factory: Callable[..., Endpoint]) -> None:
        """A configured Host header replaces the one derived from the URL, once."""
        endpoint = endpoint_factory(stub.url, host_header="erp.example.com")
        endpoint.enqueue("TS-000001", "cron", DUE, FIRE_ID)
        [seen] = stub.requests
        hosts = [v for k, v in seen.headers.items() if k.lower() == "host"]
        assert ["erp.example.com"] == hosts

    def test_base_path_prefix(self, stub: Stub, endpoint_factory: Callable[..., Endpoint]) -> None:
        """A frappe_url with a path prefix keeps the prefix before the method path."""
        endpoint_factory(stub.url + "/erp/").enqueue("RL-1", "once", DUE, f"RL-1@{DUE}")
        assert "/erp" + ENQUEUE_PATH == stub.requests[0].path

    def test_duplicate_answer(self, stub: Stub, endpoint_factory: Callable[..., Endpoint]) -> None:
        """The app's duplicate: true answer becomes a 'duplicate' result."""
        stub.answer = lambda _seen: (200, ok_body("j9", duplicate=True))
        result = endpoint_factory(stub.url).enqueue("TS-000001", "cron", DUE, FIRE_ID)
        assert Result(Outcome.DUPLICATE, http=200, job="j9") == result

    def test_keep_alive(self, stub: Stub, endpoint_factory: Callable[..., Endpoint]) -> None:
        """Twenty sequential requests travel over one kept-alive TCP connection."""
        endpoint = endpoint_factory(stub.url)
        outcomes = {
            endpoint.enqueue("TS-1", "cron", DUE + n, f"TS-1@{DUE + n}").outcome for n in range(20)
        }
        assert ({Outcome.ENQUEUED}, 20, 1) == (outcomes, len(stub.requests), stub.connections)

    def test_keep_alive_after_error_status(
        self, stub: Stub, endpoint_factory: Callable[..., Endpoint]
    ) -> None:
        """Error answers do not cost a new connection either."""
        stub.answer = lambda seen: (503, b'{"exception": "down"}')
        endpoint = endpoint_factory(stub.url)
        outcomes = [endpoint.enqueue("TS-1", "cron", DUE, FIRE_ID).outcome for _ in range(5)]
        assert ([Outcome.RETRYING] * 5, 1) == (outcomes, stub.connections)

    @pytest.mark.parametrize(
        ("status", "outcome"),
        [(500, Outcome.RETRYING), (429, Outcome.RETRYING), (401, Outcome.FAILED)],
    )
    def test_error_statuses(
        self,
        stub: Stub,
        endpoint_factory: Callable[..., Endpoint],
        status: int,
        outcome: str,
    ) -> None:
        """Error statuses from the server are classified, and the detail hides the secret."""
        stub.answer = lambda seen: (status, json.dumps({"exception": "nope"}).encode())
        result = endpoint_factory(stub.url).enqueue("TS-1", "cron", DUE, FIRE_ID)
        assert (outcome, status, "nope", False) == (
            result.outcome,
            result.http,
            result.detail,
            SECRET in result.detail,
        )

    def test_connection_refused(self, endpoint_factory: Callable[..., Endpoint]) -> None:
        """A refused connection is 'retrying' with no HTTP status and no secret in detail."""
        endpoint = endpoint_factory(f"http://127.0.0.1:{free_port()}", timeout_s=1.0)
        result = endpoint.enqueue("TS-1", "cron", DUE, FIRE_ID)
        assert (Outcome.RETRYING, None, True, False) == (
            result.outcome,
            result.http,
            bool(result.detail),
            SECRET in result.detail or KEY in result.detail,
        )

    def test_read_timeout(self, stub: Stub, endpoint_factory: Callable[..., Endpoint]) -> None:
        """A server slower than the timeout gives 'retrying' without the secret in detail."""

        def slow(_seen: Seen) -> tuple[int, bytes]:
            stub.release.wait(5)
            return 200, ok_body()

        stub.answer = slow
        result = endpoint_factory(stub.url, timeout_s=0.2).enqueue("TS-1", "cron", DUE, FIRE_ID)
        stub.release.set()
        assert (Outcome.RETRYING, None, True, False) == (
            result.outcome,
            result.http,
            "Timeout" in result.detail,
            SECRET in result.detail,
        )

    def test_server_closes_connection(
        self, stub: Stub, endpoint_factory: Callable[..., Endpoint]
    ) -> None:
        """A connection dropped without an answer is 'retrying'."""

        stub.answer = lambda _seen: (0, b"")
        result = endpoint_factory(stub.url).enqueue("TS-1", "cron", DUE, FIRE_ID)
        assert (Outcome.RETRYING, False) == (result.outcome, SECRET in result.detail)

    def test_republish_all(self, stub: Stub, endpoint_factory: Callable[..., Endpoint]) -> None:
        """republish_all() POSTs to the republish path with the same auth."""
        stub.answer = lambda _seen: (200, b'{"message": {"queued": true}}')
        result = endpoint_factory(stub.url).republish_all()
        [seen] = stub.requests
        assert (REPUBLISH_PATH, f"token {KEY}:{SECRET}", Outcome.ENQUEUED) == (
            seen.path,
            seen.headers.get("Authorization"),
            result.outcome,
        )


def raw_server(answer: bytes) -> tuple[int, threading.Thread]:
    """A one-connection raw socket server: reads one request, writes ``answer`` (as much
    of it as the client takes), closes."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = int(listener.getsockname()[1])

    def serve() -> None:
        with listener:
            conn, _ = listener.accept()
            with conn:
                buf = b""
                while b"\r\n\r\n" not in buf:
                    buf += conn.recv(65536)
                head, _, body = buf.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                while len(body) < length:
                    body += conn.recv(65536)
                try:
                    conn.sendall(answer)
                except OSError:
                    pass  # the client stopped reading: what a bounded client does

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return port, thread


class TestBoundedAnswers:
    def test_endless_answer_without_length_is_an_error_not_a_buffer(
        self, endpoint_factory: Callable[..., Endpoint]
    ) -> None:
        """An answer with neither Content-Length nor chunks that streams 8 MiB is cut off
        past 1 MiB: a retryable bad response, not a body read into memory whole."""
        port, thread = raw_server(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * (8 * 1024 * 1024))
        result = endpoint_factory(f"http://127.0.0.1:{port}").enqueue("TS-1", "cron", DUE, FIRE_ID)
        thread.join(10)
        assert (
            Result(
                Outcome.RETRYING, http=200, detail="bad response: body larger than 1048576 bytes"
            )
            == result
        )

    def test_too_large_republish_answer_is_an_error(
        self, endpoint_factory: Callable[..., Endpoint]
    ) -> None:
        """The republish call reads its answer under the same bound."""
        port, thread = raw_server(b"HTTP/1.1 500 Oops\r\n\r\n" + b"y" * (3 * 1024 * 1024))
        result = endpoint_factory(f"http://127.0.0.1:{port}").republish_all()
        thread.join(10)
        assert (Outcome.RETRYING, 500, True) == (
            result.outcome, result.http, "larger than" in result.detail
        )  # fmt: skip
