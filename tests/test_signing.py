"""Signed, time-limited daemon requests (streams/signing.py; docs/protocol.md "Signed
requests"): what ``sign`` writes, and every way ``verify`` refuses a request."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from streams import signing
from streams.errors import ProtocolError, SecretError, SignatureRefused, SigningError
from streams.keys import SignHeader

SECRET = "s3cr3t-" + "x" * 40
SITE = "erp.example.com"
PATH = "/api/method/btu.api.enqueue_batch"
BODY = b'{"fires": [{"id": "RL-1", "kind": "once", "due": 1, "fire_id": "RL-1@1"}]}'
NOW = 1_795_747_880_000
HEADERS = [SignHeader.SITE, SignHeader.TIMESTAMP, SignHeader.SIGNATURE]


def signed(**overrides: Any) -> dict[str, str]:
    args: dict[str, Any] = {
        "secret": SECRET,
        "site": SITE,
        "method": "POST",
        "path": PATH,
        "body": BODY,
        "now_ms": NOW,
    }
    args.update(overrides)
    return signing.sign(**args)


def refused(headers: dict[str, str], **overrides: Any) -> SignatureRefused:
    args: dict[str, Any] = {
        "secret": SECRET,
        "site": SITE,
        "headers": headers,
        "method": "POST",
        "path": PATH,
        "body": BODY,
        "now_ms": NOW,
    }
    args.update(overrides)
    with pytest.raises(SignatureRefused) as info:
        signing.verify(**args)
    message = str(info.value)
    assert SECRET not in message
    return info.value


class TestSign:
    def test_headers_follow_the_documented_string_to_sign(self) -> None:
        """The signature is hex HMAC-SHA256 of v1, site, ts, METHOD, path, sha256(body)."""
        headers = signed(method="post")
        text = f"v1\n{SITE}\n{NOW}\nPOST\n{PATH}\n{hashlib.sha256(BODY).hexdigest()}"
        mac = hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()
        assert {
            "X-BTU-Site": SITE,
            "X-BTU-Timestamp": str(NOW),
            "X-BTU-Signature": f"v1={mac}",
        } == headers

    def test_known_vector(self) -> None:
        """A fixed vector, so that another implementation (or a change here) can be
        checked byte for byte."""
        headers = signing.sign("k" * 32, "a.example", "GET", "/p", b"", 0)
        text = b"v1\na.example\n0\nGET\n/p\n" + hashlib.sha256(b"").hexdigest().encode()
        assert headers[SignHeader.SIGNATURE] == (
            "v1=" + hmac.new(b"k" * 32, text, hashlib.sha256).hexdigest()
        )

    def test_round_trip(self) -> None:
        signing.verify(SECRET, SITE, signed(), "POST", PATH, BODY, NOW)

    @pytest.mark.parametrize("secret", ["", "   ", None, 42, "x" * 31])
    def test_missing_or_short_secret_names_the_setting_not_the_value(self, secret: Any) -> None:
        with pytest.raises(SecretError, match="btu_scheduler_secret") as info:
            signed(secret=secret)
        if isinstance(secret, str) and secret.strip():
            assert secret not in str(info.value)

    def test_secret_of_exactly_the_minimum_length_is_accepted(self) -> None:
        assert signed(secret="x" * signing.MIN_SECRET_LENGTH)

    @pytest.mark.parametrize(
        ("override", "error"),
        [
            ({"site": "bad:site"}, ProtocolError),
            ({"site": ""}, ProtocolError),
            ({"method": ""}, ValueError),
            ({"method": "GE T"}, ValueError),
            ({"path": "api/method/x"}, ValueError),
            ({"body": "text"}, TypeError),
            ({"now_ms": -1}, ValueError),
            ({"now_ms": True}, ValueError),
            ({"now_ms": 1.5}, ValueError),
        ],
    )
    def test_bad_arguments_are_refused(self, override: dict[str, Any], error: type) -> None:
        with pytest.raises(error):
            signed(**override)

    def test_errors_share_one_root(self) -> None:
        assert issubclass(SecretError, SigningError)
        assert issubclass(SignatureRefused, SigningError)
        assert issubclass(SigningError, ValueError)


class TestVerify:
    def test_header_names_match_in_any_case(self) -> None:
        headers = {name.lower(): value for name, value in signed().items()}
        signing.verify(SECRET, SITE, headers, "POST", PATH, BODY, NOW)
        headers = {name.upper(): value for name, value in signed().items()}
        signing.verify(SECRET, SITE, headers, "post", PATH, BODY, NOW)

    @pytest.mark.parametrize(
        "header", [SignHeader.SITE, SignHeader.TIMESTAMP, SignHeader.SIGNATURE]
    )
    def test_missing_header(self, header: str) -> None:
        headers = signed()
        del headers[header]
        error = refused(headers)
        assert error.reason == "missing-header"
        assert header in str(error)

    @pytest.mark.parametrize(
        "header", [SignHeader.SITE, SignHeader.TIMESTAMP, SignHeader.SIGNATURE]
    )
    def test_empty_header_is_missing(self, header: str) -> None:
        headers = signed()
        headers[header] = ""
        assert refused(headers).reason == "missing-header"

    @pytest.mark.parametrize(
        "timestamp", ["abc", "-1", "1.5", "1e3", "\uff11\uff12\uff13", "12345678901234", "0x10"]
    )
    def test_bad_timestamp_format(self, timestamp: str) -> None:
        headers = signed()
        headers[SignHeader.TIMESTAMP] = timestamp
        error = refused(headers)
        assert (error.reason, SignHeader.TIMESTAMP in str(error)) == ("bad-format", True)

    @pytest.mark.parametrize(
        "signature",
        [
            "abc",
            "v2=" + "0" * 64,
            "v1" + "0" * 64,
            "v1=" + "0" * 63,
            "v1=" + "0" * 65,
            "v1=" + "g" * 64,
            "v1=" + "A" * 64,
        ],
    )
    def test_bad_signature_format(self, signature: str) -> None:
        headers = signed()
        headers[SignHeader.SIGNATURE] = signature
        assert refused(headers).reason == "bad-format"

    def test_stale_timestamp(self) -> None:
        error = refused(signed(now_ms=NOW - 60_001))
        assert error.reason == "stale"
        assert "60001 ms old" in str(error)

    def test_future_timestamp(self) -> None:
        error = refused(signed(now_ms=NOW + 60_001))
        assert error.reason == "future"
        assert "60001 ms ahead" in str(error)

    @pytest.mark.parametrize("skew", [-60_000, -1, 0, 1, 60_000])
    def test_skew_within_the_window_is_accepted(self, skew: int) -> None:
        signing.verify(SECRET, SITE, signed(now_ms=NOW + skew), "POST", PATH, BODY, NOW)

    def test_window_is_configurable(self) -> None:
        headers = signed(now_ms=NOW - 5_000)
        signing.verify(SECRET, SITE, headers, "POST", PATH, BODY, NOW, max_skew_ms=5_000)
        assert refused(headers, max_skew_ms=4_999).reason == "stale"

    def test_signed_for_another_site(self) -> None:
        error = refused(signed(site="shop.example.com"))
        assert error.reason == "wrong-site"
        assert "shop.example.com" in str(error) and SITE in str(error)

    def test_site_header_changed(self) -> None:
        """Changing X-BTU-Site to the receiving site does not make another site's
        signature valid."""
        headers = signed(site="shop.example.com")
        headers[SignHeader.SITE] = SITE
        assert refused(headers).reason == "bad-signature"

    def test_wrong_secret(self) -> None:
        error = refused(signed(secret="another-secret-" + "y" * 40))
        assert error.reason == "bad-signature"
        expected = signed()[SignHeader.SIGNATURE].partition("=")[2]
        assert expected not in str(error)

    @pytest.mark.parametrize(
        "tamper",
        [
            pytest.param({"body": BODY + b" "}, id="body-appended"),
            pytest.param({"body": BODY.replace(b"RL-1", b"RL-2")}, id="body-changed"),
            pytest.param({"body": b""}, id="body-dropped"),
            pytest.param({"path": "/api/method/btu.api.enqueue_scheduled"}, id="path"),
            pytest.param({"path": PATH + "?x=1"}, id="query-added"),
            pytest.param({"method": "GET"}, id="method"),
        ],
    )
    def test_tampered_request(self, tamper: dict[str, Any]) -> None:
        assert refused(signed(), **tamper).reason == "bad-signature"

    def test_tampered_timestamp(self) -> None:
        """A timestamp moved (even by 1 ms, inside the window) breaks the signature."""
        headers = signed()
        headers[SignHeader.TIMESTAMP] = str(NOW + 1)
        assert refused(headers).reason == "bad-signature"

    def test_signature_of_another_body_does_not_transfer(self) -> None:
        headers = signed(body=b"{}")
        headers[SignHeader.SIGNATURE] = signed()[SignHeader.SIGNATURE]
        signing.verify(SECRET, SITE, headers, "POST", PATH, BODY, NOW)
        assert refused(headers, body=b"{}").reason == "bad-signature"

    def test_verify_refuses_an_unusable_secret_before_reading_headers(self) -> None:
        with pytest.raises(SecretError, match="btu_scheduler_secret is not set"):
            signing.verify("", SITE, {}, "POST", PATH, BODY, NOW)
        with pytest.raises(SecretError, match="too short"):
            signing.verify("short", SITE, signed(), "POST", PATH, BODY, NOW)

    def test_compare_is_constant_time(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The signature is compared with hmac.compare_digest."""
        calls: list[tuple[str, str]] = []
        real = hmac.compare_digest

        def spy(a: Any, b: Any) -> bool:
            calls.append((a, b))
            return real(a, b)

        monkeypatch.setattr(signing.hmac, "compare_digest", spy)
        signing.verify(SECRET, SITE, signed(), "POST", PATH, BODY, NOW)
        assert len(calls) == 1


class TestIsSigned:
    def test_any_case(self) -> None:
        assert signing.is_signed({"x-btu-signature": "v1=00"})
        assert signing.is_signed({"X-BTU-SIGNATURE": ""})
        assert not signing.is_signed({"Authorization": "token a:b"})
