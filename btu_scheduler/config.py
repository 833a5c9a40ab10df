"""Settings of the daemon: a TOML file overridden by ``BTU_*`` environment variables.

This is the only module that reads ``os.environ``. Every setting is validated up front;
a bad one raises :class:`ConfigError` whose one-line message names it. Secrets (the API
secret and any password in the Redis URL) are kept out of ``repr`` and of
:meth:`Settings.public`.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from btu_scheduler.configcheck import (
    MASK,
    SECRET_SETTINGS,
    URL_SETTINGS,
    coerce,
    mask_url,
    validate,
)
from btu_scheduler.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("/etc/btu_scheduler/btu_scheduler.toml")
ENV_PREFIX = "BTU_"
MARKER_MARGIN_S = 60.0


@dataclass(frozen=True, slots=True)
class Settings:
    """Effective configuration. Field docs double as the reference in docs/operations.md."""

    site: str
    redis_url: str = field(default="redis://127.0.0.1:11000/0", repr=False)
    frappe_url: str = ""
    api_key: str = ""
    api_secret: str = field(default="", repr=False)
    host_header: str = ""
    instance: str = ""
    log_level: str = "info"
    log_format: str = "auto"
    # active/standby
    lease_seconds: float = 5.0
    # catch-up after downtime
    grace_seconds: float = 300.0
    # firing
    request_timeout_seconds: float = 10.0
    retry_initial_seconds: float = 0.5
    retry_max_seconds: float = 30.0
    retry_deadline_seconds: float = 300.0
    http_concurrency: int = 32
    batch_size: int = 100  # fires per enqueue_batch request (1: single requests only)
    batch_linger_ms: float = 2.0  # how long a lone fire waits for others to share its batch
    max_backlog: int = 10_000
    fired_ttl_seconds: int = 0  # 0: as long as a duplicate is possible (marker_ttl_seconds)
    fires_maxlen: int = 10_000
    # Redis reconnects
    reconnect_max_seconds: float = 10.0
    shutdown_timeout_seconds: float = 10.0
    # observability: host:port serving /metrics, /healthz, /readyz ("" = off)
    metrics_listen: str = ""
    # the bench-level secret for signed requests (docs/decisions/0012): used for a site
    # that has no api_key/api_secret of its own
    signing_secret: str = field(default="", repr=False)
    # multi-site: the daemons that share this name spread the sites among themselves
    pool: str = "default"

    @property
    def renew_seconds(self) -> float:
        """How often the lease is renewed (and standbys try to take it): 2.5 renewals a
        lease, so one failed renewal is retried before the lease lapses."""
        return self.lease_seconds / 2.5

    @property
    def marker_ttl_seconds(self) -> float:
        """Life of a ``fired:{fire_id}`` marker: ``fired_ttl_seconds`` when set, else as
        long as a second claim of the fire is possible: a fire is claimed within grace of
        its instant, retried until the retry deadline (a recovered one again, from its
        recovery), its last attempt lasts up to the request timeout, plus a margin."""
        if self.fired_ttl_seconds:
            return float(self.fired_ttl_seconds)
        return (
            self.grace_seconds
            + self.retry_deadline_seconds
            + self.request_timeout_seconds
            + MARKER_MARGIN_S
        )

    def public(self) -> dict[str, Any]:
        """Every setting, with secrets masked: safe to print and to log."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_SETTINGS:
                value = MASK if value else ""
            elif f.name in URL_SETTINGS:
                value = mask_url(value)
            out[f.name] = value
        return out

    @property
    def signed(self) -> bool:
        """Requests are signed with the bench secret (the site has no API key)."""
        return not self.api_key and bool(self.signing_secret)

    def require_firing(self) -> None:
        """The settings `run` needs beyond what the operator commands need."""
        needed = ["frappe_url"]
        if not self.signed:
            needed += ["api_key", "api_secret"]
        for name in needed:
            if not getattr(self, name):
                hint = " (or signing_secret, for signed requests)" if name != "frappe_url" else ""
                raise ConfigError(
                    f"setting {name!r} is missing (env {ENV_PREFIX}{name.upper()}){hint}"
                )


