"""Which Redis server BTU's app talks to for the wire protocol.

``btu_redis_url`` in the site (or common site) config wins; otherwise Frappe's
``redis_queue``, the server RQ already uses. With ``use_rq_auth`` the bench's RQ user may
only touch ``rq:*`` keys, so such benches must set ``btu_redis_url`` (with credentials).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SETTING = "btu_redis_url"
FALLBACK = "redis_queue"

# Seconds. A save must never hang on Redis: connect and socket timeouts are short.
CONNECT_TIMEOUT_S = 1.0
SOCKET_TIMEOUT_S = 3.0


class RedisConfigError(ValueError):
    """Neither ``btu_redis_url`` nor ``redis_queue`` is configured."""


@dataclass(frozen=True, slots=True)
class RedisSettings:
    url: str
    source: str  # the config key it came from

    def client_kwargs(self) -> dict[str, Any]:
        return {
            "socket_connect_timeout": CONNECT_TIMEOUT_S,
            "socket_timeout": SOCKET_TIMEOUT_S,
            "health_check_interval": 30,
        }


def resolve(conf: Mapping[str, Any]) -> RedisSettings:
    """The Redis BTU publishes to, from the merged site config ``conf``."""
    for key in (SETTING, FALLBACK):
        value = conf.get(key)
        if isinstance(value, str) and value.strip():
            return RedisSettings(url=value.strip(), source=key)
    raise RedisConfigError(
        f"No Redis configured for BTU: set '{SETTING}' (or Frappe's '{FALLBACK}') in "
        "common_site_config.json or the site's site_config.json."
    )


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else f"{scheme}://{user}@{host}"
