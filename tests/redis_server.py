"""Finding a Redis for the tests, in the order DEVELOPERS.md sets.

1. ``BTU_TEST_REDIS_URL`` when set;
2. else a ``redis-server`` started here on a free port, in a temporary directory, with
   persistence off, stopped at the end of the session;
3. else fakeredis (tests that depend on a real server's behaviour are then skipped with
   the reason).
"""

from __future__ import annotations

import os
import shutil

from btu_scheduler.demo.embedded import RedisServer


def start_private_server(args: list[str] | None = None) -> RedisServer | None:
    if shutil.which("redis-server") is None:
        return None
    return RedisServer(args=args).start()


def env_url() -> str | None:
    return os.environ.get("BTU_TEST_REDIS_URL") or None
