"""A fast local stand-in for ``POST /api/method/btu.api.enqueue_scheduled``, run by the
benchmarks in a process of its own (so it shares no GIL with the daemon or the driver).

A minimal asyncio HTTP/1.1 server with keep-alive (an asyncio Protocol: much cheaper per
request than asyncio streams): it answers every enqueue request
``{"message": {"job_id": ..., "duplicate": false}}``, and every ``enqueue_batch`` request
one such result per fire (PROTOCOL.md "Batch firing"), and records, per ``fire_id``, the
time the whole request had arrived (epoch ms, float). ``GET /_bench/records`` returns
those records as a JSON list of ``[fire_id, received_ms]`` and forgets them. With
``--no-batch`` it answers the batch path as Frappe v15 does for an unknown method (417).

Usage: ``python -m benchmarks.stub_endpoint [--port N] [--auth "token k:s"] [--no-batch]``; it
prints ``READY <port>`` on stdout once listening and stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Sequence

import orjson

from streams.keys import ENQUEUE_BATCH_PATH, ENQUEUE_PATH
from streams.messages import job_id_for

RECORDS_PATH = "/_bench/records"
MAX_HEAD = 64 * 1024


def _response(status: bytes, body: bytes, close: bool = False) -> bytes:
    head = (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n"
    )
    if close:
        head += b"Connection: close\r\n"
    return head + b"\r\n" + body


class Stub:
    """Shared state: the expected Authorization header and the records."""

    def __init__(self, auth: bytes | None, batch: bool = True) -> None:
        self.auth = auth
        self.batch = batch
        self.records: list[tuple[str, float]] = []

    def answer(
        self, method: bytes, path: bytes, headers: dict[bytes, bytes], body: bytes,
        received: float, close: bool,
    ) -> bytes:  # fmt: skip
        if method == b"GET" and path == RECORDS_PATH.encode():
            records, self.records = self.records, []
            return _response(b"200 OK", orjson.dumps(records), close)
        if self.auth is not None and headers.get(b"authorization") != self.auth:
            return _response(b"401 Unauthorized", b'{"exc_type":"AuthenticationError"}', close)
        if method == b"POST" and path == ENQUEUE_BATCH_PATH.encode():
            return self.answer_batch(body, received, close)
        if method != b"POST" or path != ENQUEUE_PATH.encode():
            return _response(b"404 Not Found", b'{"exc_type":"DoesNotExistError"}', close)
        try:
            fire = str(orjson.loads(body)["fire_id"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return _response(b"400 Bad Request", b'{"exc_type":"ValidationError"}', close)
        self.records.append((fire, received))
        payload = {"message": {"job_id": job_id_for(fire), "duplicate": False}}
        return _response(b"200 OK", orjson.dumps(payload), close)

    def answer_batch(self, body: bytes, received: float, close: bool) -> bytes:
        if not self.batch:
            unknown = b'{"exception": "Failed to get method for command btu.api.enqueue_batch"}'
            return _response(b"417 Expectation Failed", unknown, close)
        try:
            fires = [str(f["fire_id"]) for f in orjson.loads(body)["fires"]]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return _response(b"400 Bad Request", b'{"exc_type":"ValidationError"}', close)
        self.records.extend((fire, received) for fire in fires)
        results = [{"fire_id": f, "job_id": job_id_for(f), "duplicate": False} for f in fires]
        return _response(b"200 OK", orjson.dumps({"message": {"results": results}}), close)


class Connection(asyncio.Protocol):
    """One keep-alive client connection (a Protocol: cheaper than asyncio streams)."""

    def __init__(self, stub: Stub) -> None:
        self.stub = stub
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        buf = self.buffer
        buf += data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    self.transport.close()
                return
            try:
                method, path, headers = _parse_head(bytes(buf[:end]))
                length = int(headers.get(b"content-length", b"0") or 0)
            except ValueError:
                self.transport.write(_response(b"400 Bad Request", b"{}", close=True))
                self.transport.close()
                return
            if len(buf) < end + 4 + length:
                return
            body = bytes(buf[end + 4 : end + 4 + length])
            del buf[: end + 4 + length]
            received = time.time() * 1000
            close = headers.get(b"connection", b"").lower() == b"close"
            self.transport.write(self.stub.answer(method, path, headers, body, received, close))
            if close:
                self.transport.close()
                return


def _parse_head(head: bytes) -> tuple[bytes, bytes, dict[bytes, bytes]]:
    lines = head.split(b"\r\n")
    method, path, _version = lines[0].split(b" ", 2)
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return method, path.split(b"?", 1)[0], headers


async def _main(port: int, auth: str | None, batch: bool) -> None:
    stub = Stub(auth.encode() if auth else None, batch)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(stub), "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"READY {bound}\n")
    sys.stdout.flush()
    async with server:
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--auth", default=None, help="required Authorization header value")
    parser.add_argument(
        "--no-batch", action="store_true", help="answer enqueue_batch 417 (an app before 1.1)"
    )
    args = parser.parse_args(argv)
    asyncio.run(_main(args.port, args.auth, not args.no_batch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
