"""Exceptions of the daemon.

SchedulerError        root
├── ConfigError       a missing or invalid setting (one line naming it)
└── NotLeader         this instance lost (or never had) the lease: it must not fire
"""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


class SchedulerError(Exception):
    """Root of every exception raised by btu_scheduler."""


class ConfigError(SchedulerError):
    """A setting is missing or invalid; the message names it."""


class NotLeader(SchedulerError):
    """The fencing check failed: another instance holds the lease."""


# What "Redis is unreachable right now" looks like: reconnect with backoff, never crash.
REDIS_DOWN: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    OSError,
)
