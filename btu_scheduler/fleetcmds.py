"""The operator commands over every site of a multi-site configuration: ``status`` (one
row per site, read from Redis), ``check`` (Redis once, then each site, concurrently),
``config`` (the defaults and each site's effective settings) and ``reload-config``
(every daemon of the pool re-reads its configuration file).

:mod:`btu_scheduler.commands` sends a command here when the configuration is in the
multi-site form and no site is named (``--site``/``BTU_SITE``); with a site named, the
one-site commands run as in the single-site form.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from redis.exceptions import RedisError

from btu_scheduler import cliopts, config, configcheck, poolstatus, views
from btu_scheduler.errors import ConfigError
from btu_scheduler.sitecheck import CheckResult, check_redis, check_site
from streams.keys import CONTROL_MAXLEN, F, PoolKeys
from streams.redisio import text

CHECK_CONCURRENCY = 16  # sites checked at once
DEFAULTS = "defaults"  # the name the defaults are built under (not shown)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "reload-config",
        help="make every multi-site daemon of the pool re-read its configuration file "
        "(what SIGHUP does for one process)",
    )
    cliopts.options(p)
    p.set_defaults(func=cmd_reload_config)


def defaults_of(fleet: config.Fleet) -> config.Settings:
    """The settings every site inherits (redis_url, pool, …)."""
    return fleet.settings_for(DEFAULTS) if fleet.multi else fleet.sites[0]


def every_site(fleet: config.Fleet, discovered: bool = True) -> list[config.Settings]:
    """The sites the file lists, then (``discover = true``) those the app registered in
    Redis that the file does not list, with the defaults. Raises RedisError."""
    sites = list(fleet.sites)
    if not (fleet.discover and discovered):
        return sites
    defaults = defaults_of(fleet)
    client = cliopts.redis_client(defaults)
    try:
        found = poolstatus.registered_sites(client)
    finally:
        client.close()
    listed = set(fleet.names())
    for name, host in found:
        if name not in listed:
            try:
                sites.append(fleet.settings_for(name, host))
            except ConfigError:
                continue  # a name no key can hold: the daemon skips it too
    return sites


def by_redis(sites: Sequence[config.Settings]) -> dict[str, list[config.Settings]]:
    groups: dict[str, list[config.Settings]] = {}
    for s in sites:
        groups.setdefault(s.redis_url, []).append(s)
    return groups


# -- status -------------------------------------------------------------------------------


def status_all(args: argparse.Namespace, fleet: config.Fleet) -> int:
    defaults = defaults_of(fleet)
    try:
        sites = every_site(fleet)
    except RedisError as e:
        return cliopts.unreachable(defaults, e)
    groups = by_redis(sites) or {defaults.redis_url: []}
    pools: list[dict[str, Any]] = []
    for url, members in groups.items():
        settings = members[0] if members else defaults
        client = cliopts.redis_client(settings)
        refs = [poolstatus.SiteRef(s.site, s.lease_seconds) for s in members]
        try:
            data = poolstatus.read_pool(client, refs, defaults.pool)
        except RedisError as e:
            return cliopts.unreachable(settings, e)
        finally:
            client.close()
        pools.append(data | {"redis_url": configcheck.mask_url(url)})
    if args.json:
        rows = [row | {"redis_url": p["redis_url"]} for p in pools for row in p["sites"]]
        ok, bad = poolstatus.summary(rows)
        out = {
            "sites": [row for row in rows if not (args.problems and row["ok"])],
            "ok": ok,
            "problems": bad,
            "pools": [{k: v for k, v in p.items() if k != "sites"} for p in pools],
        }
        print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
    else:
        print(views.show_pool_status(pools, args.problems))
    return 0


# -- check --------------------------------------------------------------------------------


def check_all(args: argparse.Namespace, fleet: config.Fleet) -> int:
    """Each Redis server once, then every site's URL and credentials, a bounded number
    at a time; the lines come in the configuration's order."""
    defaults = defaults_of(fleet)
    sites = list(fleet.sites)
    urls = list(by_redis(sites)) or [defaults.redis_url]
    redis_results = [check_redis(s) for s in (_with_url(defaults, u) for u in urls)]
    if fleet.discover and all(r.ok for r in redis_results):
        try:
            sites = every_site(fleet)
        except RedisError as e:
            redis_results.append(CheckResult("redis", False, f"cannot read the registered "
                                             f"sites: {e}"))  # fmt: skip
    failed = not all(r.ok for r in redis_results)
    shown: list[dict[str, Any]] = []
    for r in redis_results:
        if args.json:
            shown.append({"check": r.name, "site": None, "ok": r.ok, "message": r.message})
        else:
            print(f"{'ok    ' if r.ok else 'FAILED'}  {r.name:<6} {r.message}", flush=True)
    width = max((len(s.site) for s in sites), default=0)
    workers = max(1, min(CHECK_CONCURRENCY, len(sites)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="btu-check") as pool:
        for s, r in zip(sites, pool.map(check_site, sites), strict=True):
            failed = failed or not r.ok
            if args.json:
                shown.append({"check": r.name, "site": s.site, "ok": r.ok, "message": r.message})
            else:
                print(f"{'ok    ' if r.ok else 'FAILED'}  {r.name:<6} {s.site:<{width}}  "
                      f"{r.message}", flush=True)  # fmt: skip
    if args.json:
        print(orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode())
    elif not sites:
        print("no site listed in the file" + (" or registered in Redis" if fleet.discover
                                              else ""))  # fmt: skip
    return 1 if failed else 0


def _with_url(settings: config.Settings, url: str) -> config.Settings:
    from dataclasses import replace

    return replace(settings, redis_url=url)


# -- config -------------------------------------------------------------------------------

NOT_DEFAULTS = ("site", "host_header")  # every site has its own


def config_all(args: argparse.Namespace, fleet: config.Fleet, sources: config.Sources) -> int:
    """The defaults with where each came from, then each site's effective settings:
    all of them in JSON, those that differ from the defaults as text."""
    base = {k: v for k, v in defaults_of(fleet).public().items() if k not in NOT_DEFAULTS}
    origin = {name: f"env {config.ENV_PREFIX}{name.upper()}" for name in sources.from_env}
    origin |= {name: "flag --" + name.replace("_", "-") for name in sources.from_flags}
    if args.json:
        out = {
            "defaults": base,
            "discover": fleet.discover,
            "sites": {s.site: s.public() for s in fleet.sites},
            "sources": sources.as_dict(),
        }
        print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
        return 0
    print(f"# file: {sources.file or 'none read'}")
    count = len(fleet.sites)
    print(f"# {count} site{'' if count == 1 else 's'} listed; discover = "
          f"{str(fleet.discover).lower()}")  # fmt: skip
    width = max(len(k) for k in base)
    print("[defaults]")
    for key, value in base.items():
        suffix = f"  ({origin[key]})" if key in origin else ""
        print(f"{key:<{width}}  {value}{suffix}")
    for s in fleet.sites:
        print(f'\n[sites."{s.site}"]')
        own = {k: v for k, v in s.public().items()
               if k != "site" and (k in NOT_DEFAULTS or base.get(k) != v)}  # fmt: skip
        for key, value in own.items():
            print(f"{key:<{width}}  {value}")
    if fleet.sites:
        print("\n(a site's other settings are the defaults)")
    return 0


# -- reload-config ------------------------------------------------------------------------


def alive_members(client: Any, pool: PoolKeys) -> list[str]:
    """The pool's daemons whose membership has not expired (score ≥ Redis time)."""
    pipe = client.pipeline(transaction=False)
    pipe.time()
    pipe.zrange(pool.members, 0, -1, withscores=True)
    (seconds, micros), members = pipe.execute()
    now = int(seconds) * 1000 + int(micros) // 1000
    return sorted(text(m) for m, score in members if int(score) >= now)


def cmd_reload_config(args: argparse.Namespace) -> int:
    from btu_scheduler.fleet.reader import RELOAD_CONFIG

    try:
        fleet, _sources, _every = cliopts.load_fleet(args)
    except ConfigError as e:
        return cliopts.fail(str(e), 2)
    defaults = defaults_of(fleet)
    pool = PoolKeys(defaults.pool)
    urls = list(by_redis(fleet.sites)) if fleet.multi else [defaults.redis_url]
    if defaults.redis_url not in urls:
        urls.insert(0, defaults.redis_url)
    report: list[dict[str, Any]] = []
    for url in urls:
        settings = _with_url(defaults, url)
        client = cliopts.redis_client(settings)
        try:
            alive = alive_members(client, pool)
            entry = None
            if alive:
                entry = text(client.xadd(pool.control, {F.CMD: RELOAD_CONFIG},
                                         maxlen=CONTROL_MAXLEN, approximate=True))  # fmt: skip
        except RedisError as e:
            return cliopts.unreachable(settings, e)
        finally:
            client.close()
        report.append({"redis_url": configcheck.mask_url(url), "pool": pool.pool, "alive": alive,
                       "entry": entry})  # fmt: skip
    total = sum(len(r["alive"]) for r in report)
    if args.json:
        print(orjson.dumps({"sent": total > 0, "servers": report},
                           option=orjson.OPT_INDENT_2).decode())  # fmt: skip
    else:
        for r in report:
            n = len(r["alive"])
            names = f" ({', '.join(r['alive'][:10])}{', …' if n > 10 else ''})" if n else ""
            verb = "reload-config sent to" if n else "nothing sent to"
            print(f"{verb} pool {pool.pool!r} at {r['redis_url']}: {n} daemon"
                  f"{'' if n == 1 else 's'} alive{names}")  # fmt: skip
    if total == 0:
        return cliopts.fail(
            f"no daemon of pool {pool.pool!r} is alive: nothing reloads (a single-site "
            "daemon does not read the pool's control stream: restart it to apply a change)",
            1,
        )
    return 0
