"""Multi-site configuration (issue 11): ``[sites."name"]`` tables under top-level defaults.

Every test passes ``env=`` explicitly and points the default config path at a file that
does not exist, so the machine's own /etc and environment never leak in.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from btu_scheduler import config
from btu_scheduler.config import load, load_fleet, load_with_sources
from btu_scheduler.errors import ConfigError


@pytest.fixture(autouse=True)
def no_default_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "DEFAULT_CONFIG_PATH", tmp_path / "absent.toml")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(text, encoding="utf-8")
    return path


TWO_SITES = """
redis_url = "redis://127.0.0.1:6379/0"
frappe_url = "http://127.0.0.1:8000"
api_key = "top-key"
api_secret = "top-secret"
lease_seconds = 4
request_timeout_seconds = 7

[sites."erp.example.com"]
api_key = "erp-key"
api_secret = "erp-secret"

[sites."shop.example.com"]
host_header = "shop.internal"
request_timeout_seconds = 3
"""


def fleet_error(path: Path, env: dict[str, str] | None = None, **flags: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_fleet(path, env=env or {}, overrides=flags or None)
    return str(info.value)


class TestInheritance:
    def test_tables_inherit_top_level_values(self, tmp_path: Path) -> None:
        """Every site gets the top-level values it does not set itself."""
        fleet, _ = load_fleet(write(tmp_path, TWO_SITES), env={})
        erp, shop = fleet.get("erp.example.com"), fleet.get("shop.example.com")
        assert erp is not None and shop is not None
        assert fleet.multi and ["erp.example.com", "shop.example.com"] == fleet.names()
        assert ("redis://127.0.0.1:6379/0", "http://127.0.0.1:8000", 7.0, 4.0) == (
            erp.redis_url, erp.frappe_url, erp.request_timeout_seconds, erp.lease_seconds
        )  # fmt: skip
        assert ("top-key", "top-secret", 4.0) == (
            shop.api_key, shop.api_secret, shop.lease_seconds
        )  # fmt: skip

    def test_table_overrides_top_level(self, tmp_path: Path) -> None:
        """A site's table wins over the top-level value for that site only."""
        fleet, _ = load_fleet(write(tmp_path, TWO_SITES), env={})
        erp, shop = fleet.get("erp.example.com"), fleet.get("shop.example.com")
        assert erp is not None and shop is not None
        assert ("erp-key", "erp-secret", 7.0) == (
            erp.api_key, erp.api_secret, erp.request_timeout_seconds
        )  # fmt: skip
        assert 3.0 == shop.request_timeout_seconds

    def test_host_header_defaults_to_site_name(self, tmp_path: Path) -> None:
        fleet, _ = load_fleet(write(tmp_path, TWO_SITES), env={})
        assert ["erp.example.com", "shop.internal"] == [s.host_header for s in fleet.sites]

    def test_env_vars_are_defaults_under_the_tables(self, tmp_path: Path) -> None:
        """A BTU_* variable overrides the top-level value, but not a site's table."""
        env = {"BTU_REQUEST_TIMEOUT_SECONDS": "9", "BTU_API_KEY": "env-key",
               "BTU_GRACE_SECONDS": "50"}  # fmt: skip
        fleet, sources = load_fleet(write(tmp_path, TWO_SITES), env=env)
        erp, shop = fleet.get("erp.example.com"), fleet.get("shop.example.com")
        assert erp is not None and shop is not None
        assert (9.0, "erp-key", 50.0) == (
            erp.request_timeout_seconds, erp.api_key, erp.grace_seconds
        )  # fmt: skip
        assert (3.0, "env-key", 50.0) == (
            shop.request_timeout_seconds, shop.api_key, shop.grace_seconds
        )  # fmt: skip
        assert {"request_timeout_seconds", "api_key", "grace_seconds"} == set(sources.from_env)

    def test_flags_are_defaults_under_the_tables(self, tmp_path: Path) -> None:
        """--redis-url sets every site's Redis, unless a table names its own."""
        text = TWO_SITES + '\n[sites."shard.example.com"]\nredis_url = "redis://10.0.0.2:6379/1"\n'
        fleet, sources = load_fleet(
            write(tmp_path, text), env={}, overrides={"redis_url": "redis://flag:6379/2"}
        )
        assert ["redis://flag:6379/2", "redis://flag:6379/2", "redis://10.0.0.2:6379/1"] == [
            s.redis_url for s in fleet.sites
        ]
        assert ("redis_url",) == sources.from_flags

    def test_instance_and_pool_are_the_process_s(self, tmp_path: Path) -> None:
        """Per-process settings (top level) reach every site unchanged."""
        text = 'instance = "box-1"\npool = "bench-a"\n' + TWO_SITES
        fleet, _ = load_fleet(write(tmp_path, text), env={})
        assert {("box-1", "bench-a")} == {(s.instance, s.pool) for s in fleet.sites}


