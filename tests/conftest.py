"""Shared fixtures: Redis selection (see tests/redis_server.py), per-test sites whose keys
are removed afterwards, and a fake clock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import fakeredis
import pytest
import redis

from streams.keys import Keys
from tests.harness import Stack
from tests.redis_server import RedisServer, env_url, start_private_server


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str | None]:
    """URL of a real Redis server, or None when the machine has none."""
    url = env_url()
    if url:
        yield url
        return
    server = start_private_server()
    if server is None:
        yield None
        return
    try:
        yield server.url
    finally:
        server.cleanup()


@pytest.fixture
def site() -> str:
    """A site name no other test (or user) has: every key a test writes lives under it."""
    return f"test-{uuid.uuid4().hex[:10]}.local"


@pytest.fixture
def keys(site: str) -> Keys:
    return Keys(site)


def _cleanup(client: redis.Redis, site: str) -> None:
    batch = list(client.scan_iter(match=f"btu:{site}:*", count=1000))
    for start in range(0, len(batch), 500):
        client.delete(*batch[start : start + 500])


@pytest.fixture
def real_redis(redis_url: str | None, site: str) -> Iterator[redis.Redis]:
    """A client to a real Redis server; the test is skipped on a machine without one."""
    if redis_url is None:
        pytest.skip("needs a real Redis: set BTU_TEST_REDIS_URL or install redis-server")
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        _cleanup(client, site)
        client.close()


@pytest.fixture
def fake_redis(site: str) -> Iterator[fakeredis.FakeRedis]:
    """An in-process fakeredis client for fast unit tests."""
    client = fakeredis.FakeRedis()
    try:
        yield client
    finally:
        _cleanup(client, site)


@pytest.fixture
def any_redis(redis_url: str | None, site: str) -> Iterator[redis.Redis]:
    """A real server when there is one, else fakeredis."""
    client: redis.Redis = (
        redis.Redis.from_url(redis_url) if redis_url is not None else fakeredis.FakeRedis()
    )
    try:
        yield client
    finally:
        _cleanup(client, site)
        client.close()


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A redis-server owned by this test alone, for restarts and other fault injection."""
    server = start_private_server()
    if server is None:
        pytest.skip("needs redis-server on PATH for fault injection")
    try:
        yield server
    finally:
        server.cleanup()


class FakeClock:
    """A clock the tests move by hand: ``clock()`` returns seconds, like time.time."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def stack(redis_url: str | None, site: str, tmp_path: Path) -> Iterator[Stack]:
    """A real Redis, the stand-in endpoint and a factory of daemon processes."""
    if redis_url is None:
        pytest.skip(
            "end-to-end tests need a real Redis: set BTU_TEST_REDIS_URL or install redis-server"
        )
    s = Stack(redis_url, site, tmp_path)
    try:
        yield s
    finally:
        s.close()
        client = redis.Redis.from_url(redis_url)
        _cleanup(client, site)
        client.close()
