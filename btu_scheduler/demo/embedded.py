"""An embedded Redis for the demo and the tests: a private ``redis-server`` on a free
port when one is installed, else fakeredis's TCP server in a thread."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import redis


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A ``redis-server`` process owned by its creator; restartable for fault injection.
    Persistence is off, so a restart comes back empty."""

    kind = "redis-server"

    def __init__(self, port: int | None = None, args: list[str] | None = None) -> None:
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="btu-redis-"))
        self.args = args or []
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed")
        cmd = [
            exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.dir),
            "--logfile", str(self.dir / "redis.log"), *self.args,
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_ready(self.url, lambda: self.proc is not None and self.proc.poll() is None)
        return self

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
        """Kill and start again on the same port: the server comes back empty."""
        self.stop(kill=True)
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class FakeRedisServer:
    """fakeredis's TCP server in a background thread (for machines without Redis)."""

    kind = "fakeredis"

    def __init__(self, port: int | None = None) -> None:
        from fakeredis import TcpFakeServer

        self.port = port or free_port()
        self._server: Any = TcpFakeServer(("127.0.0.1", self.port), server_type="redis")
        # Clients blocked in BLPOP/XREAD must not keep cleanup waiting for their threads.
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> FakeRedisServer:
        self._thread.start()
        _wait_ready(self.url, self._thread.is_alive)
        return self

    def cleanup(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def start_embedded(prefer_real: bool = True) -> RedisServer | FakeRedisServer:
    """A real redis-server when installed (and ``prefer_real``), else fakeredis."""
    if prefer_real and shutil.which("redis-server"):
        return RedisServer().start()
    return FakeRedisServer().start()


def _wait_ready(url: str, alive: Any, timeout: float = 10.0) -> None:
    client = redis.Redis.from_url(url, socket_timeout=1)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                client.ping()
                return
            except redis.AuthenticationError:
                return  # it answers: a server started with --requirepass
            except redis.ConnectionError:
                if time.monotonic() > deadline or not alive():
                    raise RuntimeError(f"Redis at {url} did not start") from None
                time.sleep(0.02)
    finally:
        client.close()