_ENV_NAMES = {f.name: ENV_PREFIX + f.name.upper() for f in fields(Settings)}


@dataclass(frozen=True, slots=True)
class Sources:
    """Where the effective settings came from (shown by ``btu-scheduler config``)."""

    file: str | None = None  # the TOML file read, if any
    from_env: tuple[str, ...] = ()  # settings taken from BTU_* variables
    from_flags: tuple[str, ...] = ()  # settings taken from command-line flags
    unknown_env: tuple[str, ...] = ()  # BTU_* variables that name no setting

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "from_env": list(self.from_env),
            "from_flags": list(self.from_flags),
            "unknown_env": list(self.unknown_env),
        }


# Read by something other than the settings: not reported as unknown.
OTHER_ENV = frozenset({"BTU_CONFIG"})
OTHER_ENV_PREFIXES = ("BTU_TEST_",)


def load(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str | None] | None = None,
) -> Settings:
    """Read ``path`` (or the default file when it exists) and apply the environment,
    then ``overrides`` (command-line flags, by setting name)."""
    return load_with_sources(path, env, overrides)[0]


@dataclass(frozen=True, slots=True)
class Fleet:
    """Every site one ``btu-scheduler run`` serves.

    The single-site form (``site = …``) gives one site. The multi-site form gives one
    :class:`Settings` per ``[sites."name"]`` table: the file's top-level values, then the
    ``BTU_*`` variables and flags, are the defaults every site inherits; a site's table
    overrides them for that site (its ``host_header`` defaults to its name). With
    ``discover = true`` the daemon also serves the sites the app registered in Redis
    (:meth:`settings_for` builds their settings from the defaults).
    """

    sites: tuple[Settings, ...]
    multi: bool = False
    discover: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def names(self) -> list[str]:
        return [s.site for s in self.sites]

    def get(self, site: str) -> Settings | None:
        return next((s for s in self.sites if s.site == site), None)

    def first(self) -> Settings:
        """The first listed site's settings, or with none listed (discovery only) the
        defaults' (under a placeholder site name): what the process-wide settings are
        read from."""
        return self.sites[0] if self.sites else self.settings_for(PLACEHOLDER_SITE)

    def settings_for(self, site: str, host_header: str = "") -> Settings:
        """Settings of a site the file does not list (a discovered one): the defaults."""
        return _build_site(self.defaults, {"host_header": host_header or site}, site)


def load_with_sources(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str | None] | None = None,
) -> tuple[Settings, Sources]:
    """One site's settings: the single-site form, or in the multi-site form the site
    named by ``site`` (``--site``/``BTU_SITE``), or the only site listed."""
    fleet, sources, wanted = _gather(path, env, overrides)
    if not fleet.multi:
        return fleet.sites[0], sources
    if wanted:
        chosen = fleet.get(wanted)
        return (chosen or fleet.settings_for(wanted)), sources
    if len(fleet.sites) == 1:
        return fleet.sites[0], sources
    listed = ", ".join(fleet.names()[:5]) + (", …" if len(fleet.sites) > 5 else "")
    raise ConfigError(
        f"the configuration serves {len(fleet.sites)} sites ({listed or 'none listed'}): "
        "name one with --site (or BTU_SITE)"
    )


def load_fleet(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str | None] | None = None,
) -> tuple[Fleet, Sources]:
    """Every site to serve. A site named with ``--site``/``BTU_SITE`` in the multi-site
    form narrows the fleet to that one site."""
    fleet, sources, wanted = _gather(path, env, overrides)
    if fleet.multi and wanted:
        chosen = fleet.get(wanted) or fleet.settings_for(wanted)
        fleet = Fleet((chosen,), True, False, fleet.defaults)
    return fleet, sources


PLACEHOLDER_SITE = "defaults.check"  # checks the defaults when no site is listed
FLEET_KEYS = frozenset({"sites", "discover"})  # top-level only, not settings
# Settings of the process, not of a site: refused in a [sites."…"] table. The lease is
# the process's liveness in its pool (one renewal for every site).
PER_PROCESS = frozenset(
    {"site", "instance", "pool", "log_level", "log_format", "metrics_listen", "lease_seconds"}
)


