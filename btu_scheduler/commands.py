"""Operator sub-commands: run, check, config, and the RPC ones (ping, status, next,
schedules, resync, reload, cancel). ``fires`` and ``dead`` live in
:mod:`btu_scheduler.streamcmds`.

The RPC commands first check that a daemon runs for the site (its lease or a heartbeat
in Redis): a mistyped site exits 1 saying so, and writes nothing (no request stream is
created for a site that has no daemon). They exit 1 with a clear message when no daemon
answers. Configuration errors and bad arguments exit 2.

With a multi-site configuration they are about one site: the one ``--site`` (or
``BTU_SITE``) names, listed in the file or not (a discovered site); without it they exit
2 asking for one, except ``status``, ``check`` and ``config``, which then cover every
site (:mod:`btu_scheduler.fleetcmds`, also home of ``reload-config``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson
import structlog
from redis.exceptions import RedisError

from btu_scheduler import cliopts, config, fleetcmds, logs, views
from btu_scheduler.errors import ConfigError
from streams.errors import RpcFailed, RpcTimeout
from streams.keys import Cmd, Keys
from streams.rpc import RpcClient

Handler = Callable[[argparse.Namespace], int]
log = structlog.get_logger("btu_scheduler.cli")

# Kept for callers of the former private names.
_iso = views.iso


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run the scheduler daemon in the foreground")
    cliopts.common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("check", help="check Redis, the site's URL and the API token; exit 1 if not")
    cliopts.options(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("ping", help="ask the active instance who it is")
    cliopts.options(p, timeout=True)
    p.set_defaults(func=_rpc_command(Cmd.PING, views.show_ping))

    p = sub.add_parser(
        "status",
        help="counters, lag percentiles, instances and recent fires; with a multi-site "
        "config and no --site, one row per site and the pool's daemons",
    )
    cliopts.options(p, timeout=True)
    p.add_argument(
        "--problems",
        action="store_true",
        help="with every site: only the rows of sites with a problem (the totals count all)",
    )
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("next", help="the next N fires across all items")
    p.add_argument(
        "count",
        nargs="?",
        type=cliopts.count_arg,
        default=10,
        help=f"how many (default 10, at most {cliopts.MAX_COUNT})",
    )
    cliopts.options(p, timeout=True)
    p.set_defaults(func=_rpc_command(Cmd.NEXT, views.show_next, arg=lambda a: str(a.count)))

    p = sub.add_parser("schedules", help="every item with its state and next instant")
    p.add_argument(
        "limit",
        nargs="?",
        type=cliopts.count_arg,
        default=None,
        help=f"how many (default and at most {cliopts.MAX_COUNT})",
    )
    cliopts.options(p, timeout=True)
    p.set_defaults(
        func=_rpc_command(
            Cmd.SCHEDULES,
            views.show_schedules,
            arg=lambda a: None if a.limit is None else str(a.limit),
            footer=_schedules_footer,
        )
    )

    p = sub.add_parser("resync", help="make the daemon rebuild its heap from the state hash")
    cliopts.options(p, timeout=True)
    p.set_defaults(func=_rpc_command(Cmd.RESYNC, lambda d: f"resynced: {d['armed']} armed"))

    p = sub.add_parser("reload", help="make the daemon re-read one item from the state hash")
    p.add_argument("id", help="the item id (a BTU Task Schedule or BTU Run Later name)")
    cliopts.options(p, timeout=True)
    p.set_defaults(func=_rpc_command(Cmd.RELOAD, views.show_reload, arg=lambda a: a.id))

    p = sub.add_parser("cancel", help="disarm one item until its next change (durable)")
    p.add_argument("id", help="the item id")
    cliopts.options(p, timeout=True)
    p.set_defaults(func=_rpc_command(Cmd.CANCEL, views.show_cancel, arg=lambda a: a.id))

    p = sub.add_parser("config", help="print the effective settings (secrets masked)")
    cliopts.options(p)
    p.set_defaults(func=cmd_config)

    fleetcmds.register(sub)


def cmd_status(args: argparse.Namespace) -> int:
    """Today's RPC status for one site; one row per site for a multi-site config."""
    try:
        fleet, _sources, every = cliopts.load_fleet(args, warn=False)
    except ConfigError as e:
        return cliopts.fail(str(e), 2)
    if every:
        return fleetcmds.status_all(args, fleet)
    return _rpc_command(Cmd.STATUS, views.show_status)(args)


