"""``btu-scheduler check``'s site part (btu_scheduler/sitecheck.py) against small HTTP
stubs: the whoami answer, a refused token, a wrong URL, an older app without whoami."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from btu_scheduler.config import Settings
from btu_scheduler.sitecheck import check_site
from streams.keys import ENQUEUE_PATH, WHOAMI_PATH

Answer = Callable[[str, str, dict[str, str]], tuple[int, dict[str, Any]]]


@pytest.fixture
def stub() -> Iterator[Callable[[Answer], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Answer) -> str:
        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                status, payload = answer(self.command, self.path, dict(self.headers))
                body = orjson.dumps(payload)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def settings(url: str, secret: str = "s3cret-value") -> Settings:
    return Settings(site="erp.example.com", frappe_url=url, api_key="key", api_secret=secret)


def test_whoami_answer_names_the_user_and_version(stub: Callable[[Answer], str]) -> None:
    """A whoami answer is a pass naming the user and the app's version."""
    seen: list[tuple[str, str, str]] = []

    def answer(method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        seen.append((method, path, headers.get("Authorization", "")))
        return 200, {"message": {"user": "daemon@x", "version": "1.2.3", "can_fire": True}}

    result = check_site(settings(stub(answer)))
    assert result.ok and result.message.endswith("answers as 'daemon@x', BTU 1.2.3")
    assert [("GET", WHOAMI_PATH, "token key:s3cret-value")] == seen


def test_a_refused_token_fails_without_showing_the_secret(
    stub: Callable[[Answer], str],
) -> None:
    """A 401 fails naming the api_key, never the secret."""
    url = stub(lambda *_: (401, {"exc_type": "AuthenticationError"}))
    result = check_site(settings(url))
    assert not result.ok and "refused the token of api_key 'key' (HTTP 401" in result.message
    assert "s3cret" not in result.message


def test_a_user_without_the_role_fails(stub: Callable[[Answer], str]) -> None:
    """A token whose user may not fire fails naming the role to give."""
    url = stub(lambda *_: (200, {"message": {"user": "u@x", "can_fire": False}}))
    result = check_site(settings(url))
    assert not result.ok and "give it the BTU Scheduler role" in result.message


def test_an_older_app_without_whoami_is_probed_with_an_empty_enqueue(
    stub: Callable[[Answer], str],
) -> None:
    """Without whoami, an empty enqueue request answered 400 shows the token is accepted."""
    calls: list[tuple[str, str]] = []

    def answer(method: str, path: str, _h: dict[str, str]) -> tuple[int, dict[str, Any]]:
        calls.append((method, path))
        if path == WHOAMI_PATH:
            return 417, {"exception": "Failed to get method for command btu.api.whoami"}
        return 400, {"exception": "missing field 'id'"}

    result = check_site(settings(stub(answer)))
    assert result.ok and "older than btu.api.whoami" in result.message
    assert [("GET", WHOAMI_PATH), ("POST", ENQUEUE_PATH)] == calls


def test_no_btu_app_at_the_url(stub: Callable[[Answer], str]) -> None:
    """404 for both endpoints says there is no BTU app at the URL."""
    result = check_site(settings(stub(lambda *_: (404, {"exc_type": "DoesNotExistError"}))))
    assert not result.ok and "has no BTU app" in result.message


def test_unreachable_site_and_credentials_in_the_url() -> None:
    """An unreachable site fails without repeating a password written in the URL."""
    result = check_site(settings("http://user:pw-in-url@127.0.0.1:9"))
    assert not result.ok and "cannot reach the site" in result.message
    assert "pw-in-url" not in result.message
