"""Which Redis the app publishes to: btu_redis_url first, else Frappe's redis_queue."""

from __future__ import annotations

import pytest

from btu.core.redis_config import RedisConfigError, RedisSettings, redact, resolve


@pytest.mark.parametrize(
    ("conf", "expected"),
    [
        pytest.param(
            {"btu_redis_url": "redis://btu:11000/2", "redis_queue": "redis://127.0.0.1:11000"},
            RedisSettings("redis://btu:11000/2", "btu_redis_url"),
            id="btu-setting-wins",
        ),
        pytest.param(
            {"redis_queue": "redis://127.0.0.1:11000"},
            RedisSettings("redis://127.0.0.1:11000", "redis_queue"),
            id="falls-back-to-queue",
        ),
        pytest.param(
            {"btu_redis_url": "  ", "redis_queue": "redis://q:1"},
            RedisSettings("redis://q:1", "redis_queue"),
            id="blank-setting-ignored",
        ),
    ],
)
def test_resolve(conf: dict[str, str], expected: RedisSettings) -> None:
    """The configured URL is chosen in order of precedence."""
    assert expected == resolve(conf)


def test_nothing_configured() -> None:
    """Without either key the error says which keys to set and where."""
    with pytest.raises(RedisConfigError, match=r"set 'btu_redis_url'.*common_site_config\.json"):
        resolve({})


def test_client_timeouts_are_short() -> None:
    """The client never lets a save hang: short connect and socket timeouts."""
    kwargs = RedisSettings("redis://x", "redis_queue").client_kwargs()
    assert (1.0, 3.0) == (kwargs["socket_connect_timeout"], kwargs["socket_timeout"])


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://btu:s3cret@host:6379/0", "redis://btu:***@host:6379/0"),
        ("redis://:s3cret@host:6379", "redis://:***@host:6379"),
        ("redis://host:6379", "redis://host:6379"),
        ("redis://user@host", "redis://user@host"),
    ],
)
def test_redact(url: str, expected: str) -> None:
    """Passwords never appear in messages."""
    assert expected == redact(url)
