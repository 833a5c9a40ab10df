"""Exceptions raised by the ``streams`` contract library.

The tree::

    StreamsError                  root of everything raised here
    ├── ProtocolError             a stream entry or hash value that does not follow PROTOCOL.md
    ├── CronError                 a cron expression or time zone that cannot be used
    ├── SigningError              a signed request cannot be made or checked (ours)
    │   ├── SecretError           the shared secret is missing or too short
    │   └── SignatureRefused      a request's signature headers do not verify
    └── RpcError                  a control RPC did not succeed
        ├── RpcTimeout            no reply arrived before the deadline
        └── RpcFailed             the daemon answered ``ok=0``; ``.reason`` says why

Callers catch the specific class they can handle; the messages are written for a person
and name the offending field or value.
"""

from __future__ import annotations


class StreamsError(Exception):
    """Root of every exception raised by ``streams``."""


class ProtocolError(StreamsError):
    """An entry or value breaks the wire protocol (missing field, bad type, oversize...)."""


class CronError(StreamsError, ValueError):
    """A cron expression or time zone is invalid, or the expression can never fire."""


class SigningError(StreamsError, ValueError):
    """A signed daemon request (``streams.signing``) cannot be made or checked."""


class SecretError(SigningError):
    """The shared secret is missing or too short. The message names the setting, never
    the value."""


class SignatureRefused(SigningError):
    """A request's ``X-BTU-*`` headers do not verify. ``.reason`` is a short code
    (``missing-header``, ``bad-format``, ``stale``, ``future``, ``wrong-site``,
    ``bad-signature``); the message says what is wrong and never contains the secret
    or the expected signature."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class RpcError(StreamsError):
    """A control RPC call did not succeed."""


class RpcTimeout(RpcError):
    """No reply arrived in time: no scheduler instance is active, or it is overloaded."""


class RpcFailed(RpcError):
    """The scheduler answered the request with ``ok=0``."""

    def __init__(self, cmd: str, reason: str) -> None:
        super().__init__(f"scheduler refused {cmd!r}: {reason}")
        self.cmd = cmd
        self.reason = reason
