"""The fire path's HTTP client (btu_scheduler/fire/client.py), driven through the
BatchingSender sending single requests, against a scriptable local server: response
framings, keep-alive reuse and its failure modes, timeouts, the connection cap, and TLS."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from btu_scheduler.engine import Fire
from btu_scheduler.fire.answers import Result
from btu_scheduler.fire.batching import BatchingSender, BatchSettings
from btu_scheduler.fire.client import make_client
from streams.keys import ENQUEUE_PATH, Outcome

OK_BODY = b'{"message": {"job_id": "TS-1_1000", "duplicate": false}}'
SECRET = "s3cret-never-shown"
HEADERS = {"Authorization": f"token key:{SECRET}", "Content-Type": "application/json"}


def ok(body: bytes = OK_BODY) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body


Script = Callable[[int, int, bytes], "bytes | float | None"]


class Server:
    """Accepts connections; for the n-th request overall (on connection c) the script
    returns the bytes to answer, None to close the connection without answering, or a
    float: seconds to sleep before answering ``ok()``."""

    def __init__(self, script: Script, tls: ssl.SSLContext | None = None) -> None:
        self.script = script
        self.tls = tls
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        self.connections = 0
        self.concurrent = 0
        self.max_concurrent = 0
        self.lock = threading.Lock()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def close_idle(self) -> None:
        """Close every connection from the server side (an idle keep-alive timeout)."""
        with self.lock:
            for conn in self.conns:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                conn.close()
            self.conns.clear()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.tls is not None:
                try:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError):
                    conn.close()
                    continue
            with self.lock:
                self.connections += 1
                index = self.connections
                self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn, index), daemon=True).start()

    def _serve(self, conn: socket.socket, index: int) -> None:
        with self.lock:
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, _, rest = buf.partition(b"\r\n\r\n")
                length = int(
                    next(
                        line.split(b":")[1]
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    )
                )
                while len(rest) < length:
                    rest += conn.recv(65536)
                request, buf = head + b"\r\n\r\n" + rest[:length], rest[length:]
                with self.lock:
                    self.requests.append(request)
                    n = len(self.requests)
                answer = self.script(n, index, request)
                if answer is None:
                    return
                if isinstance(answer, float):
                    time.sleep(answer)
                    answer = ok()
                conn.sendall(answer)
                if b"Connection: close" in answer or answer.startswith(b"HTTP/1.0"):
                    return
        except OSError:
            return
        finally:
            with self.lock:
                self.concurrent -= 1
            conn.close()

    def stop(self) -> None:
        self.sock.close()
        self.close_idle()


MakeServer = Callable[..., Server]
MakeSender = Callable[..., BatchingSender]


def FireSender(
    url: str,
    headers: dict[str, str],
    timeout_s: float,
    concurrency: int,
    ssl_context: ssl.SSLContext | None = None,
) -> BatchingSender:
    """Single requests (batch size 1) over the fire client."""
    settings = BatchSettings(batch_size=1, concurrency=concurrency, timeout_s=timeout_s)
    return BatchingSender(
        lambda: make_client(url, headers, timeout_s, concurrency, ssl_context), settings
    )


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def make(script: Script, tls: ssl.SSLContext | None = None) -> Server:
        server = Server(script, tls)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def senders() -> Iterator[MakeSender]:
    made: list[BatchingSender] = []

    def make(url: str, **kwargs: object) -> BatchingSender:
        options: dict[str, object] = {"timeout_s": 2.0, "concurrency": 4} | kwargs
        sender = FireSender(url, dict(HEADERS), **options)  # type: ignore[arg-type]
        made.append(sender)
        return sender

    yield make
    for sender in made:
        sender.close()


def send_all(sender: BatchingSender, count: int, timeout: float = 10.0) -> list[Result]:
    """Send ``count`` fires and wait for every answer, in the order of the fires."""
    results: dict[int, Result] = {}
    done = threading.Event()

    def callback(i: int) -> Callable[[Result, int], None]:
        def record(result: Result, _sent: int) -> None:
            results[i] = result
            if len(results) == count:
                done.set()

        return record

    for i in range(count):
        sender.send(Fire(f"TS-{i}", "cron", "t", 1000 + i), callback(i))
    assert done.wait(timeout), f"only {len(results)} of {count} answers"
    return [results[i] for i in range(count)]


def test_content_length_response_and_request_format(serve: MakeServer, senders: MakeSender) -> None:
    """A request is one POST to the enqueue path with the JSON body and headers, and a
    Content-Length response is classified."""
    server = serve(lambda n, c, req: ok())
    sender = senders(server.url)
    [result] = send_all(sender, 1)
    assert (Outcome.ENQUEUED, 200, "TS-1_1000") == (result.outcome, result.http, result.job)
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert f"POST {ENQUEUE_PATH} HTTP/1.1" == lines[0]
    assert f"Authorization: token key:{SECRET}" in lines
    assert f"Host: 127.0.0.1:{server.port}" in lines
    assert {"id": "TS-0", "kind": "cron", "due": 1000, "fire_id": "TS-0@1000"} == orjson.loads(body)


def test_host_header_overrides_the_url_host(serve: MakeServer) -> None:
    """A configured Host header is sent instead of the URL's host."""
    server = serve(lambda n, c, req: ok())
    sender = FireSender(server.url, HEADERS | {"Host": "erp.example.com"}, 2.0, 2)
    try:
        send_all(sender, 1)
    finally:
        sender.close()
    lines = server.requests[0].split(b"\r\n\r\n")[0].decode().split("\r\n")
    assert ["Host: erp.example.com"] == [line for line in lines if line.startswith("Host:")]


