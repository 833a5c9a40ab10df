"""Classifying answers: one HTTP answer becomes one outcome per fire it carried
(PROTOCOL.md "Firing", steps 4 and 5, and "Batch firing").

Nothing here sends, retries or sleeps: the dispatcher owns the retry policy.

- a single request (``enqueue_scheduled``): :func:`classify`;
- a batch (``enqueue_batch``): :func:`classify_batch` gives each fire the outcome a single
  request would have had: the per-fire ``error.status`` is classified like a single
  answer's HTTP status; a whole-batch network error or retryable status retries every
  fire of it; :func:`batch_unknown` recognises a site that does not know the endpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from streams.keys import Outcome

RETRYABLE_STATUS = frozenset({408, 429}) | frozenset(range(500, 600))
MAX_BODY = 1024 * 1024  # a larger answer is an error, not buffered (whatever its framing)
UNKNOWN_METHOD = b"Failed to get method for command"  # Frappe v15's 417 for a missing one


@dataclass(frozen=True, slots=True)
class Result:
    """How one attempt ended."""

    outcome: str  # enqueued | duplicate | retrying | failed
    http: int | None = None
    job: str = ""
    detail: str = ""  # short reason for logs; never contains credentials

    @property
    def retryable(self) -> bool:
        return self.outcome == Outcome.RETRYING


def classify(status: int, data: bytes) -> Result:
    """Turn one HTTP answer into an outcome (PROTOCOL.md "Firing", steps 4 and 5)."""
    if 200 <= status < 300:
        message = _message(data)
        if message is None:
            return Result(Outcome.FAILED, http=status, detail="answer has no message object")
        return _accepted(status, message)
    return _by_status(status, snippet(data))


def _accepted(status: int, message: dict[str, Any]) -> Result:
    job = message.get("job_id")
    job_text = job if isinstance(job, str) else ""
    if message.get("duplicate") is True:
        return Result(Outcome.DUPLICATE, http=status, job=job_text)
    return Result(Outcome.ENQUEUED, http=status, job=job_text)


def _by_status(status: int, detail: str) -> Result:
    kind = Outcome.RETRYING if status in RETRYABLE_STATUS else Outcome.FAILED
    return Result(kind, http=status, detail=detail)


def batch_unknown(status: int, data: bytes) -> bool:
    """True when the site does not know ``enqueue_batch`` (an app older than protocol
    1.1): Frappe v15 answers 417 "Failed to get method for command ...", a proxy or an
    older router 404 without a BTU answer. The app itself never answers a whole batch
    with 404 (an unknown item is a per-fire 404)."""
    if status == 417:
        return UNKNOWN_METHOD in data
    return status == 404 and _results(data) is None


def classify_batch(status: int, data: bytes, fire_ids: Sequence[str]) -> list[Result]:
    """One outcome per fire of a batch answer, in the order of ``fire_ids``.

    A 2xx answer carries one result per fire in request order; a result whose
    ``fire_id`` does not match its place is looked up by fire_id instead, and a fire
    without any result is retried (the app de-duplicates, so sending it again is safe).
    Any other status applies to every fire as it would to a single request."""
    if not 200 <= status < 300:
        whole = _by_status(status, snippet(data))
        return [whole] * len(fire_ids)
    results = _results(data)
    if results is None:
        failed = Result(Outcome.FAILED, http=status, detail="answer has no results list")
        return [failed] * len(fire_ids)
    by_id: dict[str, dict[str, Any]] | None = None
    out: list[Result] = []
    for i, fire_id in enumerate(fire_ids):
        entry = results[i] if i < len(results) else None
        if not isinstance(entry, dict) or entry.get("fire_id") != fire_id:
            if by_id is None:
                by_id = {
                    r["fire_id"]: r
                    for r in results
                    if isinstance(r, dict) and isinstance(r.get("fire_id"), str)
                }
            entry = by_id.get(fire_id)
        out.append(_one(status, entry))
    return out


def _one(status: int, entry: dict[str, Any] | None) -> Result:
    if entry is None:
        detail = "no result for this fire in the batch answer"
        return Result(Outcome.RETRYING, http=status, detail=detail)
    error = entry.get("error")
    if error is None:
        return _accepted(status, entry)
    if not isinstance(error, dict) or not _is_status(error.get("status")):
        return Result(Outcome.FAILED, http=status, detail="unreadable error in the batch answer")
    message = error.get("message")
    detail = _line(message) if isinstance(message, str) else ""
    return _by_status(int(error["status"]), detail)


def _is_status(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 100 <= value < 600


def _results(data: bytes) -> list[Any] | None:
    message = _message(data)
    results = None if message is None else message.get("results")
    return results if isinstance(results, list) else None


def _message(data: bytes) -> dict[str, Any] | None:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(parsed, dict):
        return None
    message = parsed.get("message")
    return message if isinstance(message, dict) else None


def _line(text: str, limit: int = 200) -> str:
    return text.replace("\n", " ")[:limit]


def snippet(data: bytes, limit: int = 200) -> str:
    """A short, single-line excerpt of an error body (Frappe puts the reason in
    ``exception`` or ``_server_messages``)."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        for key in ("exception", "exc_type", "message", "_error_message"):
            value = parsed.get(key)
            if isinstance(value, str) and value:
                return _line(value, limit)
    return _line(data[:limit].decode("utf-8", "replace"), limit)
