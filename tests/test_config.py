"""Settings (btu_scheduler/config.py): TOML file, BTU_* environment, validation, secrets.

Every test passes ``env=`` explicitly, and the default config path is pointed at a file
that does not exist, so the machine's own /etc and environment never leak in.
"""

from __future__ import annotations

import os
import socket
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from btu_scheduler import config
from btu_scheduler.config import Settings, load
from btu_scheduler.configcheck import MASK
from btu_scheduler.errors import ConfigError

SECRET = "s3cret-api-Xy7"
REDIS_PASSWORD = "s3cret-redis-Qz9"


@pytest.fixture(autouse=True)
def no_default_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "DEFAULT_CONFIG_PATH", tmp_path / "absent.toml")


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "btu_scheduler.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(**kwargs: Any) -> str:
    """The message of the ConfigError that load(**kwargs) raises."""
    with pytest.raises(ConfigError) as info:
        load(**kwargs)
    return str(info.value)


BASE = {"BTU_SITE": "erp.example.com"}


class TestSources:
    def test_defaults(self) -> None:
        """With only a site, every other setting has its documented default."""
        s = load(env=BASE)
        assert (
            "erp.example.com", "redis://127.0.0.1:11000/0", "", "", "", "", "info", "auto",
            5.0, 300.0, 10.0, 0.5, 30.0, 300.0, 32, 10_000, 0, 10_000, 10.0, 10.0, 100, 2.0,
        ) == (
            s.site, s.redis_url, s.frappe_url, s.api_key, s.api_secret, s.host_header,
            s.log_level, s.log_format, s.lease_seconds, s.grace_seconds,
            s.request_timeout_seconds, s.retry_initial_seconds, s.retry_max_seconds,
            s.retry_deadline_seconds, s.http_concurrency, s.max_backlog, s.fired_ttl_seconds,
            s.fires_maxlen, s.reconnect_max_seconds, s.shutdown_timeout_seconds, s.batch_size,
            s.batch_linger_ms,
        )  # fmt: skip

    def test_marker_ttl_follows_grace_and_retry_deadline(self) -> None:
        """By default a fired marker lives grace + retry deadline + request timeout + 60 s
        (as long as a duplicate is possible), not days; an explicit setting wins."""
        auto = load(env=BASE | {"BTU_GRACE_SECONDS": "120", "BTU_RETRY_DEADLINE_SECONDS": "60"})
        fixed = load(env=BASE | {"BTU_FIRED_TTL_SECONDS": "86400"})
        assert (670.0, 250.0, 86_400.0) == (
            load(env=BASE).marker_ttl_seconds,
            auto.marker_ttl_seconds,
            fixed.marker_ttl_seconds,
        )

    def test_default_instance_is_host_and_pid(self) -> None:
        """Without BTU_INSTANCE the instance name is host:pid."""
        assert f"{socket.gethostname()}:{os.getpid()}" == load(env=BASE).instance

    def test_toml_file(self, tmp_path: Path) -> None:
        """Settings are read from the TOML file."""
        path = write_toml(
            tmp_path, 'site = "a.example"\nlease_seconds = 10\nhttp_concurrency = 4\n'
        )
        s = load(path, env={})
        assert ("a.example", 10.0, 4) == (s.site, s.lease_seconds, s.http_concurrency)

    def test_env_overrides_toml(self, tmp_path: Path) -> None:
        """An environment variable wins over the same setting in the file; others stay."""
        path = write_toml(tmp_path, 'site = "a.example"\nlease_seconds = 10\nlog_level = "debug"\n')
        s = load(path, env={"BTU_LEASE_SECONDS": "2", "BTU_SITE": "b.example"})
        assert ("b.example", 2.0, "debug") == (s.site, s.lease_seconds, s.log_level)

    def test_empty_env_does_not_override(self, tmp_path: Path) -> None:
        """An empty environment variable leaves the file's value in place."""
        path = write_toml(tmp_path, 'site = "a.example"\napi_key = "k"\n')
        s = load(path, env={"BTU_API_KEY": "", "BTU_SITE": ""})
        assert ("a.example", "k") == (s.site, s.api_key)

    def test_btu_config_names_the_file(self, tmp_path: Path) -> None:
        """BTU_CONFIG points at the file when no path is given."""
        path = write_toml(tmp_path, 'site = "from-file.example"\n')
        assert "from-file.example" == load(env={"BTU_CONFIG": str(path)}).site

    def test_default_file_used_when_present(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The default config path is read when it exists and nothing else is given."""
        path = write_toml(tmp_path, 'site = "default.example"\n')
        monkeypatch.setattr(config, "DEFAULT_CONFIG_PATH", path)
        assert "default.example" == load(env={}).site


ENV_CASES = [
    ("BTU_REDIS_URL", "redis_url", "rediss://user:pw@redis.internal:6380/2", None),
    ("BTU_SITE", "site", "other.example.com", None),
    ("BTU_FRAPPE_URL", "frappe_url", "https://erp.example.com", None),
    ("BTU_API_KEY", "api_key", "key123", None),
    ("BTU_API_SECRET", "api_secret", "secret456", None),
    ("BTU_HOST_HEADER", "host_header", "erp.example.com", None),
    ("BTU_INSTANCE", "instance", "node-a", None),
    ("BTU_LOG_LEVEL", "log_level", "debug", None),
    ("BTU_LOG_FORMAT", "log_format", "json", None),
    ("BTU_LEASE_SECONDS", "lease_seconds", "2.5", 2.5),
    ("BTU_GRACE_SECONDS", "grace_seconds", "60", 60.0),
    ("BTU_REQUEST_TIMEOUT_SECONDS", "request_timeout_seconds", "3", 3.0),
    ("BTU_RETRY_INITIAL_SECONDS", "retry_initial_seconds", "0.25", 0.25),
    ("BTU_RETRY_MAX_SECONDS", "retry_max_seconds", "12", 12.0),
    ("BTU_RETRY_DEADLINE_SECONDS", "retry_deadline_seconds", "120", 120.0),
    ("BTU_HTTP_CONCURRENCY", "http_concurrency", "8", 8),
    ("BTU_MAX_BACKLOG", "max_backlog", "500", 500),
    ("BTU_FIRED_TTL_SECONDS", "fired_ttl_seconds", "86400", 86_400),
    ("BTU_FIRES_MAXLEN", "fires_maxlen", "2000", 2_000),
    ("BTU_RECONNECT_MAX_SECONDS", "reconnect_max_seconds", "4", 4.0),
    ("BTU_SHUTDOWN_TIMEOUT_SECONDS", "shutdown_timeout_seconds", "7", 7.0),
    ("BTU_BATCH_SIZE", "batch_size", "250", 250),
    ("BTU_BATCH_LINGER_MS", "batch_linger_ms", "0", 0.0),
    ("BTU_METRICS_LISTEN", "metrics_listen", "127.0.0.1:9464", "127.0.0.1:9464"),
    ("BTU_SIGNING_SECRET", "signing_secret", "s" * 40, None),
    ("BTU_POOL", "pool", "bench-a", None),
]


class TestEnvironment:
    @pytest.mark.parametrize(
        ("env_name", "setting", "raw", "expected"), ENV_CASES, ids=[c[0] for c in ENV_CASES]
    )
    def test_env_var_maps_to_setting(
        self, env_name: str, setting: str, raw: str, expected: object
    ) -> None:
        """Each BTU_* variable sets its setting (numbers converted to their type)."""
        value = getattr(load(env=BASE | {env_name: raw}), setting)
        wanted = raw if expected is None else expected
        assert (wanted, type(wanted)) == (value, type(value))

    def test_table_covers_every_setting(self) -> None:
        """The table above names every field of Settings, so no setting lacks a variable."""
        assert sorted(f.name for f in fields(Settings)) == sorted(c[1] for c in ENV_CASES)

    def test_values_are_stripped(self) -> None:
        """Surrounding whitespace in a variable is ignored."""
        s = load(env={"BTU_SITE": "  erp.example.com\n", "BTU_LOG_LEVEL": " warning "})
        assert ("erp.example.com", "warning") == (s.site, s.log_level)

    def test_blank_instance_is_not_used(self, tmp_path: Path) -> None:
        """A blank instance name is rejected naming 'instance' or replaced by host:pid."""
        # Kept empty, it makes fire records that FireRecord.decode refuses ("is empty")
        # and a heartbeat key ending in ':'.
        for kwargs in (
            {"env": BASE | {"BTU_INSTANCE": "   "}},
            {"path": write_toml(tmp_path, 'site = "a.example"\ninstance = ""\n'), "env": {}},
        ):
            try:
                instance = load(**kwargs).instance  # type: ignore[arg-type]
            except ConfigError as e:
                assert "'instance'" in str(e)
                continue
            assert f"{socket.gethostname()}:{os.getpid()}" == instance


class TestValidation:
    @pytest.mark.parametrize(
        "env",
        [
            pytest.param({}, id="absent"),
            pytest.param({"BTU_SITE": ""}, id="empty"),
            pytest.param({"BTU_SITE": "   "}, id="blank"),
        ],
    )
    def test_missing_site(self, env: dict[str, str]) -> None:
        """Without a site, start-up stops with an error naming 'site' and its variable."""
        message = config_error(env=env)
        assert (True, True) == ("'site'" in message, "BTU_SITE" in message)

    @pytest.mark.parametrize(
        ("env_name", "raw", "setting"),
        [
            ("BTU_LEASE_SECONDS", "abc", "lease_seconds"),
            ("BTU_LEASE_SECONDS", "0", "lease_seconds"),
            ("BTU_LEASE_SECONDS", "0.1", "lease_seconds"),
            ("BTU_GRACE_SECONDS", "-5", "grace_seconds"),
            ("BTU_HTTP_CONCURRENCY", "1.5", "http_concurrency"),
            ("BTU_HTTP_CONCURRENCY", "0", "http_concurrency"),
            ("BTU_MAX_BACKLOG", "lots", "max_backlog"),
            ("BTU_FIRED_TTL_SECONDS", "60", "fired_ttl_seconds"),
            ("BTU_FIRED_TTL_SECONDS", "-1", "fired_ttl_seconds"),
            ("BTU_BATCH_SIZE", "0", "batch_size"),
            ("BTU_BATCH_SIZE", "501", "batch_size"),  # more than the app takes in one request
            ("BTU_BATCH_SIZE", "2.5", "batch_size"),
            ("BTU_BATCH_LINGER_MS", "-1", "batch_linger_ms"),
            ("BTU_BATCH_LINGER_MS", "5000", "batch_linger_ms"),
            ("BTU_RETRY_DEADLINE_SECONDS", "", None),  # empty: default, no error
        ],
    )
    def test_bad_number(self, env_name: str, raw: str, setting: str | None) -> None:
        """A bad number stops start-up with one line naming the setting."""
        if setting is None:
            assert 300.0 == load(env=BASE | {env_name: raw}).retry_deadline_seconds
            return
        message = config_error(env=BASE | {env_name: raw})
        assert (True, False) == (f"'{setting}'" in message, "\n" in message)

    @pytest.mark.parametrize(
        ("env_name", "raw", "setting"),
        [
            ("BTU_LEASE_SECONDS", "nan", "lease_seconds"),
            ("BTU_GRACE_SECONDS", "nan", "grace_seconds"),
            ("BTU_LEASE_SECONDS", "inf", "lease_seconds"),
            ("BTU_GRACE_SECONDS", "inf", "grace_seconds"),
        ],
    )
    def test_non_finite_number(self, env_name: str, raw: str, setting: str) -> None:
        """NaN or infinity for a duration is an error naming the setting."""
        # NaN passes every ``<= 0`` check; int(nan * 1000) or int(inf * 1000) in the
        # daemon's start-up then raises ValueError/OverflowError instead of one clear line.
        assert f"'{setting}'" in config_error(env=BASE | {env_name: raw})

    def test_toml_fraction_for_integer(self, tmp_path: Path) -> None:
        """A fractional TOML value for an integer setting is an error, not truncated."""
        path = write_toml(tmp_path, 'site = "a.example"\nhttp_concurrency = 2.5\n')
        assert "'http_concurrency'" in config_error(path=path, env={})

    @pytest.mark.parametrize(
        ("line", "setting"),
        [
            ('lease_seconds = "soon"', "lease_seconds"),
            ("lease_seconds = true", "lease_seconds"),
            ("max_backlog = false", "max_backlog"),
            ("site = 5", "site"),
            ('log_level = ["info"]', "log_level"),
        ],
    )
    def test_bad_toml_types(self, tmp_path: Path, line: str, setting: str) -> None:
        """A TOML value of the wrong type is an error naming the setting."""
        text = f"{line}\n" if line.startswith("site") else f'site = "a.example"\n{line}\n'
        path = write_toml(tmp_path, text)
        message = config_error(path=path, env={})
        assert (True, False) == (f"'{setting}'" in message, "\n" in message)

    @pytest.mark.parametrize(
        ("env_name", "raw", "setting"),
        [
            ("BTU_REDIS_URL", "http://127.0.0.1:6379", "redis_url"),
            ("BTU_REDIS_URL", "127.0.0.1:6379", "redis_url"),
            ("BTU_FRAPPE_URL", "ftp://erp.example.com", "frappe_url"),
            ("BTU_FRAPPE_URL", "erp.example.com", "frappe_url"),
            ("BTU_FRAPPE_URL", "http://", "frappe_url"),
        ],
    )
    def test_bad_url(self, env_name: str, raw: str, setting: str) -> None:
        """A URL with the wrong scheme or no host is an error naming the setting."""
        message = config_error(env=BASE | {env_name: raw})
        assert (True, False) == (f"'{setting}'" in message, "\n" in message)

    @pytest.mark.parametrize(
        ("env_name", "raw", "setting"),
        [
            ("BTU_REDIS_URL", "redis://[::1/0", "redis_url"),
            ("BTU_FRAPPE_URL", "http://[::1:8000", "frappe_url"),
        ],
    )
    def test_malformed_url(self, env_name: str, raw: str, setting: str) -> None:
        """An unsplittable URL (unclosed IPv6 bracket) is a ConfigError naming the setting."""
        assert f"'{setting}'" in config_error(env=BASE | {env_name: raw})

    def test_redis_url_bad_port(self) -> None:
        """A Redis URL with a non-numeric port is rejected naming 'redis_url', password hidden."""
        # Accepted today; Settings.public() (the `config` command) then raises ValueError.
        url = f"redis://user:{REDIS_PASSWORD}@redis.internal:notaport/0"
        message = config_error(env=BASE | {"BTU_REDIS_URL": url})
        assert (True, False) == ("'redis_url'" in message, REDIS_PASSWORD in message)

    @pytest.mark.parametrize(
        ("env_name", "raw", "setting"),
        [
            ("BTU_LOG_LEVEL", "verbose", "log_level"),
            ("BTU_LOG_FORMAT", "xml", "log_format"),
        ],
    )
    def test_bad_choice(self, env_name: str, raw: str, setting: str) -> None:
        """An unknown log level or format is an error naming the setting."""
        assert f"'{setting}'" in config_error(env=BASE | {env_name: raw})

    def test_log_level_any_case(self) -> None:
        """Log levels are accepted in any case."""
        assert "WARNING" == load(env=BASE | {"BTU_LOG_LEVEL": "WARNING"}).log_level

    def test_unknown_toml_key(self, tmp_path: Path) -> None:
        """An unknown key in the file is an error naming it."""
        path = write_toml(tmp_path, 'site = "a.example"\nlease_secnds = 3\n')
        message = config_error(path=path, env={})
        assert (True, False) == ("'lease_secnds'" in message, "\n" in message)

    def test_invalid_toml(self, tmp_path: Path) -> None:
        """A file that is not TOML gives one line naming the file."""
        path = write_toml(tmp_path, 'site = "a.example"\nthis is not toml\n')
        message = config_error(path=path, env={})
        assert (True, True, False) == (str(path) in message, "TOML" in message, "\n" in message)

    def test_missing_file(self, tmp_path: Path) -> None:
        """A config path that does not exist is an error naming it."""
        path = tmp_path / "nope.toml"
        assert str(path) in config_error(path=path, env=BASE)

    def test_require_firing(self) -> None:
        """`run` needs frappe_url, api_key and api_secret: the first missing one is named."""
        s = load(env=BASE | {"BTU_FRAPPE_URL": "http://127.0.0.1:8000", "BTU_API_KEY": "k"})
        with pytest.raises(ConfigError) as info:
            s.require_firing()
        message = str(info.value)
        assert (True, True) == ("'api_secret'" in message, "BTU_API_SECRET" in message)


REDIS_URLS = [
    f"redis://user:{REDIS_PASSWORD}@redis.internal:6379/0",
    f"rediss://user:{REDIS_PASSWORD}@redis.internal:6380/1",
    f"redis://:{REDIS_PASSWORD}@redis.internal:6379/0",
    f"rediss://default:{REDIS_PASSWORD}@redis.internal/0?ssl_cert_reqs=none",
    f"redis://redis.internal:6379/0?password={REDIS_PASSWORD}",
    f"redis://redis.internal:6379/0?db=1&password={REDIS_PASSWORD}&socket_timeout=5",
]


SECRETS_ENV = {
    "BTU_API_SECRET": SECRET,
    "BTU_REDIS_URL": f"redis://user:{REDIS_PASSWORD}@redis.internal:6379/0",
}


class TestSecrets:
    @pytest.mark.parametrize("url", REDIS_URLS)
    def test_public_masks_secrets(self, url: str) -> None:
        """public() masks the API secret and the Redis password, keeping the rest."""
        s = load(env=BASE | {"BTU_REDIS_URL": url, "BTU_API_SECRET": SECRET})
        public = s.public()
        text = repr(public)
        assert (MASK, False, False, True, True) == (
            public["api_secret"],
            SECRET in text,
            REDIS_PASSWORD in text,
            MASK in public["redis_url"],
            "redis.internal" in public["redis_url"],
        )

    def test_frappe_url_credentials_are_masked(self) -> None:
        """A password written in frappe_url is masked like Redis's."""
        url = f"https://frappe:{REDIS_PASSWORD}@erp.example.com"
        public = load(env=BASE | {"BTU_FRAPPE_URL": url}).public()
        assert f"https://frappe:{MASK}@erp.example.com" == public["frappe_url"]

    def test_public_keeps_user_and_scheme(self) -> None:
        """The masked URL keeps scheme, user, host, port and database."""
        url = f"rediss://user:{REDIS_PASSWORD}@redis.internal:6380/1"
        public = load(env=BASE | {"BTU_REDIS_URL": url}).public()
        assert f"rediss://user:{MASK}@redis.internal:6380/1" == public["redis_url"]

    def test_public_keeps_ipv6_brackets(self) -> None:
        """The masked form of an IPv6 Redis URL is still a valid URL with its brackets."""
        url = f"redis://user:{REDIS_PASSWORD}@[::1]:6379/0"
        public = load(env=BASE | {"BTU_REDIS_URL": url}).public()
        assert f"redis://user:{MASK}@[::1]:6379/0" == public["redis_url"]

    def test_public_without_secrets(self) -> None:
        """Without secrets public() shows the URL as is and an empty api_secret."""
        public = load(env=BASE).public()
        assert ("redis://127.0.0.1:11000/0", "") == (public["redis_url"], public["api_secret"])

    @pytest.mark.parametrize("url", REDIS_URLS)
    def test_repr_hides_secrets(self, url: str) -> None:
        """repr() and str() of the settings never show the secrets."""
        s = load(env=BASE | {"BTU_REDIS_URL": url, "BTU_API_SECRET": SECRET})
        text = repr(s) + str(s)
        assert (False, False) == (SECRET in text, REDIS_PASSWORD in text)

    @pytest.mark.parametrize(
        ("env", "toml"),
        [
            pytest.param(SECRETS_ENV | {"BTU_SITE": ""}, "", id="missing-site"),
            pytest.param(SECRETS_ENV | BASE | {"BTU_LEASE_SECONDS": "x"}, "", id="bad-number"),
            pytest.param(
                SECRETS_ENV | BASE | {"BTU_REDIS_URL": f"http://user:{REDIS_PASSWORD}@h:6379/0"},
                "",
                id="bad-redis-scheme",
            ),
            pytest.param(SECRETS_ENV | BASE | {"BTU_LOG_LEVEL": "loud"}, "", id="bad-level"),
            pytest.param(BASE, f"api_secret = {{ value = '{SECRET}' }}\n", id="secret-wrong-type"),
            pytest.param(BASE, f'redis_url = ["{REDIS_PASSWORD}"]\n', id="url-wrong-type"),
            pytest.param(SECRETS_ENV | BASE, f'secret_typo = "{SECRET}"\n', id="unknown-key"),
            pytest.param(BASE, f'api_secret = "{SECRET}\n', id="invalid-toml"),
            pytest.param(SECRETS_ENV | BASE | {"BTU_FIRED_TTL_SECONDS": "1"}, "", id="ttl-short"),
        ],
    )
    def test_errors_hide_secrets(self, tmp_path: Path, env: dict[str, str], toml: str) -> None:
        """No ConfigError message contains the API secret or the Redis password."""
        path = write_toml(tmp_path, toml) if toml else None
        message = config_error(path=path, env=env)
        assert (False, False) == (SECRET in message, REDIS_PASSWORD in message)
