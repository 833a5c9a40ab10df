"""Key names of the wire protocol (PROTOCOL.md "Keys"), spelled exactly as the table does."""

from __future__ import annotations

from typing import Any

import pytest

from streams import keys as keys_module
from streams.errors import ProtocolError
from streams.keys import Keys

SITE = "erp.example.com"


class TestKeyNames:
    """Every key builder spells the key of PROTOCOL.md's table, character for character."""

    @pytest.mark.parametrize(
        ("build", "expected"),
        [
            pytest.param(lambda k: k.schedules, "btu:erp.example.com:schedules", id="schedules"),
            pytest.param(lambda k: k.state, "btu:erp.example.com:schedules:state", id="state"),
            pytest.param(lambda k: k.rpc, "btu:erp.example.com:rpc", id="rpc"),
            pytest.param(
                lambda k: k.rpc_reply("4f1c2a"),
                "btu:erp.example.com:rpc:reply:4f1c2a",
                id="rpc-reply",
            ),
            pytest.param(lambda k: k.fires, "btu:erp.example.com:fires", id="fires"),
            pytest.param(
                lambda k: k.fired("TS-000001@1795747880000"),
                "btu:erp.example.com:fired:TS-000001@1795747880000",
                id="fired",
            ),
            pytest.param(lambda k: k.last_fire, "btu:erp.example.com:last-fire", id="last-fire"),
            pytest.param(lambda k: k.leader, "btu:erp.example.com:leader", id="leader"),
            pytest.param(
                lambda k: k.scheduler("host-1:4242"),
                "btu:erp.example.com:scheduler:host-1:4242",
                id="scheduler",
            ),
            pytest.param(lambda k: k.dead, "btu:erp.example.com:dead", id="dead"),
            pytest.param(lambda k: k.prefix, "btu:erp.example.com:", id="prefix"),
            pytest.param(
                lambda k: k.scheduler_pattern,
                "btu:erp.example.com:scheduler:*",
                id="scheduler-pattern",
            ),
        ],
    )
    def test_key_is_spelled_as_in_protocol(self, build: Any, expected: str) -> None:
        """The builder returns exactly the key named in PROTOCOL.md for site erp.example.com."""
        assert expected == build(Keys(SITE))

    def test_every_key_starts_with_the_site_prefix(self) -> None:
        """All keys of a site share the ``btu:{site}:`` prefix, so sites never mix."""
        k = Keys("site1.localhost")
        built = [
            k.schedules,
            k.state,
            k.rpc,
            k.rpc_reply("r"),
            k.fires,
            k.fired("f"),
            k.last_fire,
            k.leader,
            k.scheduler("i"),
            k.dead,
        ]
        assert [True] * len(built) == [key.startswith("btu:site1.localhost:") for key in built]
        assert len(built) == len(set(built))

    def test_keys_are_frozen(self) -> None:
        """A Keys value cannot be re-pointed at another site after construction."""
        k = Keys(SITE)
        with pytest.raises(AttributeError):
            k.site = "other.example.com"  # type: ignore[misc]
        assert SITE == k.site


class TestProtocolConstants:
    """Numbers PROTOCOL.md fixes: the reply expiry, fires retention and the endpoint path."""

    def test_protocol_version_is_one(self) -> None:
        """The ``v`` field written by this library is the string "1"."""
        assert "1" == keys_module.PROTOCOL_VERSION

    def test_rpc_reply_expires_after_60_seconds(self) -> None:
        """Reply streams are given a 60 s expiry."""
        assert 60 == keys_module.RPC_REPLY_TTL_S

    def test_fires_stream_keeps_about_ten_thousand_entries(self) -> None:
        """The fires stream is trimmed to approximately 10,000 entries by default."""
        assert 10_000 == keys_module.FIRES_MAXLEN

    def test_enqueue_endpoint_path(self) -> None:
        """The daemon POSTs to /api/method/btu.api.enqueue_scheduled."""
        assert "/api/method/btu.api.enqueue_scheduled" == keys_module.ENQUEUE_PATH


class TestSiteValidation:
    """Site names that cannot safely appear inside ``btu:{site}:`` are refused."""

    @pytest.mark.parametrize(
        "site",
        [
            pytest.param("erp.example.com", id="fqdn"),
            pytest.param("site1.localhost", id="dev-site"),
            pytest.param("my-site_1.local", id="dash-underscore"),
            pytest.param("a", id="one-char"),
            pytest.param("a" * 255, id="255-chars"),
        ],
    )
    def test_usable_site_is_accepted(self, site: str) -> None:
        """Ordinary Frappe site names (hostnames) build keys."""
        assert f"btu:{site}:schedules" == Keys(site).schedules

    @pytest.mark.parametrize(
        "site",
        [
            pytest.param("", id="empty"),
            pytest.param(" ", id="blank"),
            pytest.param("erp example.com", id="space"),
            pytest.param("erp\texample.com", id="tab"),
            pytest.param("erp.example.com\n", id="newline"),
            pytest.param("erp\u00a0example.com", id="nbsp"),
            pytest.param("a" * 256, id="256-chars"),
            pytest.param(None, id="none"),
        ],
    )
    def test_unusable_site_raises_protocol_error(self, site: Any) -> None:
        """Empty, blank, whitespace-containing or over-long site names raise ProtocolError."""
        with pytest.raises(ProtocolError) as info:
            Keys(site)
        assert "site" in str(info.value)

    @pytest.mark.parametrize(
        "site",
        [
            pytest.param("erp\x00example.com", id="nul"),
            pytest.param("erp\x7fexample.com", id="del"),
            pytest.param("erp\x1b[31m.example.com", id="escape-sequence"),
            # Keys("a:fired:b").dead == Keys("a").fired("b:dead"): one site's key is another's.
            pytest.param("erp.example.com:fired:x", id="colon-collides-with-other-site"),
            # SCAN patterns (scheduler_pattern) would match other sites' keys.
            pytest.param("erp*", id="glob-star"),
            pytest.param("erp?.example.com", id="glob-question"),
            pytest.param("erp[12].example.com", id="glob-bracket"),
            pytest.param(b"erp.example.com", id="bytes"),
            pytest.param(12345, id="int"),
        ],
    )
    def test_site_that_breaks_key_structure_raises_protocol_error(self, site: Any) -> None:
        """Control characters, ':' and glob characters, and non-text site names raise
        ProtocolError (Frappe site names are hostnames, which contain none of these)."""
        with pytest.raises(ProtocolError) as info:
            Keys(site)
        assert "site" in str(info.value)
