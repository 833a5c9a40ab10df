"""What a Redis error means for an operator: one event name and one plain sentence.

The daemon never dies on a Redis problem (unreachable, wrong password or ACL user, a
database index the server does not have, a missing permission): it logs one line per
attempt with what is wrong and waits. Redis's own messages never repeat the password,
and the URL is shown masked.
"""

from __future__ import annotations

import structlog
from redis.exceptions import AuthenticationError, RedisError, ResponseError

from btu_scheduler.configcheck import mask_url
from btu_scheduler.errors import REDIS_DOWN

log = structlog.get_logger("btu_scheduler")

UNREACHABLE = "redis_unavailable"
AUTH_FAILED = "redis_auth_failed"
BAD_DB = "redis_db_invalid"
REFUSED = "redis_refused"

# What start-up waits out instead of dying.
START_ERRORS: tuple[type[BaseException], ...] = (RedisError, *REDIS_DOWN)


def describe(error: BaseException) -> tuple[str, str]:
    """``(event, sentence)`` for a Redis error met while connecting or talking to it."""
    message = str(error).strip() or error.__class__.__name__
    lowered = message.lower()
    if isinstance(error, AuthenticationError) or "noauth" in lowered or "wrongpass" in lowered:
        return AUTH_FAILED, (
            "Redis refused the credentials in redis_url (wrong password or ACL user name, "
            f"or none given while one is required): {message}"
        )
    if isinstance(error, ResponseError) and "db index" in lowered:
        return BAD_DB, (
            "Redis has no database with the index given in redis_url (the number after "
            f"the last '/'): {message}"
        )
    if isinstance(error, ResponseError) and lowered.startswith("noperm"):
        return REFUSED, f"the ACL user of redis_url lacks a permission BTU needs: {message}"
    if isinstance(error, REDIS_DOWN):
        return UNREACHABLE, f"Redis cannot be reached: {message}"
    return REFUSED, f"Redis answered with an error: {message}"


def log_attempt(error: BaseException, redis_url: str, attempt: int, retry_in_s: float) -> None:
    """The one line logged per failed start-up attempt (the URL's password masked)."""
    event, problem = describe(error)
    level = log.warning if event == UNREACHABLE else log.error
    level(event, problem=problem, redis=mask_url(redis_url), attempt=attempt,
          retry_in_s=round(retry_in_s, 3))  # fmt: skip
