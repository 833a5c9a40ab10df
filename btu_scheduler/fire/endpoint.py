"""Blocking calls to the Frappe site: ``republish_all``, and single fires for a test's
injected endpoint (:class:`~btu_scheduler.fire.sender.ThreadedSender`).

urllib3 gives pooled keep-alive connections. The answer is classified by
:mod:`btu_scheduler.fire.answers`; nothing here retries or sleeps. The Authorization
header never reaches a log or an exception message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import orjson
import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error

from btu_scheduler.fire.answers import MAX_BODY, RETRYABLE_STATUS, Result, classify, snippet
from btu_scheduler.fire.auth import SiteAuth
from streams.keys import ENQUEUE_PATH, REPUBLISH_PATH, Outcome

# How long the app may take to answer republish_all (it republishes everything first).
REPUBLISH_TIMEOUT_S = 600.0


class Endpoint:
    """The Frappe site's HTTP API as the daemon sees it."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_secret: str,
        *,
        host_header: str = "",
        timeout_s: float = 10.0,
        pool_size: int = 32,
        auth: SiteAuth | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        self._base_path = parts.path.rstrip("/")
        self._pool = urllib3.connection_from_url(
            f"{parts.scheme}://{parts.netloc}",
            maxsize=pool_size,
            block=False,
            retries=False,
            timeout=urllib3.Timeout(connect=min(timeout_s, 5.0), read=timeout_s),
        )
        self.auth = auth
        self.headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        if auth is None or not auth.signed:
            self.headers["Authorization"] = f"token {api_key}:{api_secret}"
        if host_header:
            self.headers["Host"] = host_header

    def close(self) -> None:
        self._pool.close()

    def enqueue(self, item_id: str, kind: str, due: int, fire_id: str) -> Result:
        body = orjson.dumps({"id": item_id, "kind": kind, "due": due, "fire_id": fire_id})
        try:
            status, data = self._post(ENQUEUE_PATH, body)
        except Urllib3Error as e:
            return Result(Outcome.RETRYING, detail=_describe_error(e))
        except _TooLarge as e:
            return Result(Outcome.RETRYING, http=e.status, detail=str(e))
        return classify(status, data)

    def republish_all(self) -> Result:
        """Ask the app to rebuild the state hash and stream from its database. The app
        answers when it has, which for a large site takes longer than a fire's request
        timeout: timing out would only make the daemon ask again and again."""
        timeout = urllib3.Timeout(connect=5.0, read=REPUBLISH_TIMEOUT_S)
        try:
            status, data = self._post(REPUBLISH_PATH, b"{}", timeout)
        except Urllib3Error as e:
            return Result(Outcome.RETRYING, detail=_describe_error(e))
        except _TooLarge as e:
            return Result(Outcome.RETRYING, http=e.status, detail=str(e))
        if 200 <= status < 300:
            return Result(Outcome.ENQUEUED, http=status)
        kind = Outcome.RETRYING if status in RETRYABLE_STATUS else Outcome.FAILED
        return Result(kind, http=status, detail=snippet(data))

    def _post(
        self, path: str, body: bytes, timeout: urllib3.Timeout | None = None
    ) -> tuple[int, bytes]:
        """POST ``body``; the status and at most :data:`MAX_BODY` bytes of the answer
        (:class:`_TooLarge`, and the connection dropped, beyond that). ``timeout``
        replaces the pool's own."""
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        target = self._base_path + path
        headers = self.headers
        if self.auth is not None and self.auth.signed:
            headers = headers | self.auth.headers("POST", target, body)
        response = self._pool.urlopen(
            "POST", target, body=body, headers=headers, preload_content=False, **extra,
        )  # fmt: skip
        data = bytearray()
        try:
            while len(data) <= MAX_BODY:
                piece = response.read(64 * 1024)
                if not piece:
                    response.release_conn()
                    return response.status, bytes(data)
                data += piece
        except BaseException:
            response.close()
            raise
        response.close()  # not released: the rest of the answer is never read
        raise _TooLarge(response.status)


class _TooLarge(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"bad response: body larger than {MAX_BODY} bytes")
        self.status = status


def _describe_error(error: Exception) -> str:
    # urllib3's messages name the host and port, never the headers.
    text = str(error.__class__.__name__)
    reason = getattr(error, "reason", None)
    if reason is not None:
        text += f": {reason.__class__.__name__}"
    return text
