"""Typed views of RPC reply data (PROTOCOL.md "Control RPC" table).

``RpcClient.ping()``, ``reload()``, ``cancel()``, ``next()`` and ``resync()`` return these
instead of raw JSON; a reply that does not have the documented shape raises
:class:`~streams.errors.ProtocolError` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.errors import ProtocolError


def _obj(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ProtocolError(f"{what} reply is not a JSON object")
    return data


def _field(data: dict[str, Any], name: str, kind: type | tuple[type, ...], what: str) -> Any:
    if name not in data:
        raise ProtocolError(f"{what} reply has no {name!r}")
    value = data[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProtocolError(f"{what} reply field {name!r} has type {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class PingReply:
    instance: str
    version: str
    pid: int
    host: str
    uptime_s: float
    armed: int
    leader: bool
    next_due: int | None

    @classmethod
    def from_data(cls, data: Any) -> PingReply:
        d = _obj(data, "ping")
        next_due = d.get("next_due")
        if next_due is not None and (not isinstance(next_due, int) or isinstance(next_due, bool)):
            raise ProtocolError("ping reply field 'next_due' is not an integer or null")
        return cls(
            instance=_field(d, "instance", str, "ping"),
            version=_field(d, "version", str, "ping"),
            pid=_field(d, "pid", int, "ping"),
            host=_field(d, "host", str, "ping"),
            uptime_s=float(_field(d, "uptime_s", (int, float), "ping")),
            armed=_field(d, "armed", int, "ping"),
            leader=_field(d, "leader", bool, "ping"),
            next_due=next_due,
        )


@dataclass(frozen=True, slots=True)
class ReloadReply:
    id: str
    armed: bool
    next: tuple[str, ...]  # ISO 8601 instants in the item's zone

    @classmethod
    def from_data(cls, data: Any) -> ReloadReply:
        d = _obj(data, "reload")
        upcoming = _field(d, "next", list, "reload")
        if not all(isinstance(x, str) for x in upcoming):
            raise ProtocolError("reload reply field 'next' is not a list of strings")
        return cls(
            id=_field(d, "id", str, "reload"),
            armed=_field(d, "armed", bool, "reload"),
            next=tuple(upcoming),
        )


@dataclass(frozen=True, slots=True)
class CancelReply:
    id: str
    removed: bool

    @classmethod
    def from_data(cls, data: Any) -> CancelReply:
        d = _obj(data, "cancel")
        return cls(id=_field(d, "id", str, "cancel"), removed=_field(d, "removed", bool, "cancel"))


@dataclass(frozen=True, slots=True)
class NextFire:
    id: str
    due: int

    @classmethod
    def list_from_data(cls, data: Any) -> list[NextFire]:
        if not isinstance(data, list):
            raise ProtocolError("next reply is not a JSON list")
        return [
            cls(
                id=_field(_obj(row, "next"), "id", str, "next"), due=_field(row, "due", int, "next")
            )
            for row in data
        ]


def resync_armed(data: Any) -> int:
    armed: int = _field(_obj(data, "resync"), "armed", int, "resync")
    return armed
