"""The daemon's side of the control RPC (PROTOCOL.md "Control RPC").

Each command is a method ``cmd_<name>(arg) -> data``. A :class:`BadRequest` becomes an
``ok=0`` reply with its message; the reply is sent only after the command has been
applied. ``schedules`` is an addition to the protocol's list (documented in
docs/protocol.md): the armed items with their next instant, for the CLI.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from btu_scheduler import __version__
from btu_scheduler.deadletters import DeadLetters
from btu_scheduler.engine import Engine
from btu_scheduler.heap import Item
from btu_scheduler.stats import Stats
from streams.cron import iso_local
from streams.keys import Cmd, Kind

# The longest list `next` and `schedules` answer (ours, docs/protocol.md): a larger count
# is refused with ok=0 naming the limit. 1,000 rows of the longest ids, tasks and
# expressions stay under the 1 MiB a reply's `data` may hold (streams.codec.MAX_JSON).
MAX_LIST = 1_000


# Logged at info when answered; the others (probes) at debug.
CHANGING_COMMANDS = frozenset({Cmd.RELOAD, Cmd.CANCEL, Cmd.RESYNC})


class BadRequest(Exception):
    """The request cannot be applied; the message goes back as the reply's ``error``."""


class DaemonView(Protocol):
    """What the handlers need from the daemon."""

    engine: Engine
    stats: Stats
    dead: DeadLetters
    instance: str
    started_mono: float

    @property
    def is_leader(self) -> bool: ...

    def now_ms(self) -> int: ...

    def locked(self) -> AbstractContextManager[Any]: ...

    def reload_item(self, item_id: str) -> Item | None: ...

    def cancel_item(self, item_id: str) -> bool: ...

    def resync(self) -> int: ...

    def cluster_status(self) -> dict[str, Any]: ...


def _iso_utc(ms: int) -> str:
    return iso_local(ms, "UTC")


def next_instants(item: Item, now_ms: int, count: int = 5) -> list[str]:
    """The item's next ``count`` instants as ISO 8601 strings in its zone."""
    if item.due is None:
        return []
    if item.spec.kind == Kind.ONCE or item.schedule is None:
        return [_iso_utc(item.due)]
    instants = [item.due, *item.schedule.next_n(item.due, count - 1)]
    return [iso_local(ms, item.schedule.tz) for ms in instants[:count]]


def item_state(item: Item, now_ms: int) -> str:
    """``armed``; ``disabled``; ``done`` (a once item that fired); ``cancelled`` (by
    ``cancel``, until its next upsert); ``ended`` (a cron with no instant left)."""
    spec = item.spec
    if not spec.enabled:
        return "disabled"
    if item.due is not None:
        return "armed"
    if spec.kind == Kind.ONCE:
        fired = item.last_fired is not None and spec.at is not None and item.last_fired >= spec.at
        return "done" if fired else "cancelled"
    if item.schedule is not None and item.schedule.next_after(now_ms) is None:
        return "ended"
    return "cancelled"


def describe_item(item: Item) -> dict[str, Any]:
    spec = item.spec
    out: dict[str, Any] = {
        "id": spec.id,
        "kind": spec.kind,
        "task": spec.task,
        "enabled": spec.enabled,
        "next": item.due,
        "next_iso": None,
    }
    if spec.kind == Kind.CRON:
        out |= {"cron": spec.cron, "tz": spec.tz}
        if item.due is not None and spec.tz:
            out["next_iso"] = iso_local(item.due, spec.tz)
    else:
        out["at"] = spec.at
        if item.due is not None:
            out["next_iso"] = _iso_utc(item.due)
    return out


