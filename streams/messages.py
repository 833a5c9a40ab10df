"""The messages of the wire protocol as frozen, slotted dataclasses.

Each message has ``encode()`` (a flat ``dict[str, str]`` ready for XADD) and a
``decode(fields)`` classmethod that accepts what redis-py returns (bytes or str) and
raises :class:`~streams.errors.ProtocolError` for anything malformed. Readers ignore
fields they do not know, as PROTOCOL.md asks.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from streams import codec
from streams.errors import ProtocolError
from streams.keys import PROTOCOL_VERSION, Cmd, F, Kind, Op, Outcome

DETAIL_MAX = 500  # a fire record's detail is cut to this many characters

__all__ = [
    "DeadLetter",
    "FireRecord",
    "RpcReply",
    "RpcRequest",
    "ScheduleDelete",
    "ScheduleEvent",
    "ScheduleUpsert",
    "decode_schedule_event",
]


@dataclass(frozen=True, slots=True)
class ScheduleUpsert:
    """Arm (or, with ``enabled=False``, keep but disarm) a schedule or run-later item."""

    id: str
    kind: str
    task: str
    enabled: bool
    ts: int
    cron: str | None = None
    tz: str | None = None
    at: int | None = None

    def __post_init__(self) -> None:
        codec.check_id(F.ID, self.id)
        if self.kind == Kind.CRON:
            if not self.cron or not self.tz:
                raise ProtocolError(f"a cron item needs {F.CRON!r} and {F.TZ!r}")
            if self.at is not None:
                raise ProtocolError(f"a cron item has no {F.AT!r}")
        elif self.kind == Kind.ONCE:
            if self.at is None:
                raise ProtocolError(f"a once item needs {F.AT!r}")
            if self.cron is not None or self.tz is not None:
                raise ProtocolError(f"a once item has no {F.CRON!r} or {F.TZ!r}")
        else:
            raise ProtocolError(f"field {F.KIND!r} is {self.kind!r}; expected cron or once")

    @classmethod
    def _validated(
        cls, item_id: str, model: ScheduleUpsert, ts: int, at: int | None
    ) -> ScheduleUpsert:
        """A copy of ``model`` (already checked) for another id, ts and at, which the
        caller has checked: skips ``__post_init__`` for bulk decoding."""
        obj = object.__new__(cls)
        for name, value in (
            ("id", item_id), ("kind", model.kind), ("task", model.task),
            ("enabled", model.enabled), ("ts", ts), ("cron", model.cron), ("tz", model.tz),
            ("at", at),
        ):  # fmt: skip
            object.__setattr__(obj, name, value)
        return obj

    def encode(self) -> dict[str, str]:
        out = {
            F.V: PROTOCOL_VERSION,
            F.OP: Op.UPSERT,
            F.ID: self.id,
            F.KIND: self.kind,
            F.TASK: self.task,
            F.ENABLED: codec.b(self.enabled),
            F.TS: str(self.ts),
        }
        if self.kind == Kind.CRON:
            assert self.cron is not None and self.tz is not None
            out[F.CRON] = self.cron
            out[F.TZ] = self.tz
        else:
            out[F.AT] = str(self.at)
        return out

    @classmethod
    def decode(cls, raw: codec.RawFields | Any) -> ScheduleUpsert:
        fields = codec.normalize(raw)
        codec.check_version(fields)
        op = codec.req_choice(fields, F.OP, (Op.UPSERT, Op.DELETE))
        if op != Op.UPSERT:
            raise ProtocolError(f"field {F.OP!r} is {op!r}; expected {Op.UPSERT!r}")
        return cls._from_fields(fields)

    @classmethod
    def _from_fields(cls, fields: codec.Fields) -> ScheduleUpsert:
        kind = codec.req_choice(fields, F.KIND, (Kind.CRON, Kind.ONCE))
        # Strings many items share (a million items use a few hundred of them) are
        # interned, so the daemon's heap holds one copy of each.
        common: dict[str, Any] = {
            "id": codec.req_id(fields),
            "kind": sys.intern(kind),
            "task": sys.intern(codec.req_str(fields, F.TASK, codec.MAX_ID)),
            "enabled": codec.req_bool(fields, F.ENABLED),
            "ts": codec.req_int(fields, F.TS),
        }
        if kind == Kind.CRON:
            return cls(
                **common,
                cron=sys.intern(codec.req_str(fields, F.CRON)),
                tz=sys.intern(codec.req_str(fields, F.TZ, 64)),
            )
        return cls(**common, at=codec.req_int(fields, F.AT))


@dataclass(frozen=True, slots=True)
class ScheduleDelete:
    """Remove an item from the state hash and disarm it."""

    id: str
    ts: int

    def __post_init__(self) -> None:
        codec.check_id(F.ID, self.id)

    def encode(self) -> dict[str, str]:
        return {F.V: PROTOCOL_VERSION, F.OP: Op.DELETE, F.ID: self.id, F.TS: str(self.ts)}

    @classmethod
    def decode(cls, raw: codec.RawFields | Any) -> ScheduleDelete:
        event = decode_schedule_event(raw)
        if not isinstance(event, ScheduleDelete):
            raise ProtocolError(f"field {F.OP!r} is {Op.UPSERT!r}; expected {Op.DELETE!r}")
        return event


ScheduleEvent = ScheduleUpsert | ScheduleDelete


def decode_schedule_event(raw: codec.RawFields | Any) -> ScheduleEvent:
    """Decode one entry of ``btu:{site}:schedules`` into an upsert or a delete."""
    fields = codec.normalize(raw)
    codec.check_version(fields)
    op = codec.req_choice(fields, F.OP, (Op.UPSERT, Op.DELETE))
    if op == Op.UPSERT:
        return ScheduleUpsert._from_fields(fields)
    return ScheduleDelete(id=codec.req_id(fields), ts=codec.req_int(fields, F.TS))


@dataclass(frozen=True, slots=True)
class RpcRequest:
    """One control request on ``btu:{site}:rpc``."""

    rid: str
    cmd: str
    ts: int
    deadline: int
    arg: str | None = None

    def encode(self) -> dict[str, str]:
        out = {
            F.V: PROTOCOL_VERSION,
            F.RID: self.rid,
            F.CMD: self.cmd,
            F.TS: str(self.ts),
            F.DEADLINE: str(self.deadline),
        }
        if self.arg is not None:
            out[F.ARG] = self.arg
        return out

    @property
    def known(self) -> bool:
        return self.cmd in Cmd.ALL

    @classmethod
    def decode(cls, raw: codec.RawFields | Any) -> RpcRequest:
        fields = codec.normalize(raw)
        codec.check_version(fields)
        return cls(
            rid=codec.req_id(fields, F.RID),
            cmd=codec.req_str(fields, F.CMD, 64),
            ts=codec.req_int(fields, F.TS),
            deadline=codec.req_int(fields, F.DEADLINE),
            arg=codec.opt_str(fields, F.ARG, codec.MAX_SHORT),
        )


@dataclass(frozen=True, slots=True)
class RpcReply:
    """The daemon's answer to one request, sent after the command was applied."""

    rid: str
    ok: bool
    ts: int
    data: Any = None
    error: str = ""

    def encode(self) -> dict[str, str]:
        out = {
            F.V: PROTOCOL_VERSION,
            F.RID: self.rid,
            F.OK: codec.b(self.ok),
            F.DATA: codec.dumps(self.data),
            F.TS: str(self.ts),
        }
        if not self.ok:
            out[F.ERROR] = self.error or "unknown error"
        return out

    @classmethod
    def decode(cls, raw: codec.RawFields | Any) -> RpcReply:
        fields = codec.normalize(raw)
        codec.check_version(fields)
        ok = codec.req_bool(fields, F.OK)
        data_text = fields.get(F.DATA)
        data = None if data_text in (None, "") else codec.loads(F.DATA, data_text)
        error = "" if ok else fields.get(F.ERROR, "") or "the scheduler gave no reason"
        return cls(
            rid=codec.req_id(fields, F.RID),
            ok=ok,
            ts=codec.req_int(fields, F.TS),
            data=data,
            error=error[: codec.MAX_TEXT],
        )