def cmd_run(args: argparse.Namespace) -> int:
    from btu_scheduler.daemon import Daemon

    def read() -> config.Fleet:
        return config.load_fleet(args.config, overrides=cliopts.overrides(args))[0]

    try:
        fleet, sources = config.load_fleet(args.config, overrides=cliopts.overrides(args))
        for site in fleet.sites:
            site.require_firing()
    except ConfigError as e:
        return cliopts.fail(str(e), 2)
    first = fleet.first()
    context = {"instance": first.instance}
    if not fleet.multi:
        context["site"] = first.site
    logs.configure(first.log_level, first.log_format, context=context)
    unknown = config.unknown_env_warning(sources)
    if unknown:
        log.warning("unknown_environment_variable", problem=unknown)
    while not fleet.multi:
        daemon = Daemon(fleet.sites[0], on_hup=lambda d: _reload_single(d, read))
        code = daemon.run()
        if daemon.restart_with is None:
            return code
        fleet = daemon.restart_with  # SIGHUP with a changed configuration
        log.info("restarting", sites=len(fleet.sites), multi=fleet.multi)
    from btu_scheduler.fleet.supervisor import Supervisor

    return Supervisor(fleet, read).run()


def _reload_single(daemon: Any, read: Callable[[], config.Fleet]) -> None:
    """SIGHUP in the single-site form: re-read the configuration; when it changed, stop
    cleanly (hand-back, lease released) and start again with it, in this process."""
    try:
        fleet = read()
        for site in fleet.sites:
            site.require_firing()
    except ConfigError as e:
        log.error("config_reload_failed", error=str(e), action="kept the running config")
        return
    settings = fleet.sites[0] if fleet.sites else None
    if not fleet.multi and settings is not None:
        settings = replace(settings, instance=daemon.settings.instance)
        if settings == daemon.settings:
            log.info("config_reloaded", changed=False)
            return
        fleet = config.Fleet((settings,))
    log.info("config_reloaded", changed=True, action="restarting with it")
    daemon.restart_with = fleet
    daemon.request_stop()


def cmd_check(args: argparse.Namespace) -> int:
    from btu_scheduler.sitecheck import run_checks

    try:
        fleet, _sources, every = cliopts.load_fleet(args)
        if every:
            return fleetcmds.check_all(args, fleet)
        settings = cliopts.load(args, warn=False)[0]
    except ConfigError as e:
        return cliopts.fail(str(e), 2)
    results = run_checks(settings)
    if args.json:
        shown = [{"check": r.name, "ok": r.ok, "message": r.message} for r in results]
        print(orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode())
    else:
        for r in results:
            print(f"{'ok    ' if r.ok else 'FAILED'}  {r.name:<6} {r.message}")
    return 0 if all(r.ok for r in results) else 1


def cmd_config(args: argparse.Namespace) -> int:
    try:
        fleet, fleet_sources, every = cliopts.load_fleet(args)
        if every:
            return fleetcmds.config_all(args, fleet, fleet_sources)
        settings, sources = cliopts.load(args, warn=False)
    except ConfigError as e:
        return cliopts.fail(str(e), 2)
    public = settings.public()
    origin = {name: f"env {config.ENV_PREFIX}{name.upper()}" for name in sources.from_env}
    origin |= {name: "flag --" + name.replace("_", "-") for name in sources.from_flags}
    if args.json:
        out = public | {"sources": sources.as_dict()}
        print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
        return 0
    print(f"# file: {sources.file or 'none read'}")
    width = max(len(k) for k in public)
    for key, value in public.items():
        suffix = f"  ({origin[key]})" if key in origin else ""
        print(f"{key:<{width}}  {value}{suffix}")
    return 0


def _schedules_footer(args: argparse.Namespace, rows: list[dict[str, Any]]) -> str | None:
    armed = [r for r in rows if r.get("state") != "broken"]
    limit = args.limit or cliopts.MAX_COUNT
    if len(armed) >= limit:
        return f"(the first {limit} items by next instant; there may be more)"
    return None


def _rpc_command(
    cmd: str,
    show: Callable[[Any], str],
    arg: Callable[[argparse.Namespace], str | None] = lambda _a: None,
    footer: Callable[[argparse.Namespace, Any], str | None] | None = None,
) -> Handler:
    def run(args: argparse.Namespace) -> int:
        try:
            settings = cliopts.settings(args)
        except ConfigError as e:
            return cliopts.fail(str(e), 2)
        client = cliopts.redis_client(settings)
        keys = Keys(settings.site)
        try:
            if not cliopts.site_has_daemon(client, keys):
                return cliopts.no_daemon(settings, client)
            data = RpcClient(client, keys).call(cmd, arg(args), timeout=args.timeout)
        except RpcTimeout:
            return cliopts.fail(
                f"no btu-scheduler answered {cmd!r} for site {settings.site!r} within "
                f"{args.timeout:g} s: is the daemon running and pointed at the same Redis?",
                1,
            )
        except RpcFailed as e:
            return cliopts.fail(str(e), 1)
        except RedisError as e:
            return cliopts.unreachable(settings, e)
        finally:
            client.close()
        if args.json:
            print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        else:
            print(show(data))
            note = footer(args, data) if footer else None
            if note:
                print(note)
        return 0

    return run
