"""The app's Redis client for the wire protocol, built lazily (never at import time)
and cached per URL for the life of the process. See :mod:`btu.core.redis_config`."""

import threading

import frappe
import redis

from btu.core.redis_config import RedisConfigError, RedisSettings, resolve
from streams.keys import Keys

# What a Redis problem looks like to callers that must not fail because of it.
REDIS_ERRORS = (redis.exceptions.RedisError, OSError, RedisConfigError)

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def settings() -> RedisSettings:
    return resolve(frappe.conf)


def get_redis() -> redis.Redis:
    """The client for this site's configuration."""
    config = settings()
    client = _clients.get(config.url)
    if client is None:
        with _lock:
            client = _clients.get(config.url)
            if client is None:
                client = redis.Redis.from_url(config.url, **config.client_kwargs())
                _clients[config.url] = client
    return client


def site_keys() -> Keys:
    return Keys(frappe.local.site)
