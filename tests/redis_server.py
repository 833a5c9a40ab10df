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
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RedisServer:
    """A redis-server process owned by the tests (restartable, for fault injection)."""

    port: int
    dir: Path
    proc: subprocess.Popen[bytes] | None = None
    args: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe is not None
        cmd = [
            exe,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.dir),
            "--logfile", str(self.dir / "redis.log"),
            *self.args,
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server on port {self.port} did not start") from None
                time.sleep(0.02)
            finally:
                client.close()

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc = None

    def restart(self) -> None:
        """Stop and start again on the same port: an empty server (no persistence)."""
        self.stop(kill=True)
        self.start()


def start_private_server(args: list[str] | None = None) -> RedisServer | None:
    if shutil.which("redis-server") is None:
        return None
    server = RedisServer(port=free_port(), dir=Path(tempfile.mkdtemp(prefix="btu-redis-")), args=args or [])
    server.start()
    return server


def env_url() -> str | None:
    return os.environ.get("BTU_TEST_REDIS_URL") or None
