"""``fires`` and ``dead``: the last entries of the fires and dead-letter streams, read
straight from Redis (no daemon needed), and with ``--follow`` every new one as it comes.
A follow survives a Redis blip: it says so on stderr and goes on from where it was."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import orjson
import redis
from redis.exceptions import RedisError

from btu_scheduler import cliopts, views
from btu_scheduler.backoff import Backoff
from btu_scheduler.errors import ConfigError
from streams import codec
from streams.keys import F, Keys
from streams.redisio import xread, xrevrange

Printer = Callable[[dict[str, str]], None]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("fires", help="recent fire outcomes from the fires stream")
    _stream_options(p, "outcomes")
    p.set_defaults(func=cmd_fires)
    p = sub.add_parser("dead", help="dead letters: entries set aside, with the item id and why")
    _stream_options(p, "dead letters")
    p.set_defaults(func=cmd_dead)


def _stream_options(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--count",
        type=cliopts.count_arg,
        default=20,
        help=f"how many recent entries (default 20, at most {cliopts.MAX_COUNT})",
    )
    p.add_argument("--follow", "-f", action="store_true", help=f"keep printing new {what}")
    cliopts.options(p)


def cmd_fires(args: argparse.Namespace) -> int:
    def show(fields: dict[str, str]) -> None:
        if args.json:
            print(orjson.dumps(views.fire_json(fields)).decode(), flush=True)
        else:
            print(views.fire_line(fields), flush=True)

    return _run(args, lambda keys: keys.fires, lambda _keys: show)


def dead_item_id(keys: Keys, fields: dict[str, str]) -> str | None:
    """The item a dead letter is about, when it names one."""
    source = fields.get(F.SOURCE, "")
    if source == keys.state:
        return fields.get(F.ENTRY) or None
    try:
        original = orjson.loads(fields.get(F.FIELDS, "{}"))
    except orjson.JSONDecodeError:
        return None
    item_id = original.get(F.ID) if isinstance(original, dict) else None
    return item_id if isinstance(item_id, str) and item_id else None


def cmd_dead(args: argparse.Namespace) -> int:
    def printer(keys: Keys) -> Printer:
        def show(fields: dict[str, str]) -> None:
            item_id = dead_item_id(keys, fields)
            if args.json:
                print(orjson.dumps(views.dead_json(fields, item_id)).decode(), flush=True)
            else:
                print(views.dead_line(fields, item_id), flush=True)

        return show

    return _run(args, lambda keys: keys.dead, printer)


def _run(
    args: argparse.Namespace,
    stream_of: Callable[[Keys], str],
    printer_of: Callable[[Keys], Printer],
) -> int:
    try:
        settings = cliopts.settings(args)
    except ConfigError as e:
        return cliopts.fail(str(e), 2)
    keys = Keys(settings.site)
    key = stream_of(keys)
    show = printer_of(keys)
    client = cliopts.redis_client(settings, socket_timeout=35)
    try:
        try:
            entries = xrevrange(client, key, args.count)
            if not entries and not cliopts.site_has_daemon(client, keys):
                return cliopts.no_daemon(settings, client)
        except RedisError as e:
            return cliopts.unreachable(settings, e)
        last = "0-0"
        for entry_id, fields in reversed(entries):
            last = entry_id
            show(fields)
        if args.follow:
            _follow(client, key, last, show)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        client.close()


def _follow(client: redis.Redis, key: str, last: str, show: Printer) -> None:
    """Print every new entry after ``last``, forever; a lost connection is retried with
    backoff from the same position, so nothing is skipped or printed twice."""
    backoff = Backoff(5.0)
    lost = False
    while True:
        try:
            batches = xread(client, {key: last}, 30_000)
        except RedisError as e:
            if not lost:
                print(f"warning: lost Redis ({e}); reconnecting", file=sys.stderr, flush=True)
                lost = True
            time.sleep(backoff.next())
            continue
        if lost:
            print("warning: Redis is back", file=sys.stderr, flush=True)
            lost = False
            backoff.reset()
        for _stream, entries in batches:
            for entry_id, raw in entries:
                last = entry_id
                show(codec.lenient(raw))