class RpcHandler:
    """Dispatches one decoded request to its command."""

    def __init__(self, daemon: DaemonView) -> None:
        self.d = daemon
        self._commands: dict[str, Callable[[str | None], Any]] = {
            Cmd.PING: self.cmd_ping,
            Cmd.RELOAD: self.cmd_reload,
            Cmd.CANCEL: self.cmd_cancel,
            Cmd.NEXT: self.cmd_next,
            Cmd.STATUS: self.cmd_status,
            Cmd.RESYNC: self.cmd_resync,
            Cmd.SCHEDULES: self.cmd_schedules_listed,
        }

    def handle(self, cmd: str, arg: str | None) -> Any:
        command = self._commands.get(cmd)
        if command is None:
            known = ", ".join(sorted(self._commands))
            raise BadRequest(f"unknown command {cmd[:40]!r}; known commands: {known}")
        return command(arg)

    def cmd_ping(self, _arg: str | None) -> dict[str, Any]:
        d = self.d
        with d.locked():
            armed, next_due = d.engine.armed.armed, d.engine.next_due()
        return {
            "instance": d.instance,
            "version": __version__,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "uptime_s": round(time.monotonic() - d.started_mono, 3),
            "armed": armed,
            "leader": d.is_leader,
            "next_due": next_due,
        }

    def cmd_reload(self, arg: str | None) -> dict[str, Any]:
        item_id = _need_id(arg, "reload")
        item = self.d.reload_item(item_id)
        with self.d.locked():
            armed = item is not None and item.due is not None
            upcoming = next_instants(item, self.d.now_ms()) if item is not None else []
        return {"id": item_id, "armed": armed, "next": upcoming}

    def cmd_cancel(self, arg: str | None) -> dict[str, Any]:
        item_id = _need_id(arg, "cancel")
        return {"id": item_id, "removed": self.d.cancel_item(item_id)}

    def cmd_next(self, arg: str | None) -> list[dict[str, Any]]:
        count = _count(arg, default=10)
        with self.d.locked():
            upcoming = self.d.engine.upcoming(count)
        return [{"id": item_id, "due": due, "due_iso": _iso_utc(due)} for due, item_id in upcoming]

    def cmd_status(self, _arg: str | None) -> dict[str, Any]:
        d = self.d
        with d.locked():
            engine = {
                "armed": d.engine.armed.armed,
                "items": len(d.engine.armed),
                "next_due": d.engine.next_due(),
            }
        return {
            "instance": d.instance,
            "leader": d.is_leader,
            **engine,
            **d.stats.snapshot(),
            **d.cluster_status(),
            "broken": self.broken(),
        }

    def broken(self) -> list[dict[str, Any]]:
        """Items set aside (bad cron, unknown zone, undecodable state value), with why."""

        def held(item_id: str) -> bool:
            with self.d.locked():
                return self.d.engine.armed.get(item_id) is not None

        return [
            {"id": b.id, "state": "broken", "error": b.error, "ts": b.ts}
            for b in self.d.dead.still_broken(held)
        ]

    def cmd_schedules_listed(self, arg: str | None) -> list[dict[str, Any]]:
        """``schedules``: every item with its state (armed, disabled, done, cancelled,
        ended), then the broken items with their error."""
        rows = self.cmd_schedules(arg)
        with self.d.locked():
            now = self.d.now_ms()
            for row in rows:
                item = self.d.engine.armed.get(row["id"])
                if item is not None:
                    row["state"] = item_state(item, now)
        return rows + self.broken()

    def cmd_resync(self, _arg: str | None) -> dict[str, Any]:
        return {"armed": self.d.resync()}

    def cmd_schedules(self, arg: str | None) -> list[dict[str, Any]]:
        limit = _count(arg, default=MAX_LIST)
        with self.d.locked():
            listing = self.d.engine.armed.listing()  # references only: the sort runs unlocked
        first = listing.first(limit)
        with self.d.locked():
            return [describe_item(item) for item in first]


def _need_id(arg: str | None, cmd: str) -> str:
    item_id = (arg or "").strip()
    if not item_id:
        raise BadRequest(f"{cmd!r} needs an item id as its argument")
    return item_id


def _count(arg: str | None, default: int) -> int:
    if arg is None or arg == "":
        return default
    if not (arg.isascii() and arg.isdigit()):
        raise BadRequest(f"argument {arg[:40]!r} is not a positive count")
    count = int(arg)
    if not 1 <= count <= MAX_LIST:
        raise BadRequest(f"count must be between 1 and {MAX_LIST}, got {count}")
    return count
