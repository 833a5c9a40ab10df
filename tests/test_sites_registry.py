"""The site registry ``btu:sites`` (streams/sites.py, btu/core/discovery.py;
docs/protocol.md "Site discovery"): the entry's encoding and every way it can be
malformed, and the entry the app builds from its config."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from btu.core import discovery
from streams.errors import ProtocolError
from streams.keys import SITES_REGISTRY, SiteField
from streams.sites import MAX_ENTRY_BYTES, SiteEntry, decode_registry
from tests.redis_server import RedisServer

ENTRY = SiteEntry(
    site="erp.example.com",
    host_header="erp.example.com",
    app_version="0.1.0",
    registered_ms=1_795_747_880_000,
)


def value(**overrides: Any) -> str:
    data: dict[str, Any] = json.loads(ENTRY.encode())
    for name, v in overrides.items():
        if v is ...:
            del data[name]
        else:
            data[name] = v
    return json.dumps(data)


class TestNames:
    def test_key_and_fields_are_spelled_as_documented(self) -> None:
        assert SITES_REGISTRY == "btu:sites"
        assert (
            SiteField.SITE,
            SiteField.HOST_HEADER,
            SiteField.APP_VERSION,
            SiteField.REGISTERED_MS,
        ) == ("site", "host_header", "app_version", "registered_ms")

    def test_registry_key_is_no_site_key(self) -> None:
        """Every site key has a second colon; the registry has none, so no site's key
        (not even a site called "sites") can be the registry."""
        assert SITES_REGISTRY.count(":") == 1


class TestEncode:
    def test_encode_is_compact_json_with_exactly_the_documented_fields(self) -> None:
        assert ENTRY.encode() == (
            '{"site":"erp.example.com","host_header":"erp.example.com",'
            '"app_version":"0.1.0","registered_ms":1795747880000}'
        )

    def test_round_trip_from_str_and_bytes(self) -> None:
        assert SiteEntry.decode(ENTRY.site, ENTRY.encode()) == ENTRY
        assert SiteEntry.decode(ENTRY.site.encode(), ENTRY.encode().encode()) == ENTRY

    def test_unknown_fields_are_ignored(self) -> None:
        assert SiteEntry.decode(ENTRY.site, value(extra={"a": 1})) == ENTRY

    @pytest.mark.parametrize(
        ("field", "bad"),
        [
            ("site", "bad:site"),
            ("site", ""),
            ("host_header", ""),
            ("host_header", "a b"),
            ("host_header", "a\nb"),
            ("host_header", "h" * 256),
            ("app_version", "1" * 65),
            ("app_version", "1.0\n"),
            ("registered_ms", -1),
            ("registered_ms", True),
            ("registered_ms", 1.5),
        ],
    )
    def test_constructor_refuses_bad_values(self, field: str, bad: Any) -> None:
        args = {
            "site": ENTRY.site,
            "host_header": ENTRY.host_header,
            "app_version": ENTRY.app_version,
            "registered_ms": ENTRY.registered_ms,
            field: bad,
        }
        with pytest.raises(ProtocolError):
            SiteEntry(**args)


class TestDecodeMalformed:
    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            pytest.param("not json", "is not JSON", id="not-json"),
            pytest.param("[1, 2]", "is not a JSON object", id="array"),
            pytest.param(b"\xff\xfe", "not valid UTF-8", id="bad-utf8"),
            pytest.param(value(site=...), "has no 'site'", id="no-site"),
            pytest.param(value(host_header=...), "has no 'host_header'", id="no-host"),
            pytest.param(value(app_version=...), "has no 'app_version'", id="no-version"),
            pytest.param(value(registered_ms=...), "has no 'registered_ms'", id="no-ms"),
            pytest.param(
                value(site="shop.example.com"), "must equal the hash field", id="other-site"
            ),
            pytest.param(value(host_header=7), "'host_header' must be", id="host-int"),
            pytest.param(value(app_version=None), "'app_version' must be", id="version-none"),
            pytest.param(value(registered_ms="1"), "'registered_ms' must be", id="ms-text"),
            pytest.param(
                value(extra="x" * MAX_ENTRY_BYTES), f"longer than {MAX_ENTRY_BYTES}", id="big"
            ),
        ],
    )
    def test_malformed_entry_names_the_site_and_problem(self, raw: Any, message: str) -> None:
        with pytest.raises(ProtocolError, match=r"erp\.example\.com") as info:
            SiteEntry.decode(ENTRY.site, raw)
        assert message in str(info.value)

    def test_bad_field_name(self) -> None:
        with pytest.raises(ProtocolError, match="not usable in a key"):
            SiteEntry.decode("bad site", value(site="bad site"))
        with pytest.raises(ProtocolError, match="UTF-8"):
            SiteEntry.decode(b"\xff", ENTRY.encode())


class TestDecodeRegistry:
    def test_one_bad_entry_never_hides_the_others(self) -> None:
        shop = SiteEntry("shop.example.com", "shop.internal", "0.2.0", 5)
        entries, errors = decode_registry(
            {
                ENTRY.site.encode(): ENTRY.encode().encode(),
                b"shop.example.com": shop.encode().encode(),
                b"broken.example.com": b"{",
                b"\xff": b"{}",
            }
        )
        assert {"erp.example.com": ENTRY, "shop.example.com": shop} == entries
        assert ["broken.example.com", "\ufffd"] == sorted(errors)
        assert "is not JSON" in errors["broken.example.com"]

    def test_empty(self) -> None:
        assert ({}, {}) == decode_registry({})


class TestAppEntry:
    def test_host_header_defaults_to_the_site(self) -> None:
        assert discovery.entry(ENTRY.site, {}, "0.1.0", 1_795_747_880_000) == ENTRY

    def test_host_header_from_the_config(self) -> None:
        conf = {"btu_host_header": " erp.internal "}
        assert discovery.entry("erp.example.com", conf, "1", 0).host_header == "erp.internal"

    @pytest.mark.parametrize("blank", ["", "  ", None, 3])
    def test_blank_or_mistyped_setting_means_the_site(self, blank: Any) -> None:
        assert discovery.host_header("a.example", {"btu_host_header": blank}) == "a.example"

    def test_unusable_setting_is_a_clear_error(self) -> None:
        with pytest.raises(ProtocolError, match="host_header"):
            discovery.entry("a.example", {"btu_host_header": "a b"}, "1", 0)

    def test_entry_holds_nothing_secret(self) -> None:
        conf = {"btu_scheduler_secret": "s" * 64, "btu_redis_url": "redis://:pw@h:1/0"}
        encoded = discovery.entry("a.example", conf, "1", 0).encode()
        assert "s" * 64 not in encoded and "pw" not in encoded


def test_registry_round_trip_through_redis(private_redis: RedisServer) -> None:
    """HSET by the app's encoding, HGETALL decoded by the daemon's (a private server:
    btu:sites is shared by every site of a Redis)."""
    client = redis.Redis.from_url(private_redis.url)
    shop = SiteEntry("shop.example.com", "shop.example.com", "0.1.0", 7)
    try:
        client.hset(SITES_REGISTRY, ENTRY.site, ENTRY.encode())
        client.hset(SITES_REGISTRY, shop.site, shop.encode())
        assert ({ENTRY.site: ENTRY, shop.site: shop}, {}) == decode_registry(
            client.hgetall(SITES_REGISTRY)
        )
    finally:
        client.close()
