"""Operator sub-commands: run, ping, status, next, schedules, fires, resync, config.

Everything but ``run``, ``config`` and ``fires`` goes through the RPC stream and exits 1
with a clear message when no daemon answers. Configuration errors exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import redis
from redis.exceptions import RedisError

from btu_scheduler import config, logs
from btu_scheduler.errors import ConfigError
from streams import codec
from streams.errors import RpcFailed, RpcTimeout
from streams.keys import Cmd, F, Keys
from streams.redisio import xread, xrevrange
from streams.rpc import RpcClient

Handler = Callable[[argparse.Namespace], int]
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="PATH",
        help=f"TOML settings file (default {config.DEFAULT_CONFIG_PATH} when present; "
        "BTU_* environment variables override it)",
    )


def _json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def _timeout_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--timeout", type=float, default=2.0, metavar="S", help="seconds to wait for the daemon"
    )


def _options(p: argparse.ArgumentParser, timeout: bool = False) -> None:
    _common(p)
    _json_flag(p)
    if timeout:
        _timeout_flag(p)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run the scheduler daemon in the foreground")
    _common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("ping", help="ask the active instance who it is")
    _options(p, timeout=True)
    p.set_defaults(func=_rpc_command("ping", _show_ping))

    p = sub.add_parser("status", help="counters, lag percentiles, instances and recent fires")
    _options(p, timeout=True)
    p.set_defaults(func=_rpc_command("status", _show_status))

    p = sub.add_parser("next", help="the next N fires across all items")
    p.add_argument("count", nargs="?", type=int, default=10, help="how many (default 10)")
    _options(p, timeout=True)
    p.set_defaults(func=_rpc_command("next", _show_next, arg=lambda a: str(a.count)))

    p = sub.add_parser("schedules", help="armed items with their next instant")
    _options(p, timeout=True)
    p.set_defaults(func=_rpc_command(Cmd.SCHEDULES, _show_schedules))

    p = sub.add_parser("resync", help="make the daemon rebuild its heap from the state hash")
    _options(p, timeout=True)
    p.set_defaults(func=_rpc_command("resync", lambda d: f"resynced: {d['armed']} armed"))

    p = sub.add_parser("fires", help="recent fire outcomes from the fires stream")
    p.add_argument("--count", type=int, default=20, help="how many recent entries (default 20)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new outcomes")
    _options(p)
    p.set_defaults(func=cmd_fires)

    p = sub.add_parser("config", help="print the effective settings (secrets masked)")
    _options(p)
    p.set_defaults(func=cmd_config)


def _settings(args: argparse.Namespace) -> config.Settings:
    return config.load(args.config)


def _fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def cmd_run(args: argparse.Namespace) -> int:
    from btu_scheduler.daemon import Daemon

    try:
        settings = _settings(args)
        settings.require_firing()
    except ConfigError as e:
        return _fail(str(e), 2)
    logs.configure(
        settings.log_level,
        settings.log_format,
        context={"site": settings.site, "instance": settings.instance},
    )
    return Daemon(settings).run()


def cmd_config(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
    except ConfigError as e:
        return _fail(str(e), 2)
    public = settings.public()
    if args.json:
        print(orjson.dumps(public, option=orjson.OPT_INDENT_2).decode())
    else:
        width = max(len(k) for k in public)
        for key, value in public.items():
            print(f"{key:<{width}}  {value}")
    return 0


def _rpc_command(
    cmd: str,
    show: Callable[[Any], str],
    arg: Callable[[argparse.Namespace], str | None] = lambda _a: None,
) -> Handler:
    def run(args: argparse.Namespace) -> int:
        try:
            settings = _settings(args)
        except ConfigError as e:
            return _fail(str(e), 2)
        client = redis.Redis.from_url(
            settings.redis_url, socket_timeout=10, socket_connect_timeout=3
        )
        try:
            data = RpcClient(client, Keys(settings.site)).call(cmd, arg(args), timeout=args.timeout)
        except RpcTimeout:
            return _fail(
                f"no btu-scheduler answered {cmd!r} for site {settings.site!r} within "
                f"{args.timeout:g} s: is the daemon running and pointed at the same Redis?",
                1,
            )
        except RpcFailed as e:
            return _fail(str(e), 1)
        except RedisError as e:
            return _fail(f"cannot reach Redis at {config.mask_url(settings.redis_url)}: {e}", 1)
        finally:
            client.close()
        if args.json:
            print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        else:
            print(show(data))
        return 0

    return run


def _iso(ms: Any) -> str:
    """Epoch ms as ISO 8601 UTC, exact to the millisecond; the number itself when it is
    outside the years 1-9999."""
    if not isinstance(ms, int):
        return "-"
    try:
        moment = _EPOCH + timedelta(milliseconds=ms)
    except OverflowError:
        return f"{ms} ms"
    return moment.isoformat(timespec="milliseconds")


def _show_ping(d: dict[str, Any]) -> str:
    role = "leader" if d.get("leader") else "standby"
    return (
        f"pong from {d['instance']} ({role}), version {d['version']}, up {d['uptime_s']:.0f} s, "
        f"{d['armed']} armed, next due {_iso(d.get('next_due'))}"
    )


def _show_status(d: dict[str, Any]) -> str:
    lag = d.get("lag_ms", {})
    lines = [
        f"instance   {d['instance']} ({'leader' if d.get('leader') else 'standby'})",
        f"armed      {d['armed']} of {d['items']} items; next due {_iso(d.get('next_due'))}",
        f"events     {d['events_applied']} applied, {d['dead_letters']} dead letters",
        f"fires      {d['fires_sent']} sent, {d['fires_failed']} failed, "
        f"{d['fires_missed']} missed, backlog {d.get('backlog', 0)}",
        f"lag ms     p50 {lag.get('p50')}  p90 {lag.get('p90')}  p99 {lag.get('p99')}  "
        f"max {lag.get('max')}  ({lag.get('samples', 0)} samples)",
        f"lease      {d.get('leader_lease')}",
        "instances:",
    ]
    for inst in d.get("instances", []):
        beat = inst.get("heartbeat", "")
        lines.append(
            f"  {inst.get('instance')}  {inst.get('role')}  armed {inst.get('armed')}  "
            f"heartbeat {_iso(int(beat) if beat.isdigit() else None)}"
        )
    return "\n".join(lines)


def _show_next(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "nothing armed"
    return "\n".join(f"{_iso(r['due'])}  {r['id']}" for r in rows)


def _show_schedules(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no items"
    out = []
    for r in rows:
        when = r.get("next_iso") or "disarmed"
        what = (
            f"{r.get('cron')} {r.get('tz')}"
            if r["kind"] == "cron"
            else f"once at {_iso(r.get('at'))}"
        )
        out.append(f"{r['id']:<24} {when:<32} {what}  task={r['task']}")
    return "\n".join(out)


def cmd_fires(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
    except ConfigError as e:
        return _fail(str(e), 2)
    keys = Keys(settings.site)
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=35, socket_connect_timeout=3)
    try:
        last = "0-0"
        for entry_id, fields in reversed(xrevrange(client, keys.fires, max(1, args.count))):
            last = entry_id
            _print_fire(fields, args.json)
        if not args.follow:
            return 0
        if last == "0-0":
            last = "$"
        while True:
            for _stream, entries in xread(client, {keys.fires: last}, 30_000):
                for entry_id, raw in entries:
                    last = entry_id
                    _print_fire(codec.lenient(raw), args.json)
            if last == "$":
                info = client.xinfo_stream(keys.fires) if client.exists(keys.fires) else None
                last = info["last-generated-id"].decode() if info else "0-0"
    except KeyboardInterrupt:
        return 0
    except RedisError as e:
        return _fail(f"cannot reach Redis at {config.mask_url(settings.redis_url)}: {e}", 1)
    finally:
        client.close()


_NUMERIC_FIRE_FIELDS = (F.DUE, F.SENT, F.LAG_MS, F.ATTEMPT, F.HTTP)


def _fire_json(fields: dict[str, str]) -> dict[str, Any]:
    """The entry with its numbers as JSON numbers (an empty ``http`` is null)."""
    out: dict[str, Any] = dict(fields)
    for name in _NUMERIC_FIRE_FIELDS:
        raw = fields.get(name)
        if raw == "":
            out[name] = None
        elif raw is not None and raw.lstrip("-").isdigit():
            out[name] = int(raw)
    return out


def _print_fire(fields: dict[str, str], as_json: bool) -> None:
    if as_json:
        print(orjson.dumps(_fire_json(fields)).decode(), flush=True)
        return
    due = int(fields[F.DUE]) if fields.get(F.DUE, "").isdigit() else None
    detail = fields.get(F.DETAIL, "")
    print(
        f"{_iso(due)}  {fields.get(F.OUTCOME, '?'):<9} {fields.get(F.ID, '?'):<20} "
        f"lag {fields.get(F.LAG_MS, '?')} ms  http {fields.get(F.HTTP) or '-'}  "
        f"attempt {fields.get(F.ATTEMPT, '?')}  job {fields.get(F.JOB) or '-'}"
        + (f"  detail {detail}" if detail else ""),
        flush=True,
    )
