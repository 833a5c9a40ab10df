"""Small helpers that make redis-py calls safe for the protocol's access patterns.

Blocking stream reads are the subtle one: a client built with ``socket_timeout=5``
raises ``TimeoutError`` when the server legitimately blocks longer than that, and
``BLOCK 0`` waits forever. :func:`block_ms` caps every BLOCK below the connection's
socket timeout, and :func:`xread` normalises RESP2/RESP3 replies.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from redis import Redis

# How long before the socket timeout a blocking call must return on its own.
SOCKET_MARGIN_MS = 250
# Never ask the server to block longer than this, even without a socket timeout.
MAX_BLOCK_MS = 60_000

Entry = tuple[str, dict[bytes | str, bytes | str]]
Clock = Callable[[], float]


def now_ms(clock: Clock = time.time) -> int:
    return int(clock() * 1000)


def socket_timeout_ms(r: Redis) -> int | None:
    timeout = r.connection_pool.connection_kwargs.get("socket_timeout")
    if timeout is None:
        return None
    return int(float(timeout) * 1000)


def block_ms(r: Redis, wanted_ms: float) -> int:
    """The BLOCK argument to use for a wait of ``wanted_ms``: at least 1, safely capped."""
    cap = MAX_BLOCK_MS
    sock = socket_timeout_ms(r)
    if sock is not None:
        cap = min(cap, max(1, sock - SOCKET_MARGIN_MS))
    return int(max(1, min(wanted_ms, cap)))


def parse_xread(reply: Any) -> list[tuple[str, list[Entry]]]:
    """Normalise an XREAD/XREADGROUP reply (RESP2 list or RESP3 dict) to a list of
    ``(stream, [(entry_id, fields), ...])``."""
    if not reply:
        return []
    items = reply.items() if isinstance(reply, Mapping) else reply
    out: list[tuple[str, list[Entry]]] = []
    for stream, entries in items:
        if isinstance(entries, list) and len(entries) == 1 and isinstance(entries[0], list):
            entries = entries[0]  # RESP3 wraps the entry list once more
        out.append((text(stream), [(text(eid), fields or {}) for eid, fields in entries]))
    return out


def xread(
    r: Redis, streams: Mapping[str, str], wait_ms: float | None, count: int | None = None
) -> list[tuple[str, list[Entry]]]:
    """XREAD that never trips the socket timeout; ``wait_ms=None`` does not block."""
    block = None if wait_ms is None else block_ms(r, wait_ms)
    reply = r.xread(cast(Any, dict(streams)), count=count, block=block)
    return parse_xread(reply)


def text(value: bytes | str) -> str:
    """A Redis reply value as text (clients may or may not decode responses)."""
    return value.decode() if isinstance(value, bytes) else value


def pairs(flat: Sequence[Any]) -> list[tuple[Any, Any]]:
    """A flat reply ``[k1, v1, k2, v2, ...]`` (HGETALL or ZRANGE WITHSCORES from Lua) as
    pairs."""
    return list(zip(flat[0::2], flat[1::2], strict=True))


def int_fields(fields: Mapping[Any, Any]) -> dict[str, int]:
    """A hash whose values are integers (item id → instant), as text → int; fields whose
    value is not a whole number are left out."""
    out: dict[str, int] = {}
    for k, v in fields.items():
        value = text(v)
        if value.isdigit():
            out[text(k)] = int(value)
    return out


def xadd(r: Any, key: str, fields: Mapping[str, str], maxlen: int | None = None) -> Any:
    """XADD with approximate trimming; works on a client or a pipeline."""
    return r.xadd(key, cast(Any, dict(fields)), maxlen=maxlen, approximate=maxlen is not None)


def hgetall_text(r: Redis, key: str) -> dict[str, str]:
    reply = cast("Mapping[bytes | str, bytes | str] | None", r.hgetall(key))
    return {text(k): text(v) for k, v in (reply or {}).items()}


def xrevrange(r: Redis, key: str, count: int) -> list[tuple[str, dict[str, str]]]:
    """The newest ``count`` entries of a stream, newest first, as text."""
    reply = cast("list[tuple[bytes | str, Mapping[bytes | str, bytes | str]]] | None",
                 r.xrevrange(key, count=count))  # fmt: skip
    return [(text(eid), {text(k): text(v) for k, v in f.items()}) for eid, f in reply or []]