@dataclass(frozen=True, slots=True)
class FireRecord:
    """One outcome of one fire, as written to ``btu:{site}:fires``."""

    fire_id: str
    id: str
    due: int
    sent: int
    outcome: str
    instance: str
    attempt: int = 1
    http: int | None = None
    job: str = ""
    detail: str = ""  # 1.1: why it is retrying or failed (empty otherwise)

    @property
    def lag_ms(self) -> int:
        return self.sent - self.due

    def encode(self) -> dict[str, str]:
        return {
            F.V: PROTOCOL_VERSION,
            F.FIRE_ID: self.fire_id,
            F.ID: self.id,
            F.DUE: str(self.due),
            F.SENT: str(self.sent),
            F.LAG_MS: str(self.lag_ms),
            F.OUTCOME: self.outcome,
            F.HTTP: "" if self.http is None else str(self.http),
            F.JOB: self.job,
            F.ATTEMPT: str(self.attempt),
            F.INSTANCE: self.instance,
            F.DETAIL: self.detail,
        }

    @classmethod
    def decode(cls, raw: codec.RawFields | Any) -> FireRecord:
        fields = codec.normalize(raw)
        codec.check_version(fields)
        return cls(
            fire_id=codec.req_str(fields, F.FIRE_ID, codec.MAX_ID + 24),
            id=codec.req_id(fields),
            due=codec.req_int(fields, F.DUE),
            sent=codec.req_int(fields, F.SENT),
            outcome=codec.req_choice(fields, F.OUTCOME, Outcome.ALL),
            instance=codec.req_str(fields, F.INSTANCE),
            attempt=codec.req_int(fields, F.ATTEMPT, 0, 1_000_000),
            http=codec.opt_int(fields, F.HTTP, 100, 599),
            job=fields.get(F.JOB, "")[: codec.MAX_SHORT],
            detail=fields.get(F.DETAIL, "")[:DETAIL_MAX],
        )


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An entry that could not be used, set aside with the reason (``btu:{site}:dead``)."""

    source: str
    entry: str
    reason: str
    fields: dict[str, str]
    instance: str
    ts: int

    def encode(self) -> dict[str, str]:
        return {
            F.V: PROTOCOL_VERSION,
            F.SOURCE: self.source,
            F.ENTRY: self.entry,
            F.REASON: self.reason[: codec.MAX_TEXT],
            F.FIELDS: codec.dumps({k: v[: codec.MAX_TEXT] for k, v in self.fields.items()}),
            F.INSTANCE: self.instance,
            F.TS: str(self.ts),
        }

    @classmethod
    def decode(cls, raw: codec.RawFields | Any) -> DeadLetter:
        fields = codec.normalize(raw)
        codec.check_version(fields)
        original = codec.loads(F.FIELDS, codec.req_str(fields, F.FIELDS, codec.MAX_JSON))
        if not isinstance(original, dict):
            raise ProtocolError(f"field {F.FIELDS!r} is not a JSON object")
        return cls(
            source=codec.req_str(fields, F.SOURCE),
            entry=codec.req_str(fields, F.ENTRY, 64),
            reason=codec.req_str(fields, F.REASON, codec.MAX_TEXT),
            fields={str(k): str(v) for k, v in original.items()},
            instance=codec.req_str(fields, F.INSTANCE),
            ts=codec.req_int(fields, F.TS),
        )


def fire_id(item_id: str, due_ms: int) -> str:
    """``{id}@{due_ms}``: the identity of one fire of one item (PROTOCOL.md "Firing")."""
    return f"{item_id}@{due_ms}"


def job_id_for(fire: str) -> str:
    """The RQ job id derived from a fire_id: every character RQ 2 refuses becomes ``_``."""
    return "".join(c if (c.isascii() and c.isalnum()) or c in "_-" else "_" for c in fire)
