"""A site without an API key gets every daemon request signed with the bench secret
(decision 0012): the fire client's batches and singles, republish_all and the start-up
check; the site verifies them with the same ``streams.signing`` the app uses."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import orjson
import pytest

from btu_scheduler.config import Settings
from btu_scheduler.engine import Fire
from btu_scheduler.fire import setup
from btu_scheduler.sitecheck import check_site
from streams.errors import SignatureRefused
from streams.keys import ENQUEUE_BATCH_PATH, ENQUEUE_PATH, REPUBLISH_PATH, WHOAMI_PATH, Outcome
from streams.signing import verify

SECRET = "0123456789abcdef0123456789abcdef-bench"
SITE = "erp.example.com"


class Site(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []
    secret = SECRET

    def _answer(self, body: bytes) -> None:
        headers = {k: v for k, v in self.headers.items()}
        try:
            verify(
                self.secret, SITE, headers, self.command, self.path, body, int(time.time() * 1000)
            )
            ok = True
        except SignatureRefused as e:
            ok = False
            self.seen.append({"path": self.path, "refused": e.reason, "headers": headers})
        if ok:
            self.seen.append({"path": self.path, "headers": headers})
        if not ok:
            data = b'{"exc_type": "AuthenticationError"}'
            self.send_response(401)
        elif self.path.endswith("enqueue_batch"):
            fires = orjson.loads(body)["fires"]
            results = [{"fire_id": f["fire_id"], "job_id": "j", "duplicate": False} for f in fires]
            data = orjson.dumps({"message": {"results": results}})
            self.send_response(200)
        elif self.path.endswith("enqueue_scheduled"):
            data = b'{"message": {"job_id": "j", "duplicate": false}}'
            self.send_response(200)
        elif self.path.endswith("whoami"):
            data = orjson.dumps({"message": {"user": "btu-scheduler@btu.invalid",
                                             "version": "1", "can_fire": True}})  # fmt: skip
            self.send_response(200)
        else:
            data = b'{"message": "ok"}'
            self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self._answer(self.rfile.read(int(self.headers.get("Content-Length", 0))))

    def do_GET(self) -> None:
        self._answer(b"")

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def site_url() -> Iterator[str]:
    Site.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def settings(url: str, secret: str = SECRET) -> Settings:
    return Settings(site=SITE, frappe_url=url, signing_secret=secret, host_header=SITE,
                    instance="t1")  # fmt: skip


def test_fires_are_signed_and_accepted(site_url: str) -> None:
    s = settings(site_url)
    endpoint = setup.make_endpoint(s)
    sender = setup.make_sender(s, endpoint, injected=False)
    done: list[Any] = []
    sender.send(Fire("TS-1", "cron", "T", 1_000), lambda result, _sent: done.append(result))
    sender.flush()
    deadline = time.monotonic() + 5
    while not done and time.monotonic() < deadline:
        time.sleep(0.01)
    sender.close()
    endpoint.close()
    assert [Outcome.ENQUEUED] == [r.outcome for r in done]
    [request] = Site.seen
    assert request["path"] in (ENQUEUE_PATH, ENQUEUE_BATCH_PATH) and "refused" not in request
    assert "Authorization" not in request["headers"]


def test_republish_and_site_check_are_signed(site_url: str) -> None:
    s = settings(site_url)
    endpoint = setup.make_endpoint(s)
    assert Outcome.ENQUEUED == endpoint.republish_all().outcome
    endpoint.close()
    result = check_site(s)
    assert result.ok, result.message
    assert [REPUBLISH_PATH, WHOAMI_PATH] == [r["path"] for r in Site.seen]
    assert all("refused" not in r for r in Site.seen)


def test_a_wrong_secret_is_refused_and_never_shown(site_url: str) -> None:
    wrong = "x" * 40
    result = check_site(settings(site_url, wrong))
    assert not result.ok
    assert "401" in result.message and "signing_secret" in result.message
    assert wrong not in result.message
    assert "bad-signature" == Site.seen[0]["refused"]


def test_a_site_with_an_api_key_is_not_signed(site_url: str) -> None:
    s = Settings(site=SITE, frappe_url=site_url, api_key="k", api_secret="s",
                 signing_secret=SECRET, instance="t1")  # fmt: skip
    endpoint = setup.make_endpoint(s)
    endpoint.republish_all()
    endpoint.close()
    [request] = Site.seen
    assert "missing-header" == request["refused"]
    assert request["headers"]["Authorization"] == "token k:s"
