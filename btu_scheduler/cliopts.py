"""What every ``btu-scheduler`` sub-command shares: its options, reading the settings,
the Redis client, and the one-line errors.

Exit codes: 0 success, 1 runtime failure (no daemon answered, Redis unreachable, no such
site), 2 bad input or configuration (argparse's own errors are 2 as well).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import redis

from btu_scheduler import config, configcheck
from btu_scheduler.errors import ConfigError
from streams.keys import LEADER_PATTERN, Keys, site_of_leader_key
from streams.redisio import text

MAX_COUNT = 1_000  # the longest list the daemon answers (rpcserver.MAX_LIST)


def common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="PATH",
        help=f"TOML settings file (default {config.DEFAULT_CONFIG_PATH} when present; "
        "BTU_* environment variables override it, and these flags override both)",
    )
    p.add_argument("--site", metavar="SITE", help="the Frappe site (over BTU_SITE and the file)")
    p.add_argument(
        "--redis-url",
        metavar="URL",
        help="Redis of the site (over BTU_REDIS_URL and the file)",
    )


def json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def positive(kind: Callable[[str], float], what: str) -> Callable[[str], float]:
    """An argparse type: a number greater than 0 (argparse exits 2 otherwise)."""

    def parse(value: str) -> float:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a {what}") from None
        if not number > 0 or number != number or number == float("inf"):
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {value}")
        return number

    return parse


def count_arg(value: str) -> int:
    """An argparse type: a count from 1 to :data:`MAX_COUNT`."""
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= count <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_COUNT}, got {count}")
    return count


def timeout_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--timeout",
        type=positive(float, "number of seconds"),
        default=2.0,
        metavar="S",
        help="seconds to wait for the daemon (default 2)",
    )


def options(p: argparse.ArgumentParser, timeout: bool = False) -> None:
    common(p)
    json_flag(p)
    if timeout:
        timeout_flag(p)


def overrides(args: argparse.Namespace) -> dict[str, str | None]:
    return {"site": getattr(args, "site", None), "redis_url": getattr(args, "redis_url", None)}


def load(args: argparse.Namespace, warn: bool = True) -> tuple[config.Settings, config.Sources]:
    """The effective settings; raises :class:`ConfigError`. An unknown ``BTU_*``
    variable is a warning on stderr."""
    settings, sources = config.load_with_sources(args.config, overrides=overrides(args))
    message = config.unknown_env_warning(sources)
    if warn and message:
        print(f"warning: {message}", file=sys.stderr)
    return settings, sources


def load_fleet(
    args: argparse.Namespace, warn: bool = True
) -> tuple[config.Fleet, config.Sources, bool]:
    """Every site of the configuration, and whether the command is about all of them: a
    multi-site configuration (``[sites."…"]`` tables or ``discover``) with no site named
    by ``--site``/``BTU_SITE``. Raises :class:`ConfigError`."""
    fleet, sources = config.load_fleet(args.config, overrides=overrides(args))
    message = config.unknown_env_warning(sources)
    if warn and message:
        print(f"warning: {message}", file=sys.stderr)
    named = "site" in sources.from_flags or "site" in sources.from_env
    return fleet, sources, fleet.multi and not named


def settings(args: argparse.Namespace) -> config.Settings:
    return load(args)[0]


def fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def redis_client(settings: config.Settings, socket_timeout: float = 10) -> redis.Redis:
    return redis.Redis.from_url(
        settings.redis_url, socket_timeout=socket_timeout, socket_connect_timeout=3
    )


def unreachable(settings: config.Settings, error: Exception) -> int:
    return fail(f"cannot reach Redis at {configcheck.mask_url(settings.redis_url)}: {error}", 1)


def site_has_daemon(client: redis.Redis, keys: Keys) -> bool:
    """Whether any daemon holds the lease or keeps a heartbeat for the site. Read-only:
    asking a mistyped site leaves no key behind."""
    if client.exists(keys.leader):
        return True
    return next(iter(client.scan_iter(match=keys.scheduler_pattern, count=1000)), None) is not None


def no_daemon(settings: config.Settings, client: redis.Redis) -> int:
    """Exit 1 naming the site, with the sites that do have a daemon in this Redis."""
    named = (site_of_leader_key(text(k)) for k in client.scan_iter(match=LEADER_PATTERN))
    known = sorted({site for site in named if site})
    hint = f"; sites with a daemon here: {', '.join(known[:10])}" if known else ""
    return fail(
        f"no btu-scheduler is running for site {settings.site!r} at "
        f"{configcheck.mask_url(settings.redis_url)} (no lease, no heartbeat): is the site name "
        f"right and the daemon started?{hint}",
        1,
    )


__all__ = ["ConfigError"]
