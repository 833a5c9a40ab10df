"""The control RPC (PROTOCOL.md "Control RPC"): a client, and the reply helper the
daemon uses.

A call XADDs one request to ``btu:{site}:rpc`` and waits on its own reply stream
``btu:{site}:rpc:reply:{rid}``. The reply is a completion acknowledgement: when
:meth:`RpcClient.call` returns, the command has been applied. The client deletes the
reply stream once read, and the daemon does not answer a request whose deadline has
passed, so a call leaves no key behind (a reply racing the deadline expires in 60 s).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from redis import Redis

from streams.errors import ProtocolError, RpcFailed, RpcTimeout
from streams.keys import RPC_MAXLEN, RPC_REPLY_TTL_S, Cmd, Keys
from streams.messages import RpcReply, RpcRequest
from streams.redisio import Clock, Entry, block_ms, now_ms, parse_xread, text, xadd, xread
from streams.replies import CancelReply, NextFire, PingReply, ReloadReply, resync_armed

DEFAULT_TIMEOUT_S = 1.0
# Extra time the client waits past the deadline for a reply already on its way.
REPLY_GRACE_MS = 50


class RpcClient:
    """Send control commands to the active scheduler instance of one site."""

    def __init__(self, r: Redis, keys: Keys, *, clock: Clock = time.time) -> None:
        self._r = r
        self._keys = keys
        self._clock = clock

    def call(self, cmd: str, arg: str | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> Any:
        """Run ``cmd`` and return the reply's ``data``.

        Raises :class:`RpcTimeout` when no instance answers within ``timeout`` seconds
        and :class:`RpcFailed` when the scheduler answers ``ok=0``.
        """
        reply = self.request(cmd, arg, timeout)
        if not reply.ok:
            raise RpcFailed(cmd, reply.error)
        return reply.data

    # Typed shortcuts for the commands of PROTOCOL.md.

    def ping(self, timeout: float = DEFAULT_TIMEOUT_S) -> PingReply:
        return PingReply.from_data(self.call(Cmd.PING, timeout=timeout))

    def reload(self, item_id: str, timeout: float = DEFAULT_TIMEOUT_S) -> ReloadReply:
        """Have the daemon re-read ``item_id`` from the state hash; its next instants."""
        return ReloadReply.from_data(self.call(Cmd.RELOAD, item_id, timeout))

    def cancel(self, item_id: str, timeout: float = DEFAULT_TIMEOUT_S) -> CancelReply:
        return CancelReply.from_data(self.call(Cmd.CANCEL, item_id, timeout))

    def next(self, count: int = 10, timeout: float = DEFAULT_TIMEOUT_S) -> list[NextFire]:
        return NextFire.list_from_data(self.call(Cmd.NEXT, str(count), timeout))

    def status(self, timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
        data = self.call(Cmd.STATUS, timeout=timeout)
        if not isinstance(data, dict):
            raise ProtocolError("status reply is not a JSON object")
        return data

    def resync(self, timeout: float = DEFAULT_TIMEOUT_S) -> int:
        """Rebuild the daemon's heap from the state hash; returns how many are armed."""
        return resync_armed(self.call(Cmd.RESYNC, timeout=timeout))

    def request(
        self, cmd: str, arg: str | None = None, timeout: float = DEFAULT_TIMEOUT_S
    ) -> RpcReply:
        """Like :meth:`call` but returns the whole reply, ``ok=0`` included."""
        rid = uuid.uuid4().hex
        sent = now_ms(self._clock)
        deadline = sent + max(1, int(timeout * 1000))
        request = RpcRequest(rid=rid, cmd=cmd, arg=arg, ts=sent, deadline=deadline)
        reply_key = self._keys.rpc_reply(rid)
        give_up = time.monotonic() + timeout + REPLY_GRACE_MS / 1000
        try:
            # The request and the first blocking read of its reply travel together.
            pipe = self._r.pipeline(transaction=False)
            xadd(pipe, self._keys.rpc, request.encode(), RPC_MAXLEN)
            pipe.xread({reply_key: "0-0"}, block=block_ms(self._r, timeout * 1000))
            _, first = pipe.execute()
            reply = _reply_in(parse_xread(first), rid)
            if reply is None:
                reply = self._wait(reply_key, rid, deadline + REPLY_GRACE_MS, give_up)
            if reply is None:
                raise RpcTimeout(
                    f"no scheduler answered {cmd!r} within {timeout:g} s "
                    "(is btu-scheduler running for this site?)"
                )
            return reply
        finally:
            self._r.delete(reply_key)

    def _wait(self, reply_key: str, rid: str, until: int, give_up: float) -> RpcReply | None:
        # The deadline is on the injected clock (it is what the daemon compares with);
        # the real wait is also bounded, so a frozen test clock cannot hang a call.
        while True:
            remaining = min(until - now_ms(self._clock), (give_up - time.monotonic()) * 1000)
            if remaining <= 0:
                return None
            reply = _reply_in(xread(self._r, {reply_key: "0-0"}, remaining), rid)
            if reply is not None:
                return reply


def _reply_in(batches: list[tuple[str, list[Entry]]], rid: str) -> RpcReply | None:
    for _stream, entries in batches:
        for _entry_id, fields in entries:
            reply = RpcReply.decode(fields)
            if reply.rid != rid:
                raise ProtocolError(f"reply for {reply.rid!r} arrived on the stream of {rid!r}")
            return reply
    return None


# KEYS: the reply stream. ARGV: ttl_s, field, value, ... Writes only into a stream (or
# nothing): a key of another type (written by someone else) is left untouched, TTL
# included. Returns "stream" when sent, else the key's type.
_SEND_REPLY = """
local t = redis.call('TYPE', KEYS[1])['ok']
if t ~= 'none' and t ~= 'stream' then return t end
redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 'stream'
"""


def send_reply(r: Redis, keys: Keys, reply: RpcReply) -> str | None:
    """XADD the reply to its own stream and let it expire (the daemon's side), in one
    script. Returns None when sent, else the type of the key already there under the
    reply's name (nothing is written to it, and its expiry is not touched)."""
    key = keys.rpc_reply(reply.rid)
    flat = [x for pair in reply.encode().items() for x in pair]
    kind = text(r.register_script(_SEND_REPLY)(keys=[key], args=[RPC_REPLY_TTL_S, *flat]))
    return None if kind == "stream" else kind