def test_credentials_in_the_url_never_reach_the_host_header(serve: MakeServer) -> None:
    """``http://user:pass@host:port`` sends ``Host: host:port``: the password stays home."""
    server = serve(lambda n, c, req: ok())
    url = server.url.replace("http://", "http://frappe:hunter2@")
    sender = FireSender(url, HEADERS, 2.0, 2)
    try:
        send_all(sender, 1)
    finally:
        sender.close()
    head = server.requests[0].split(b"\r\n\r\n")[0].decode()
    assert f"Host: 127.0.0.1:{server.port}" in head.split("\r\n")
    assert "hunter2" not in head


def test_keep_alive_reuses_one_connection(serve: MakeServer, senders: MakeSender) -> None:
    """Sequential requests travel on one kept-alive connection."""
    server = serve(lambda n, c, req: ok())
    sender = senders(server.url)
    for _ in range(20):
        send_all(sender, 1)
    assert (20, 1) == (len(server.requests), server.connections)


def test_chunked_response(serve: MakeServer, senders: MakeSender) -> None:
    """A chunked body is reassembled before classification."""
    half = len(OK_BODY) // 2
    parts = [OK_BODY[:half], OK_BODY[half:]]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    server = serve(
        lambda n, c, req: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
    )
    [result] = send_all(senders(server.url), 1)
    assert (Outcome.ENQUEUED, "TS-1_1000") == (result.outcome, result.job)


def test_body_delimited_by_close(serve: MakeServer, senders: MakeSender) -> None:
    """An HTTP/1.0 answer without a length ends with the connection, then a new one is
    opened for the next request."""
    server = serve(lambda n, c, req: b"HTTP/1.0 200 OK\r\n\r\n" + OK_BODY)
    sender = senders(server.url)
    results = [send_all(sender, 1)[0] for _ in range(3)]
    assert [Outcome.ENQUEUED] * 3 == [r.outcome for r in results]
    assert 3 == server.connections


def test_connection_closed_by_server_while_idle_is_replaced(
    serve: MakeServer, senders: MakeSender
) -> None:
    """A kept-alive connection the server closed meanwhile is not an error: the request
    goes out (once) on a new connection."""
    server = serve(lambda n, c, req: ok())
    sender = senders(server.url)
    send_all(sender, 1)
    server.close_idle()
    time.sleep(0.05)
    [result] = send_all(sender, 1)
    assert (Outcome.ENQUEUED, 2, 2) == (result.outcome, len(server.requests), server.connections)


def test_no_answer_is_retryable_and_the_next_request_works(
    serve: MakeServer, senders: MakeSender
) -> None:
    """A connection dropped without an answer, and a read timeout, are retryable; the
    sender carries on with new connections."""
    server = serve(lambda n, c, req: {1: None, 2: 1.0}.get(n, ok()))
    sender = senders(server.url, timeout_s=0.3)
    dropped, slow, fine = (send_all(sender, 1)[0] for _ in range(3))
    assert (Outcome.RETRYING, "ConnectionError") == (dropped.outcome, dropped.detail.split(":")[0])
    assert (Outcome.RETRYING, "ReadTimeoutError") == (slow.outcome, slow.detail)
    assert Outcome.ENQUEUED == fine.outcome


