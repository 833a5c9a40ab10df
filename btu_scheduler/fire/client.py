"""The fire path's HTTP client: httpx (docs/decisions/0011-batch-firing-and-httpx.md).

:class:`httpx.AsyncClient` s on the sender's event loop (:mod:`btu_scheduler.fire.batching`):

- at most ``concurrency`` connections (one client each, lent to one request at a time),
  kept alive;
- HTTP/2 where the site offers it over TLS (ALPN), else HTTP/1.1; interim ``1xx``
  answers before the final one are skipped by the protocol layer, a ``101`` is a bad
  response;
- redirects followed (``307``/``308`` keep the POST; httpx drops the Authorization
  header when a redirect leaves the site's origin);
- proxies from ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` and ``NO_PROXY``, as httpx reads
  them; TLS verified against the system's trust store (or ``SSL_CERT_FILE`` /
  ``SSL_CERT_DIR``);
- an answer's body is read in pieces and never takes more than :data:`MAX_BODY` bytes
  in memory: a larger one is a :class:`SendError` ``bad response: body larger than ...``
  and its connection is closed. ``Accept-Encoding: identity``: no compressed bodies, so
  the bound is on what arrives;
- a connect failure, a timeout, a broken connection or an unparsable answer is a
  :class:`SendError` with a short reason (the fire is retried, as network errors are).
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Callable
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx

from btu_scheduler.fire.answers import MAX_BODY


class SendError(Exception):
    """A request got no usable answer (connect failure, broken connection, bad or too
    large response); its message is a short reason without credentials."""


# (method, target, body) → headers for that one request (signed requests).
Signer = Callable[[str, str, bytes], dict[str, str]]


class Client(Protocol):
    """What the fire path needs from an HTTP client: POST a JSON body, get the status
    and the body back (bounded), on the sender's event loop."""

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]: ...

    async def aclose(self) -> None: ...


class HttpxClient:
    """POSTs to one site over a pool of at most ``concurrency`` connections."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        timeout_s: float,
        concurrency: int,
        ssl_context: ssl.SSLContext | None = None,
        signer: Signer | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        self._signer = signer  # per-request headers (a signed site), else None
        host = parts.netloc.rpartition("@")[2]  # never credentials written in the URL
        self._base = urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
        self._path = parts.path.rstrip("/")
        self._headers = dict(headers) | {"Accept-Encoding": "identity"}
        if "Host" not in self._headers:
            self._headers["Host"] = host
        # One client (one connection) per request slot, handed out by a queue: httpcore's
        # shared pool scans every waiting request against every connection at each
        # change (~1.5 ms of CPU per request with 32 in flight, measured); one
        # connection per client keeps that constant (docs/decisions/0011).
        # The system's trust store (SSL_CERT_FILE / SSL_CERT_DIR when set), as before;
        # httpx alone would use certifi's. One context for all the clients.
        # Clients are made when first needed (a standby site, or a quiet one, has none):
        # a daemon serving a thousand sites must not build 32 clients for each.
        self._tls = ssl_context
        self._https = parts.scheme == "https"
        self._timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0))
        self._limit = concurrency
        self._idle: asyncio.LifoQueue[httpx.AsyncClient] = asyncio.LifoQueue()
        self._clients: list[httpx.AsyncClient] = []

    def _new_client(self) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            headers=self._headers,
            timeout=self._timeout,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            http2=self._https,
            follow_redirects=True,
            verify=self._tls if self._tls is not None else default_tls(),
            trust_env=True,
        )
        self._clients.append(client)
        return client

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self._idle.empty() and len(self._clients) < self._limit:
            client = self._new_client()
        else:
            client = await self._idle.get()
        try:
            return await self._post(client, path, body)
        finally:
            self._idle.put_nowait(client)

    async def _post(self, client: httpx.AsyncClient, path: str, body: bytes) -> tuple[int, bytes]:
        try:
            headers = self._signer("POST", self._path + path, body) if self._signer else None
            async with client.stream(
                "POST", self._base + path, content=body, headers=headers
            ) as answer:
                if answer.status_code < 200:
                    raise SendError(f"bad response: unexpected {answer.status_code} "
                                    f"{answer.reason_phrase}".rstrip())  # fmt: skip
                data = bytearray()
                async for piece in answer.aiter_raw():
                    data += piece
                    if len(data) > MAX_BODY:
                        raise SendError(f"bad response: body larger than {MAX_BODY} bytes")
                return answer.status_code, bytes(data)
        except httpx.HTTPError as e:
            raise SendError(describe(e)) from None

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()


@functools.cache
def default_tls() -> ssl.SSLContext:
    """The system's trust store (SSL_CERT_FILE / SSL_CERT_DIR when set), loaded once per
    process (it takes ~80 ms) and shared by every client."""
    return ssl.create_default_context()


def describe(error: httpx.HTTPError) -> str:
    """A short reason: the kind of failure, never the request's headers."""
    if isinstance(error, httpx.ConnectTimeout | httpx.ConnectError):
        return f"connect failed: {error.__class__.__name__}"
    if isinstance(error, httpx.TimeoutException):
        return "ReadTimeoutError"
    if isinstance(error, httpx.RemoteProtocolError) and "disconnected" in str(error):
        return "ConnectionError: closed by peer"
    if isinstance(error, httpx.RemoteProtocolError | httpx.DecodingError):
        return f"bad response: {_first_line(error)}"
    if isinstance(error, httpx.TooManyRedirects):
        return "TooManyRedirects"
    return f"ConnectionError: {error.__class__.__name__}"


def _first_line(error: Exception) -> str:
    return (str(error).splitlines() or [error.__class__.__name__])[0][:200]


def make_client(
    base_url: str,
    headers: dict[str, str],
    timeout_s: float,
    concurrency: int,
    ssl_context: ssl.SSLContext | None = None,
    signer: Signer | None = None,
) -> Client:
    """The fire path's HTTP client."""
    return HttpxClient(base_url, headers, timeout_s, concurrency, ssl_context, signer)
