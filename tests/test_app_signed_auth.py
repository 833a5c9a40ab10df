"""The app's side of signed daemon requests (btu/core/signed_auth.py, behind the
``auth_hooks`` hook btu.auth.authenticate_signed): which requests it handles, and that a
good signature, and only that, makes a request run as the daemon user."""

from __future__ import annotations

from typing import Any

import pytest

from btu.core import roles, signed_auth
from btu.core.signed_auth import DAEMON_USER, Refused, Request
from streams import signing
from streams.keys import ENQUEUE_BATCH_PATH, ENQUEUE_PATH, REPUBLISH_PATH, WHOAMI_PATH

SITE = "erp.example.com"
SECRET = "0123456789abcdef" * 4
CONF = {signing.SECRET_SETTING: SECRET}
NOW = 1_795_747_880_000
BODY = b'{"fires": []}'


def request(
    path: str = ENQUEUE_BATCH_PATH,
    *,
    query: str = "",
    body: bytes = BODY,
    method: str = "POST",
    sign_as: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Request:
    target = f"{path}?{query}" if query else path
    args: dict[str, Any] = {
        "secret": SECRET,
        "site": SITE,
        "method": method,
        "path": target,
        "body": body,
        "now_ms": NOW,
    }
    args.update(sign_as or {})
    signed = signing.sign(**args)
    return Request(
        method=method,
        path=path,
        query_string=query,
        headers={"Content-Type": "application/json", **signed, **(headers or {})},
        body=body,
    )


def refusal(req: Request, conf: dict[str, Any] = CONF, now: int = NOW) -> str:
    with pytest.raises(Refused) as info:
        signed_auth.authenticate(SITE, conf, req, now)
    message = str(info.value)
    assert message.startswith("BTU signed request refused: ")
    assert SECRET not in message
    return message


class TestHandles:
    @pytest.mark.parametrize(
        "path", [ENQUEUE_PATH, ENQUEUE_BATCH_PATH, REPUBLISH_PATH, WHOAMI_PATH]
    )
    def test_signed_requests_to_daemon_endpoints(self, path: str) -> None:
        assert signed_auth.handles(request(path))

    def test_the_daemon_endpoints_are_the_real_ones(self) -> None:
        assert {
            "/api/method/btu.api.enqueue_scheduled",
            "/api/method/btu.api.enqueue_batch",
            "/api/method/btu.api.republish_all",
            "/api/method/btu.api.whoami",
        } == signed_auth.DAEMON_PATHS

    @pytest.mark.parametrize(
        "path",
        [
            "/api/method/frappe.client.get_list",
            "/api/method/frappe.auth.get_logged_user",
            "/api/resource/User",
            "/api/method/btu.api.run_task_now",
            "/api/method/btu.api.whoami/",
            "/api/v2/method/btu.api.whoami",
            "/app/user",
        ],
    )
    def test_signed_requests_elsewhere_are_left_alone(self, path: str) -> None:
        """A signature never authenticates anything but BTU's daemon endpoints."""
        assert not signed_auth.handles(request(path))

    def test_unsigned_requests_are_left_alone(self) -> None:
        """Unsigned requests (API keys, sessions) are Frappe's business."""
        req = Request("POST", WHOAMI_PATH, "", {"Authorization": "token k:s"}, b"")
        assert not signed_auth.handles(req)


class TestAuthenticate:
    def test_good_signature_runs_as_the_daemon_user(self) -> None:
        assert signed_auth.authenticate(SITE, CONF, request(), NOW) == DAEMON_USER

    def test_get_without_body(self) -> None:
        req = request(WHOAMI_PATH, method="GET", body=b"")
        assert signed_auth.authenticate(SITE, CONF, req, NOW + 59_000) == DAEMON_USER

    def test_query_string_is_signed(self) -> None:
        req = request(WHOAMI_PATH, query="a=1", method="GET", body=b"")
        assert signed_auth.authenticate(SITE, CONF, req, NOW) == DAEMON_USER
        tampered = Request(req.method, req.path, "a=2", req.headers, req.body)
        assert "does not match" in refusal(tampered)
        dropped = Request(req.method, req.path, "", req.headers, req.body)
        assert "does not match" in refusal(dropped)

    def test_no_secret_configured(self) -> None:
        assert "btu_scheduler_secret is not set" in refusal(request(), conf={})

    def test_short_secret_configured(self) -> None:
        message = refusal(request(), conf={signing.SECRET_SETTING: "short-secret"})
        assert "btu_scheduler_secret is too short" in message
        assert "short-secret" not in message

    def test_wrong_secret(self) -> None:
        req = request(sign_as={"secret": "f" * 64})
        assert "does not match" in refusal(req)

    def test_signed_for_another_site(self) -> None:
        req = request(sign_as={"site": "shop.example.com"})
        assert "names another site" in refusal(req)

    def test_stale_and_future(self) -> None:
        assert "ms old" in refusal(request(), now=NOW + 60_001)
        assert "ms ahead" in refusal(request(), now=NOW - 60_001)

    @pytest.mark.parametrize(
        "change",
        [
            pytest.param({"body": b'{"fires": [1]}'}, id="body"),
            pytest.param({"path": ENQUEUE_PATH}, id="path"),
            pytest.param({"method": "PUT"}, id="method"),
        ],
    )
    def test_tampered_request(self, change: dict[str, Any]) -> None:
        req = request()
        fields = {
            "method": req.method,
            "path": req.path,
            "query_string": req.query_string,
            "headers": req.headers,
            "body": req.body,
        }
        fields.update(change)
        assert "does not match" in refusal(Request(**fields))

    def test_empty_signature_header_is_refused_not_ignored(self) -> None:
        """A request that names the signature header but leaves it empty is refused: it
        never falls through to another authentication."""
        req = request(headers={"X-BTU-Signature": ""})
        assert signed_auth.handles(req)
        assert "no X-BTU-Signature" in refusal(req)

    def test_site_config_overrides_the_bench_secret(self) -> None:
        """Frappe merges the site's config over common_site_config.json: the hook reads
        the merged value, so a site's own secret wins."""
        site_secret = "s" * 40
        req = request(sign_as={"secret": site_secret})
        assert signed_auth.authenticate(SITE, {signing.SECRET_SETTING: site_secret}, req, NOW)


def test_daemon_user_holds_only_the_scheduler_role() -> None:
    """The daemon user's one role may fire, heal and ask whoami, and nothing else."""
    assert roles.allowed(DAEMON_USER, [roles.SCHEDULER], roles.DAEMON)
    assert roles.allowed(DAEMON_USER, [roles.SCHEDULER], roles.REPUBLISH)
    assert not roles.allowed(DAEMON_USER, [roles.SCHEDULER], roles.MANAGE)
    assert not roles.allowed(DAEMON_USER, [roles.SCHEDULER], roles.READ)
    assert (roles.SCHEDULER, False) in roles.ROLES  # no Desk access: a Website User


class TestRotation:
    """While the secret is rotated the site accepts the previous one too."""

    OLD = "o" * 40
    NEW = "n" * 40

    def conf(self, previous: str | None) -> dict[str, Any]:
        conf = {signing.SECRET_SETTING: self.NEW}
        if previous is not None:
            conf[signing.PREVIOUS_SECRET_SETTING] = previous
        return conf

    def test_both_secrets_are_accepted_during_a_rotation(self) -> None:
        for secret in (self.OLD, self.NEW):
            req = request(sign_as={"secret": secret})
            assert signed_auth.authenticate(SITE, self.conf(self.OLD), req, NOW) == DAEMON_USER

    def test_old_secret_refused_once_the_rotation_is_done(self) -> None:
        req = request(sign_as={"secret": self.OLD})
        assert "does not match" in refusal(req, conf=self.conf(None))
        assert "does not match" in refusal(req, conf=self.conf(""))

    def test_previous_secret_does_not_lift_the_other_checks(self) -> None:
        """Only a bad signature is retried with the previous secret: a stale or
        misaddressed request stays refused."""
        stale = request(sign_as={"secret": self.OLD})
        assert "ms old" in refusal(stale, conf=self.conf(self.OLD), now=NOW + 60_001)
        other = request(sign_as={"secret": self.OLD, "site": "shop.example.com"})
        assert "names another site" in refusal(other, conf=self.conf(self.OLD))

    def test_a_short_previous_secret_is_never_accepted(self) -> None:
        req = request(sign_as={"secret": "p" * 40})
        message = refusal(req, conf=self.conf("p" * 20))
        assert "does not match" in message and "p" * 20 not in message

    def test_a_wrong_secret_reports_the_current_secrets_mismatch(self) -> None:
        req = request(sign_as={"secret": "w" * 40})
        assert "does not match" in refusal(req, conf=self.conf(self.OLD))