def test_connection_refused_is_retryable(senders: MakeSender) -> None:
    """Nothing listening: a retryable outcome naming the connect failure."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    [result] = send_all(senders(f"http://127.0.0.1:{port}"), 1)
    assert (Outcome.RETRYING, True) == (result.outcome, result.detail.startswith("connect failed"))


def test_status_codes_are_classified(serve: MakeServer, senders: MakeSender) -> None:
    """5xx is retryable, 4xx a failure, a malformed status line retryable."""
    answers = {
        1: b"HTTP/1.1 503 Busy\r\nContent-Length: 2\r\n\r\n{}",
        2: b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}",
        3: b"garbage\r\n\r\n",
    }
    server = serve(lambda n, c, req: answers[n])
    sender = senders(server.url)
    busy, missing, garbage = (send_all(sender, 1)[0] for _ in range(3))
    assert (Outcome.RETRYING, 503) == (busy.outcome, busy.http)
    assert (Outcome.FAILED, 404) == (missing.outcome, missing.http)
    assert (Outcome.RETRYING, True) == (garbage.outcome, garbage.detail.startswith("bad response"))
    assert all(SECRET not in r.detail for r in (busy, missing, garbage))


def test_no_more_connections_than_the_concurrency(serve: MakeServer, senders: MakeSender) -> None:
    """Fifty slow requests share at most ``concurrency`` connections and all succeed."""
    server = serve(lambda n, c, req: 0.05)
    results = send_all(senders(server.url, concurrency=4), 50)
    assert [Outcome.ENQUEUED] * 50 == [r.outcome for r in results]
    assert (True, True) == (server.connections <= 4, server.max_concurrent <= 4)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_https_with_a_trusted_certificate(serve: MakeServer, tmp_path: Path) -> None:
    """Over TLS the request is the same and verified against the given trust store."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    server = serve(lambda n, c, req: ok(), tls=server_ctx)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    sender = FireSender(server.url, HEADERS, 2.0, 2, ssl_context=client_ctx)
    try:
        [result] = send_all(sender, 1)
    finally:
        sender.close()
    assert (Outcome.ENQUEUED, 1) == (result.outcome, len(server.requests))


def test_interim_1xx_responses_are_skipped(serve: MakeServer, senders: MakeSender) -> None:
    """``100 Continue`` and ``103 Early Hints`` before the real answer are not the answer;
    the connection stays usable for the next request."""
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
    server = serve(lambda n, c, req: interim + ok())
    sender = senders(server.url)
    first, second = (send_all(sender, 1)[0] for _ in range(2))
    assert [(Outcome.ENQUEUED, 200, "TS-1_1000")] * 2 == [
        (r.outcome, r.http, r.job) for r in (first, second)
    ]
    assert 1 == server.connections


def test_switching_protocols_is_a_bad_response(serve: MakeServer, senders: MakeSender) -> None:
    """A 101 answer to a POST is not a final answer we can use: a retryable bad response
    (the protocol layer names it: an upgrade nobody asked for)."""
    server = serve(lambda n, c, req: b"HTTP/1.1 101 Switching Protocols\r\n\r\n" + ok())
    [result] = send_all(senders(server.url), 1)
    assert (Outcome.RETRYING, "bad response") == (result.outcome, result.detail.split(":")[0])


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\n\r\n", id="no-length"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n", id="chunk-line"
        ),
    ],
)
def test_an_endless_response_is_cut_off_and_its_connection_closed(
    serve: MakeServer, senders: MakeSender, head: bytes
) -> None:
    """A response that streams on without a length (or with a chunk-size line that never
    ends) is not buffered without limit: past the cap (1 MiB of body; a line longer than
    the protocol layer's limit) it is a retryable bad response and the connection is
    closed, long before the read timeout."""
    stream = head + b"x" * (8 * 1024 * 1024)
    server = serve(lambda n, c, req: stream)
    sender = senders(server.url, timeout_s=30.0)
    [result] = send_all(sender, 1, timeout=25.0)
    assert (Outcome.RETRYING, "bad response") == (result.outcome, result.detail.split(":")[0])
    if b"chunked" not in head:
        assert "body larger than 1048576 bytes" in result.detail
    wait = time.monotonic() + 10
    while server.concurrent and time.monotonic() < wait:
        time.sleep(0.01)
    assert 0 == server.concurrent  # the client closed its end


def test_a_307_redirect_is_followed_with_the_post(serve: MakeServer, senders: MakeSender) -> None:
    """A site that moved its API answers 307: the same POST (body and token) goes to the
    new place, and its answer is the fire's."""
    moved = b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /moved\r\nContent-Length: 0\r\n\r\n"
    server = serve(lambda n, c, req: moved if n == 1 else ok())
    [result] = send_all(senders(server.url), 1)
    assert (Outcome.ENQUEUED, 2) == (result.outcome, len(server.requests))
    second = server.requests[1].split(b"\r\n\r\n")
    assert second[0].startswith(b"POST /moved HTTP/1.1")
    assert f"Authorization: token key:{SECRET}".encode() in second[0]
    assert b"TS-0@1000" in second[1]


def test_the_proxy_from_the_environment_carries_the_request(
    serve: MakeServer, senders: MakeSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``HTTP_PROXY`` set: the request goes to the proxy, in absolute form, for the site's
    address (the site here has a name nothing resolves)."""
    proxy = serve(lambda n, c, req: ok())
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    [result] = send_all(senders("http://erp.site.invalid:8000"), 1)
    assert Outcome.ENQUEUED == result.outcome
    line = proxy.requests[0].split(b"\r\n")[0]
    assert f"POST http://erp.site.invalid:8000{ENQUEUE_PATH} HTTP/1.1".encode() == line
