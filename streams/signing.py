"""Signed, time-limited daemon requests (ours, issue 11; docs/protocol.md "Signed
requests", docs/decisions/0012-discovery-and-signed-requests.md).

A daemon serving sites it discovered has no per-site API key. It signs each request to
a site's daemon-facing endpoints with the bench-level secret ``btu_scheduler_secret``
(``sites/common_site_config.json``, the daemon's config), and the app verifies it::

    X-BTU-Site:      erp.example.com
    X-BTU-Timestamp: 1795747880000                      (unix ms, the sender's clock)
    X-BTU-Signature: v1=<hex HMAC-SHA256(secret, string to sign)>

    string to sign = "v1\\n{site}\\n{timestamp}\\n{METHOD}\\n{path}\\n{hex SHA-256 of body}"

``path`` is the request target as sent: the path, plus ``?`` and the query string when
there is one. Neither function touches the network, a clock or a config file: the
caller passes ``now_ms`` and the secret.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from streams.errors import SecretError, SignatureRefused
from streams.keys import Keys, SignHeader

SECRET_SETTING = "btu_scheduler_secret"
# During a rotation the site also accepts the previous secret (docs/operations.md).
PREVIOUS_SECRET_SETTING = "btu_scheduler_secret_previous"
MIN_SECRET_LENGTH = 32
SCHEME = "v1"
DEFAULT_MAX_SKEW_MS = 60_000
# A timestamp is a plain decimal integer of at most this many digits (ms until year 2286).
_MAX_TS_DIGITS = 13
_HEX = frozenset("0123456789abcdef")


def check_secret(secret: object) -> bytes:
    """The secret as bytes, or :class:`SecretError` naming the setting (never the value)
    when it is not a string of at least :data:`MIN_SECRET_LENGTH` characters."""
    if not isinstance(secret, str) or not secret.strip():
        raise SecretError(f"{SECRET_SETTING} is not set: signed requests need it")
    if len(secret) < MIN_SECRET_LENGTH:
        raise SecretError(
            f"{SECRET_SETTING} is too short: it must be at least {MIN_SECRET_LENGTH} "
            "characters (e.g. the output of `openssl rand -hex 32`)"
        )
    return secret.encode("utf-8")


def string_to_sign(site: str, timestamp: str, method: str, path: str, body: bytes) -> bytes:
    """The bytes the signature is the HMAC of (see the module's docstring)."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{SCHEME}\n{site}\n{timestamp}\n{method.upper()}\n{path}\n{digest}".encode()


def _signature(key: bytes, site: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    return hmac.new(key, string_to_sign(site, timestamp, method, path, body), "sha256").hexdigest()


def _check_request(site: str, method: str, path: str, body: object) -> None:
    Keys(site)  # a usable site name, or ProtocolError naming it
    if not method or not method.isascii() or not method.isalpha():
        raise ValueError(f"method {method!r} is not an HTTP method")
    if not path.startswith("/"):
        raise ValueError(f"path {path!r} must start with '/'")
    if not isinstance(body, bytes):
        raise TypeError(f"body must be bytes, not {type(body).__name__}")


def sign(
    secret: str, site: str, method: str, path: str, body: bytes, now_ms: int
) -> dict[str, str]:
    """The three headers that authenticate a request to ``site``.

    ``path`` is the request target (path and any ``?query``), ``body`` the exact bytes
    sent (``b""`` for none), ``now_ms`` the sender's clock in unix ms. Raises
    :class:`SecretError` for a missing or short secret.
    """
    key = check_secret(secret)
    _check_request(site, method, path, body)
    if isinstance(now_ms, bool) or not isinstance(now_ms, int) or now_ms < 0:
        raise ValueError(f"now_ms must be a non-negative integer, not {now_ms!r}")
    timestamp = str(now_ms)
    return {
        SignHeader.SITE: site,
        SignHeader.TIMESTAMP: timestamp,
        SignHeader.SIGNATURE: f"{SCHEME}={_signature(key, site, timestamp, method, path, body)}",
    }


def is_signed(headers: Mapping[str, str]) -> bool:
    """Whether ``headers`` (any letter case) carry a signature header at all."""
    wanted = SignHeader.SIGNATURE.lower()
    return any(name.lower() == wanted for name in headers)


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted and value:
            return value.strip()
    raise SignatureRefused("missing-header", f"the request has no {name} header")


def verify(
    secret: str,
    site: str,
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: bytes,
    now_ms: int,
    max_skew_ms: int = DEFAULT_MAX_SKEW_MS,
) -> None:
    """Check that ``headers`` sign this request (``method`` ``path`` ``body``) for
    ``site`` with ``secret``, made within ``max_skew_ms`` of ``now_ms``.

    Returns ``None`` when it does; raises :class:`SignatureRefused` (``.reason`` says
    which check failed) when it does not, :class:`SecretError` when the secret itself is
    unusable. Header names match in any letter case. The signature is compared in
    constant time; no message contains the secret or the expected signature.
    """
    key = check_secret(secret)
    claimed_site = _header(headers, SignHeader.SITE)
    timestamp = _header(headers, SignHeader.TIMESTAMP)
    signature = _header(headers, SignHeader.SIGNATURE)

    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > _MAX_TS_DIGITS:
        raise SignatureRefused(
            "bad-format",
            f"{SignHeader.TIMESTAMP} must be unix milliseconds as a plain integer",
        )
    scheme, sep, hex_signature = signature.partition("=")
    if scheme != SCHEME or not sep:
        raise SignatureRefused(
            "bad-format", f"{SignHeader.SIGNATURE} must be '{SCHEME}=<hex HMAC-SHA256>'"
        )
    if len(hex_signature) != 64 or not _HEX.issuperset(hex_signature):
        raise SignatureRefused(
            "bad-format",
            f"{SignHeader.SIGNATURE} must be '{SCHEME}=' and 64 lower-case hex digits",
        )
    if claimed_site != site:
        raise SignatureRefused(
            "wrong-site",
            f"{SignHeader.SITE} names another site ({claimed_site[:255]!r}) than the one "
            f"that received the request ({site!r})",
        )
    skew = int(timestamp) - now_ms
    if skew < -max_skew_ms:
        raise SignatureRefused(
            "stale",
            f"{SignHeader.TIMESTAMP} is {-skew} ms old (at most {max_skew_ms} ms allowed): "
            "a replay, or the clocks of the daemon and the site disagree",
        )
    if skew > max_skew_ms:
        raise SignatureRefused(
            "future",
            f"{SignHeader.TIMESTAMP} is {skew} ms ahead of the site's clock (at most "
            f"{max_skew_ms} ms allowed): the clocks of the daemon and the site disagree",
        )
    expected = _signature(key, site, timestamp, method, path, body)
    if not hmac.compare_digest(expected, hex_signature):
        raise SignatureRefused(
            "bad-signature",
            f"{SignHeader.SIGNATURE} does not match: the secret differs ({SECRET_SETTING}) "
            "or the method, path, body or headers were changed",
        )
