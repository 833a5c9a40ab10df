"""Checking settings: each value's type, and every rule a setting must follow, with a
one-line :class:`ConfigError` that names the setting and never repeats a secret
(passwords in URLs are masked by :func:`mask_url`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from btu_scheduler.errors import ConfigError

if TYPE_CHECKING:
    from btu_scheduler.config import Settings

MASK = "********"
SECRET_SETTINGS = frozenset({"api_secret", "signing_secret"})
URL_SETTINGS = frozenset({"redis_url", "frappe_url"})  # may carry a password
MAX_LINGER_MS = 1000.0  # a longer linger would only delay fires
MIN_SIGNING_SECRET = 32


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``********``: in the user part
    (``redis://user:pass@host``) and in the query (``?password=...``, as redis-py
    accepts)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc, query = parts.netloc, parts.query
    if parts.password is not None:
        user = parts.username or ""
        host = parts.netloc.rpartition("@")[2]  # host[:port] as written, IPv6 brackets kept
        netloc = f"{user}:{MASK}@{host}"
    if query:
        pairs = [pair.partition("=") for pair in query.split("&")]
        query = "&".join(
            f"{k}{eq}{MASK if k.lower() in SECRET_QUERY and eq else v}" for k, eq, v in pairs
        )
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


SECRET_QUERY = frozenset({"password", "pass", "pwd", "secret", "token"})


def coerce(name: str, kind: Any, value: Any) -> Any:
    kind = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    if kind in ("int", "float"):
        number = _number(value, integer=kind == "int")
        if number is None:
            raise ConfigError(f"setting {name!r} must be a finite {kind}, got {_show(name, value)}")
        return number
    if not isinstance(value, str):
        raise ConfigError(f"setting {name!r} must be a string, got {_show(name, value)}")
    return value.strip()


def _number(value: Any, integer: bool) -> int | float | None:
    """A finite number from TOML or an environment string; None when it is not one (or,
    for an integer setting, not a whole number)."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value) if isinstance(value, str | int | float) else None
    except ValueError:
        return None
    if number is None or not math.isfinite(number):
        return None
    if integer:
        if not number.is_integer():
            return None
        return int(number)
    return number


def _show(name: str, value: Any) -> str:
    if name in SECRET_SETTINGS:
        return MASK
    if name in URL_SETTINGS:
        return repr(mask_url(value)) if isinstance(value, str) else MASK
    return repr(value)


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def _check_url(name: str, url: str, schemes: tuple[str, ...], example: str) -> None:
    """The URL parses, has an allowed scheme, a host (but for unix://) and a numeric port;
    the message never repeats a password."""
    shown = repr(mask_url(url))
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError as e:
        raise ConfigError(f"setting {name!r} is not a valid URL ({e}): {shown}") from None
    if parts.scheme not in schemes:
        allowed = ", ".join(f"{scheme}://" for scheme in schemes)
        raise ConfigError(
            f"setting {name!r} must start with {allowed} (like {example}), got {shown}"
        )
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError(f"setting {name!r} has no host (like {example}), got {shown}")


def validate(s: Settings) -> None:
    from streams.errors import ProtocolError
    from streams.keys import Keys

    try:
        Keys(s.site)
    except ProtocolError as e:
        raise ConfigError(f"setting 'site': {e}") from None
    _check_url("redis_url", s.redis_url, ("redis", "rediss", "unix"), "redis://host:6379/0")
    if s.frappe_url:
        _check_url("frappe_url", s.frappe_url, ("http", "https"), "http://127.0.0.1:8000")
    _check_fleet(s)
    if not s.instance.strip():
        raise ConfigError("setting 'instance' is empty")
    if s.log_level.lower() not in LOG_LEVELS:
        raise ConfigError(
            f"setting 'log_level' must be one of {'|'.join(LOG_LEVELS)}, got {s.log_level!r}"
        )
    if s.log_format not in ("auto", "json", "console"):
        raise ConfigError(f"setting 'log_format' must be json|console|auto, got {s.log_format!r}")
    positive = (
        "lease_seconds", "grace_seconds", "request_timeout_seconds", "retry_initial_seconds",
        "retry_max_seconds", "retry_deadline_seconds", "http_concurrency", "max_backlog",
        "fires_maxlen", "reconnect_max_seconds", "shutdown_timeout_seconds",
    )  # fmt: skip
    for name in positive:
        if getattr(s, name) <= 0:
            raise ConfigError(f"setting {name!r} must be greater than 0")
    _check_batching(s)
    if s.lease_seconds < 0.3:
        raise ConfigError("setting 'lease_seconds' must be at least 0.3")
    if s.metrics_listen:
        from btu_scheduler.health import parse_listen

        parse_listen(s.metrics_listen)
    if s.fired_ttl_seconds < 0:
        raise ConfigError("setting 'fired_ttl_seconds' must be 0 (automatic) or more")
    if 0 < s.fired_ttl_seconds < s.grace_seconds + s.retry_deadline_seconds:
        raise ConfigError(
            "setting 'fired_ttl_seconds' must exceed grace_seconds + retry_deadline_seconds "
            "(or be 0: automatic)"
        )


def _check_fleet(s: Settings) -> None:
    from streams.errors import ProtocolError
    from streams.keys import PoolKeys

    try:
        PoolKeys(s.pool)
    except ProtocolError as e:
        raise ConfigError(f"setting 'pool': {e}") from None
    if s.signing_secret and len(s.signing_secret) < MIN_SIGNING_SECRET:
        raise ConfigError(
            f"setting 'signing_secret' must be at least {MIN_SIGNING_SECRET} characters"
        )


def _check_batching(s: Settings) -> None:
    from streams.keys import MAX_BATCH_FIRES

    if not 1 <= s.batch_size <= MAX_BATCH_FIRES:
        raise ConfigError(
            f"setting 'batch_size' must be 1 to {MAX_BATCH_FIRES} (1: no batches), "
            f"got {s.batch_size}"
        )
    if not 0 <= s.batch_linger_ms <= MAX_LINGER_MS:
        raise ConfigError(
            f"setting 'batch_linger_ms' must be 0 to {MAX_LINGER_MS:g}, got {s.batch_linger_ms:g}"
        )