def _gather(
    path: str | Path | None,
    env: Mapping[str, str] | None,
    overrides: Mapping[str, str | None] | None,
) -> tuple[Fleet, Sources, str]:
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    config_path = Path(path) if path is not None else env.get("BTU_CONFIG") or None
    if config_path is None and DEFAULT_CONFIG_PATH.is_file():
        config_path = DEFAULT_CONFIG_PATH
    if config_path is not None:
        raw.update(_read_toml(Path(config_path)))
    tables = raw.pop("sites", None)
    discover = raw.pop("discover", False)
    from_env = []
    for name, env_name in _ENV_NAMES.items():
        if env_name in env and env[env_name] != "":
            raw[name] = env[env_name]
            from_env.append(name)
    from_flags = []
    for name, value in (overrides or {}).items():
        if value is not None:
            raw[name] = value
            from_flags.append(name)
    known = set(_ENV_NAMES.values()) | OTHER_ENV
    unknown = sorted(
        k for k in env
        if k.startswith(ENV_PREFIX) and k not in known and not k.startswith(OTHER_ENV_PREFIXES)
    )  # fmt: skip
    sources = Sources(
        file=str(config_path) if config_path is not None else None,
        from_env=tuple(from_env),
        from_flags=tuple(from_flags),
        unknown_env=tuple(unknown),
    )
    if not isinstance(discover, bool):
        raise ConfigError(f"setting 'discover' must be true or false, got {discover!r}")
    if tables is None and not discover:
        return Fleet((_build(raw),)), sources, ""
    return _fleet(raw, tables or {}, discover), sources, str(raw.pop("site", "") or "").strip()


def _fleet(defaults: dict[str, Any], tables: Any, discover: bool) -> Fleet:
    if not isinstance(tables, dict):
        raise ConfigError("setting 'sites' must be tables: [sites.\"erp.example.com\"]")
    defaults = {k: v for k, v in defaults.items() if k != "site"}
    sites = []
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ConfigError(f'site {name!r}: [sites."{name}"] must be a table of settings')
        for key in table:
            if key not in _ENV_NAMES or key in PER_PROCESS:
                what = "unknown setting" if key not in _ENV_NAMES else "not a per-site setting"
                raise ConfigError(f"site {name!r}: {what} {key!r}")
        sites.append(_build_site(defaults, {"host_header": name, **table}, name))
    _build_site(defaults, {}, sites[0].site if sites else PLACEHOLDER_SITE)  # the defaults too
    return Fleet(tuple(sites), multi=True, discover=discover, defaults=defaults)


def _build_site(defaults: Mapping[str, Any], table: Mapping[str, Any], site: str) -> Settings:
    try:
        return _build({**defaults, **table, "site": site})
    except ConfigError as e:
        raise ConfigError(f"site {site!r}: {e}") from None


def unknown_env_warning(sources: Sources) -> str | None:
    """One line naming the ``BTU_*`` variables that set nothing (likely misspelt)."""
    if not sources.unknown_env:
        return None
    return (
        f"unknown environment variable{'s' if len(sources.unknown_env) > 1 else ''} "
        f"{', '.join(sources.unknown_env)} (no such setting; ignored)"
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data: dict[str, Any] = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except OSError as e:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {e}") from None
    known = set(_ENV_NAMES) | FLEET_KEYS
    for key in data:
        if key not in known:
            raise ConfigError(f"config file {str(path)!r}: unknown setting {key!r}")
    return data


def _build(raw: dict[str, Any]) -> Settings:
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name not in raw:
            continue
        values[f.name] = coerce(f.name, f.type, raw[f.name])
    if not values.get("site"):
        raise ConfigError(f"setting 'site' is missing (env {ENV_PREFIX}SITE)")
    if not values.get("instance"):
        values["instance"] = f"{socket.gethostname()}:{os.getpid()}"
    settings = Settings(**values)
    validate(settings)
    return settings