class TestErrors:
    def test_error_names_the_site(self, tmp_path: Path) -> None:
        text = TWO_SITES + '\n[sites."bad.example.com"]\nrequest_timeout_seconds = -1\n'
        message = fleet_error(write(tmp_path, text))
        assert message.startswith("site 'bad.example.com': setting 'request_timeout_seconds'")

    def test_error_in_inherited_value_names_a_site(self, tmp_path: Path) -> None:
        """A bad top-level value is reported (through the first site it reaches)."""
        text = TWO_SITES.replace("lease_seconds = 4", 'lease_seconds = "soon"')
        message = fleet_error(write(tmp_path, text))
        assert "setting 'lease_seconds' must be a finite float" in message

    def test_unknown_key_in_a_table(self, tmp_path: Path) -> None:
        text = TWO_SITES + '\n[sites."x.example.com"]\nlease_secs = 2\n'
        message = fleet_error(write(tmp_path, text))
        assert "site 'x.example.com': unknown setting 'lease_secs'" == message

    @pytest.mark.parametrize(
        "line",
        [
            'instance = "b"',
            'pool = "p"',
            'log_level = "debug"',
            'metrics_listen = "127.0.0.1:9"',
            "lease_seconds = 2",
        ],
    )
    def test_per_process_key_in_a_table_is_refused(self, tmp_path: Path, line: str) -> None:
        key = line.split(" ")[0]
        text = TWO_SITES + f'\n[sites."x.example.com"]\n{line}\n'
        message = fleet_error(write(tmp_path, text))
        assert f"site 'x.example.com': not a per-site setting {key!r}" == message

    def test_site_key_in_a_table_is_refused(self, tmp_path: Path) -> None:
        text = TWO_SITES + '\n[sites."x.example.com"]\nsite = "y.example.com"\n'
        assert "not a per-site setting 'site'" in fleet_error(write(tmp_path, text))

    def test_table_that_is_not_a_table(self, tmp_path: Path) -> None:
        text = 'sites = ["a.example.com"]\n'
        assert "setting 'sites' must be tables" in fleet_error(write(tmp_path, text))

    def test_bad_site_name(self, tmp_path: Path) -> None:
        text = TWO_SITES + '\n[sites."no spaces allowed"]\n'
        message = fleet_error(write(tmp_path, text))
        assert message.startswith("site 'no spaces allowed': setting 'site'"), message

    def test_secret_never_in_error(self, tmp_path: Path) -> None:
        text = TWO_SITES + (
            '\n[sites."x.example.com"]\nredis_url = "redis://u:Pa55-w0rd-Zq@h:nope/0"\n'
        )
        message = fleet_error(write(tmp_path, text))
        assert "x.example.com" in message and "Pa55-w0rd-Zq" not in message


class TestChoosingOneSite:
    def test_site_flag_selects_one(self, tmp_path: Path) -> None:
        path = write(tmp_path, TWO_SITES)
        one, _ = load_with_sources(path, env={}, overrides={"site": "shop.example.com"})
        assert ("shop.example.com", "shop.internal", 3.0) == (
            one.site, one.host_header, one.request_timeout_seconds
        )  # fmt: skip
        fleet, _ = load_fleet(path, env={}, overrides={"site": "shop.example.com"})
        assert ["shop.example.com"] == fleet.names()

    def test_btu_site_selects_one(self, tmp_path: Path) -> None:
        one = load(write(tmp_path, TWO_SITES), env={"BTU_SITE": "erp.example.com"})
        assert ("erp.example.com", "erp-key") == (one.site, one.api_key)

    def test_several_sites_without_site_is_a_clear_error(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError) as info:
            load_with_sources(write(tmp_path, TWO_SITES), env={})
        message = str(info.value)
        assert "2 sites" in message and "erp.example.com" in message
        assert "--site" in message and "BTU_SITE" in message

    def test_only_site_needs_no_flag(self, tmp_path: Path) -> None:
        text = 'frappe_url = "http://127.0.0.1:8000"\n[sites."only.example.com"]\n'
        assert "only.example.com" == load(write(tmp_path, text), env={}).site


class TestSingleSiteForm:
    def test_unchanged(self, tmp_path: Path) -> None:
        """``site = …`` still gives one site, not the multi-site form; env overrides it;
        host_header keeps its empty default."""
        path = write(tmp_path, 'site = "a.example"\nlease_seconds = 10\n')
        fleet, _ = load_fleet(path, env={"BTU_LEASE_SECONDS": "2"})
        assert not fleet.multi and ["a.example"] == fleet.names()
        only = fleet.sites[0]
        assert (2.0, "", "default") == (only.lease_seconds, only.host_header, only.pool)
        assert only == load(path, env={"BTU_LEASE_SECONDS": "2", "BTU_INSTANCE": only.instance})

    def test_env_only(self) -> None:
        fleet, _ = load_fleet(None, env={"BTU_SITE": "env.example"})
        assert (False, ["env.example"]) == (fleet.multi, fleet.names())

    def test_missing_site_still_says_so(self) -> None:
        with pytest.raises(ConfigError, match="setting 'site' is missing"):
            load_fleet(None, env={})
