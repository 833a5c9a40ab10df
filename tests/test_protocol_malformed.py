"""Malformed entries: every decoder raises ProtocolError naming the field, and nothing else
(PROTOCOL.md: readers dead-letter what they cannot parse instead of crashing)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.codec import MAX_JSON, MAX_MS
from streams.errors import ProtocolError
from streams.keys import F
from streams.messages import (
    DeadLetter,
    FireRecord,
    RpcReply,
    RpcRequest,
    ScheduleDelete,
    ScheduleUpsert,
    decode_schedule_event,
)
from streams.publish import decode_state_value

STATE_ID = "TS-000001"

UPSERT_CRON = {
    "v": "1",
    "op": "upsert",
    "id": STATE_ID,
    "kind": "cron",
    "task": "Send Daily Report",
    "cron": "30 2 * * *",
    "tz": "America/New_York",
    "enabled": "1",
    "ts": "1795747880000",
}
UPSERT_ONCE = {
    "v": "1",
    "op": "upsert",
    "id": STATE_ID,
    "kind": "once",
    "task": "Send Invoice",
    "at": "1795747940000",
    "enabled": "0",
    "ts": "1795747880000",
}
DELETE = {"v": "1", "op": "delete", "id": STATE_ID, "ts": "1795747880000"}
REQUEST = {
    "v": "1",
    "rid": "9f2c4e1ab0d34c3e8f0b7a6d5c4b3a21",
    "cmd": "reload",
    "arg": STATE_ID,
    "ts": "1795747880000",
    "deadline": "1795747881000",
}
REPLY = {
    "v": "1",
    "rid": "9f2c4e1ab0d34c3e8f0b7a6d5c4b3a21",
    "ok": "0",
    "data": '{"id": "TS-000001"}',
    "error": "no such item",
    "ts": "1795747880005",
}
FIRE = {
    "v": "1",
    "fire_id": "TS-000001@1795747880000",
    "id": STATE_ID,
    "due": "1795747880000",
    "sent": "1795747880037",
    "lag_ms": "37",
    "outcome": "enqueued",
    "http": "200",
    "job": "TS-000001_1795747880000",
    "attempt": "1",
    "instance": "host-1:4242",
}
DEAD = {
    "v": "1",
    "source": "btu:erp.example.com:schedules",
    "entry": "1795747880000-0",
    "reason": "missing field 'id'",
    "fields": '{"v": "1", "op": "upsert"}',
    "instance": "host-1:4242",
    "ts": "1795747880009",
}


def decode_state(raw: Any) -> Any:
    return decode_state_value(STATE_ID, raw)


DECODERS: dict[str, Callable[[Any], Any]] = {
    "event": decode_schedule_event,
    "upsert": ScheduleUpsert.decode,
    "delete": ScheduleDelete.decode,
    "request": RpcRequest.decode,
    "reply": RpcReply.decode,
    "fire": FireRecord.decode,
    "dead": DeadLetter.decode,
    "state": decode_state,
}


@dataclass(frozen=True)
class Target:
    """One decoder fed one valid baseline entry, and what the protocol requires of it."""

    name: str
    decoder: str
    base: dict[str, str]
    required: tuple[str, ...]
    ints: dict[str, bool]  # integer field -> whether it may be empty
    bools: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    limits: dict[str, int] = field(default_factory=dict)
    texts: tuple[str, ...] = ()

    @property
    def json_only(self) -> bool:
        return self.decoder == "state"


def upsert_targets(decoder: str) -> list[Target]:
    cron = Target(
        f"{decoder}-cron",
        decoder,
        UPSERT_CRON,
        required=("v", "op", "id", "kind", "task", "cron", "tz", "enabled", "ts"),
        ints={"ts": False},
        bools=("enabled",),
        choices=("op", "kind"),
        limits={"id": 140, "task": 140, "cron": 256, "tz": 64},
        texts=("id", "task", "cron", "tz"),
    )
    once = Target(
        f"{decoder}-once",
        decoder,
        UPSERT_ONCE,
        required=("v", "op", "id", "kind", "task", "at", "enabled", "ts"),
        ints={"ts": False, "at": False},
        bools=("enabled",),
        choices=("op", "kind"),
        limits={"id": 140, "task": 140},
        texts=("id", "task"),
    )
    return [cron, once]


def delete_target(decoder: str) -> Target:
    return Target(
        f"{decoder}-delete",
        decoder,
        DELETE,
        required=("v", "op", "id", "ts"),
        ints={"ts": False},
        choices=("op",),
        limits={"id": 140},
        texts=("id",),
    )


TARGETS = [
    *upsert_targets("event"),
    delete_target("event"),
    *upsert_targets("upsert"),
    delete_target("delete"),
    *upsert_targets("state"),
    Target(
        "request",
        "request",
        REQUEST,
        required=("v", "rid", "cmd", "ts", "deadline"),
        ints={"ts": False, "deadline": False},
        limits={"rid": 140, "cmd": 64, "arg": 256},
        texts=("rid", "cmd"),
    ),
    Target(
        "reply",
        "reply",
        REPLY,
        required=("v", "rid", "ok", "ts"),
        ints={"ts": False},
        bools=("ok",),
        limits={"rid": 140},
        texts=("rid",),
    ),
    Target(
        "fire",
        "fire",
        FIRE,
        required=("v", "fire_id", "id", "due", "sent", "outcome", "attempt", "instance"),
        ints={"due": False, "sent": False, "attempt": False, "http": True},
        choices=("outcome",),
        limits={"fire_id": 164, "id": 140, "instance": 256},
        texts=("fire_id", "id", "instance"),
    ),
    Target(
        "dead",
        "dead",
        DEAD,
        required=("v", "source", "entry", "reason", "fields", "instance", "ts"),
        ints={"ts": False},
        limits={"source": 256, "entry": 64, "reason": 8192, "instance": 256},
        texts=("source", "entry", "reason", "fields", "instance"),
    ),
]

BAD_INTEGERS = [
    ("negative", "-1"),
    ("float", "1.5"),
    ("float-zero", "12.0"),
    ("exponent", "1e3"),
    ("underscore", "1_000"),
    ("leading-space", " 12"),
    ("trailing-space", "12 "),
    ("plus", "+12"),
    ("hex", "0x1F"),
    ("word", "twelve"),
    ("thousands", "1,000"),
    ("double-minus", "--1"),
    ("minus-only", "-"),
    ("huge", "9" * 40),
    ("over-max", str(MAX_MS + 1)),
    ("int64-overflow", "18446744073709551617"),
]
BAD_BOOLEANS = ["2", "true", "True", "yes", "on", "", " 1", "01", "-1", "1.0", "0 "]
BAD_CHOICES = {
    "op": ["insert", "UPSERT", "", "upsert ", "del"],
    "kind": ["daily", "CRON", "", "at"],
    "outcome": ["ok", "ENQUEUED", "", "succeeded"],
}
BAD_VERSIONS = ["2", "0", "", "1.0", "01", " 1", "v1"]
NOT_MAPPINGS = [
    ("none", None, "NoneType"),
    ("empty-list", [], "list"),
    ("list-of-pairs", [("v", "1"), ("id", "x")], "list"),
    ("int", 1, "int"),
    ("float", 1.5, "float"),
    ("str", "v=1", "str"),
    ("bytes", b"v=1", "bytes"),
    ("set", {"v"}, "set"),
]


def q(name: str) -> str:
    """How error messages quote a field name: its repr, e.g. 'id'."""
    return repr(name)


def state_raw(fields: dict[Any, Any]) -> bytes:
    return orjson.dumps(fields)


def row(target: Target, case: str, fields: dict[Any, Any], token: str) -> Any:
    raw = state_raw(fields) if target.json_only else fields
    return pytest.param(target.decoder, raw, token, id=f"{target.name}-{case}")


def changed(base: dict[str, str], **changes: Any) -> dict[Any, Any]:
    return {**base, **changes}


def without(base: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in base.items() if k != name}


def field_rows(t: Target) -> list[Any]:
    rows = [row(t, f"missing-{f}", without(t.base, f), q(f)) for f in t.required]
    rows += [row(t, f"v-{v!r}", changed(t.base, v=v), q("v")) for v in BAD_VERSIONS]
    for f, may_be_empty in t.ints.items():
        for label, value in BAD_INTEGERS:
            rows.append(row(t, f"{f}-{label}", changed(t.base, **{f: value}), q(f)))
        if not may_be_empty:
            rows.append(row(t, f"{f}-empty", changed(t.base, **{f: ""}), q(f)))
    for f in t.bools:
        rows += [row(t, f"{f}-{v!r}", changed(t.base, **{f: v}), q(f)) for v in BAD_BOOLEANS]
    for f in t.choices:
        rows += [row(t, f"{f}-{v!r}", changed(t.base, **{f: v}), q(f)) for v in BAD_CHOICES[f]]
    for f, limit in t.limits.items():
        rows.append(row(t, f"{f}-oversize", changed(t.base, **{f: "x" * (limit + 1)}), q(f)))
    for f in t.texts:
        rows.append(row(t, f"{f}-empty", changed(t.base, **{f: ""}), q(f)))
        rows.append(row(t, f"{f}-blank", changed(t.base, **{f: "   "}), q(f)))
    for f in ("id", "rid"):
        if f in t.base:
            rows.append(row(t, f"{f}-nul", changed(t.base, **{f: "TS\x00001"}), q(f)))
            rows.append(row(t, f"{f}-newline", changed(t.base, **{f: "TS-1\nTS-2"}), q(f)))
            rows.append(row(t, f"{f}-del-char", changed(t.base, **{f: "TS\x7f1"}), q(f)))
    # Values of the wrong JSON/Python type (a state hash value may hold any JSON).
    first_int = next(iter(t.ints))
    rows.append(row(t, f"{first_int}-int-type", changed(t.base, **{first_int: 5}), q(first_int)))
    rows.append(row(t, "v-null-type", changed(t.base, v=None), q("v")))
    rows.append(row(t, "v-list-type", changed(t.base, v=["1"]), q("v")))
    return rows


def bytes_rows(t: Target) -> list[Any]:
    """Rows only a field map (not a JSON state value) can carry: bytes and odd keys."""
    name_field = next(f for f in ("id", "rid", "fire_id", "source") if f in t.base)
    return [
        row(
            t,
            f"{name_field}-invalid-utf8",
            changed(t.base, **{name_field: b"\xff\xfe"}),
            q(name_field),
        ),
        row(t, "v-invalid-utf8", changed(t.base, v=b"\xc3\x28"), q("v")),
        row(t, "field-name-invalid-utf8", {**t.base, b"\xffid": "x"}, "field name"),
        row(t, "field-name-int", {**t.base, 7: "x"}, "field name"),
        row(t, "field-name-none", {**t.base, None: "x"}, "field name"),
        row(t, f"{name_field}-float-type", changed(t.base, **{name_field: 1.5}), q(name_field)),
    ] + [
        pytest.param(t.decoder, value, token, id=f"{t.name}-not-a-mapping-{label}")
        for label, value, token in NOT_MAPPINGS
    ]


SPECIFIC_ROWS = [
    # Cron items need a zone, once items an instant (PROTOCOL.md table "ops").
    pytest.param("event", without(UPSERT_CRON, "tz"), q("tz"), id="event-cron-without-tz"),
    pytest.param("upsert", without(UPSERT_CRON, "tz"), q("tz"), id="upsert-cron-without-tz"),
    pytest.param("event", without(UPSERT_ONCE, "at"), q("at"), id="event-once-without-at"),
    pytest.param("upsert", without(UPSERT_ONCE, "at"), q("at"), id="upsert-once-without-at"),
    pytest.param(
        "event", changed(UPSERT_ONCE, kind="cron"), q("cron"), id="event-cron-kind-with-at-only"
    ),
    pytest.param(
        "event", changed(UPSERT_CRON, kind="once"), q("at"), id="event-once-kind-with-cron-only"
    ),
    pytest.param(
        "state",
        state_raw(without(UPSERT_CRON, "tz")),
        q("tz"),
        id="state-cron-without-tz",
    ),
    pytest.param(
        "state",
        state_raw(without(UPSERT_ONCE, "at")),
        q("at"),
        id="state-once-without-at",
    ),
    # The right decoder for the wrong op.
    pytest.param("upsert", DELETE, q("op"), id="upsert-given-delete"),
    pytest.param("delete", UPSERT_CRON, q("op"), id="delete-given-upsert"),
    pytest.param("state", state_raw(DELETE), q(STATE_ID), id="state-holds-delete"),
    pytest.param(
        "state",
        state_raw(changed(UPSERT_CRON, id="TS-000009")),
        q(STATE_ID),
        id="state-holds-other-id",
    ),
    # RPC request: a blank argument is not "no argument".
    pytest.param("request", changed(REQUEST, arg="   "), q("arg"), id="request-arg-blank"),
    # RPC reply data must be JSON; fire http must be an HTTP status.
    *[
        pytest.param("reply", changed(REPLY, data=v), q("data"), id=f"reply-data-{label}")
        for label, v in [
            ("unterminated-object", "{"),
            ("word", "nope"),
            ("trailing-comma", "[1,"),
            ("single-quotes", "{'a': 1}"),
            ("nan", "NaN"),
            ("too-deep", "[" * 2000 + "]" * 2000),
            ("oversize", '"' + "x" * MAX_JSON + '"'),
        ]
    ],
    *[
        pytest.param("fire", changed(FIRE, http=v), q("http"), id=f"fire-http-{label}")
        for label, v in [("99", "99"), ("600", "600"), ("float", "200.0"), ("word", "OK")]
    ],
    pytest.param("fire", changed(FIRE, attempt="1000001"), q("attempt"), id="fire-attempt-over"),
    # Dead letter: the original fields are a JSON object.
    *[
        pytest.param("dead", changed(DEAD, fields=v), q("fields"), id=f"dead-fields-{label}")
        for label, v in [
            ("array", "[]"),
            ("string", '"x"'),
            ("null", "null"),
            ("number", "1"),
            ("true", "true"),
            ("unterminated", "{"),
            ("word", "not json"),
            ("oversize", '{"a": "' + "x" * MAX_JSON + '"}'),
        ]
    ],
    # State hash values that are not JSON objects at all.
    *[
        pytest.param("state", raw, q(STATE_ID), id=f"state-not-object-{label}")
        for label, raw in [
            ("array", b"[]"),
            ("string", b'"upsert"'),
            ("null", b"null"),
            ("number", b"1"),
            ("invalid-json", b"{"),
            ("empty", b""),
            ("word", "not json"),
            ("invalid-utf8", b'{"v": "1", "id": "\xff"}'),
            ("none", None),
            ("int", 5),
            ("list", []),
        ]
    ],
    pytest.param(
        "state",
        state_raw(changed(UPSERT_CRON, tz={"name": "UTC"})),
        q("tz"),
        id="state-tz-object",
    ),
]

ROWS = [
    *[r for t in TARGETS for r in field_rows(t)],
    *[r for t in TARGETS if not t.json_only for r in bytes_rows(t)],
    *SPECIFIC_ROWS,
]


@pytest.mark.parametrize(("decoder", "raw", "token"), ROWS)
def test_malformed_entry_raises_protocol_error_naming_the_field(
    decoder: str, raw: Any, token: str
) -> None:
    """A malformed entry raises ProtocolError (nothing else) whose message names the field."""
    with pytest.raises(ProtocolError) as info:
        DECODERS[decoder](raw)
    assert token in str(info.value)


@pytest.mark.parametrize(
    ("decoder", "raw", "name"),
    [
        pytest.param("event", changed(UPSERT_CRON, ts="\u00b2"), "ts", id="event-ts-superscript"),
        pytest.param(
            "upsert", changed(UPSERT_ONCE, at="\u0661\u0662"), "at", id="upsert-at-arabic"
        ),
        pytest.param(
            "request", changed(REQUEST, deadline="\uff11\uff12"), "deadline", id="request-fullwidth"
        ),
        pytest.param("reply", changed(REPLY, ts="\U0001d7d9"), "ts", id="reply-ts-math-digit"),
        pytest.param(
            "fire", changed(FIRE, http="\u00b2\u2070\u2070"), "http", id="fire-http-super"
        ),
        pytest.param("fire", changed(FIRE, attempt="\u0663"), "attempt", id="fire-attempt-arabic"),
        pytest.param("dead", changed(DEAD, ts="\u00b9"), "ts", id="dead-ts-superscript"),
        pytest.param(
            "state", state_raw(changed(UPSERT_CRON, ts="\u0967")), "ts", id="state-ts-devanagari"
        ),
    ],
)
def test_integers_must_be_ascii_digits(decoder: str, raw: Any, name: str) -> None:
    """Non-ASCII digits (superscripts, Arabic-Indic, fullwidth) are not wire integers:
    they raise ProtocolError naming the field rather than ValueError or a silent parse."""
    with pytest.raises(ProtocolError) as info:
        DECODERS[decoder](raw)
    assert q(name) in str(info.value)


@pytest.mark.parametrize(
    ("decoder", "raw", "attribute", "expected"),
    [
        pytest.param("event", changed(UPSERT_CRON, id="x" * 140), "id", "x" * 140, id="id-140"),
        pytest.param(
            "event", changed(UPSERT_CRON, task="t" * 140), "task", "t" * 140, id="task-140"
        ),
        pytest.param(
            "event", changed(UPSERT_CRON, cron="c" * 256), "cron", "c" * 256, id="cron-256"
        ),
        pytest.param("event", changed(UPSERT_CRON, tz="z" * 64), "tz", "z" * 64, id="tz-64"),
        pytest.param("event", changed(UPSERT_CRON, ts=str(MAX_MS)), "ts", MAX_MS, id="ts-max"),
        pytest.param("event", changed(UPSERT_ONCE, at="0"), "at", 0, id="at-zero"),
        pytest.param("request", changed(REQUEST, rid="r" * 140), "rid", "r" * 140, id="rid-140"),
        pytest.param("request", changed(REQUEST, cmd="c" * 64), "cmd", "c" * 64, id="cmd-64"),
        pytest.param("request", changed(REQUEST, arg="a" * 256), "arg", "a" * 256, id="arg-256"),
        pytest.param("request", changed(REQUEST, arg=""), "arg", None, id="arg-empty-is-none"),
        pytest.param("request", without(REQUEST, "arg"), "arg", None, id="arg-absent-is-none"),
        pytest.param(
            "fire", changed(FIRE, fire_id="f" * 164), "fire_id", "f" * 164, id="fire-id-164"
        ),
        pytest.param("fire", changed(FIRE, http=""), "http", None, id="http-empty"),
        pytest.param("fire", without(FIRE, "http"), "http", None, id="http-absent"),
        pytest.param("fire", changed(FIRE, http="100"), "http", 100, id="http-100"),
        pytest.param("fire", changed(FIRE, http="599"), "http", 599, id="http-599"),
        pytest.param(
            "fire", changed(FIRE, attempt="1000000"), "attempt", 1_000_000, id="attempt-max"
        ),
        pytest.param("fire", changed(FIRE, attempt="0"), "attempt", 0, id="attempt-zero"),
        pytest.param(
            "fire", changed(FIRE, instance="i" * 256), "instance", "i" * 256, id="inst-256"
        ),
        pytest.param("dead", changed(DEAD, entry="e" * 64), "entry", "e" * 64, id="entry-64"),
        pytest.param(
            "dead", changed(DEAD, reason="r" * 8192), "reason", "r" * 8192, id="reason-8192"
        ),
    ],
)
def test_values_at_the_limit_are_accepted(
    decoder: str, raw: Any, attribute: str, expected: Any
) -> None:
    """Values exactly at a field's limit (or optional fields left empty) decode."""
    assert expected == getattr(DECODERS[decoder](raw), attribute)


def test_invalid_utf8_error_keeps_the_cause() -> None:
    """The UnicodeDecodeError is chained as the cause of the ProtocolError."""
    with pytest.raises(ProtocolError) as info:
        RpcRequest.decode(changed(REQUEST, cmd=b"\xff"))
    assert UnicodeDecodeError is type(info.value.__cause__)


# Property: whatever arrives, the only exception is ProtocolError.

FIELD_NAMES = sorted(
    {value for name, value in vars(F).items() if name.isupper() and isinstance(value, str)}
    | {"future", ""}
)
NEAR_VALID = [
    "1", "0", "2", "", " ", "-1", "1_000", " 12", "1.5", "1e3", "9" * 25, str(MAX_MS),
    str(MAX_MS + 1), "\u00b2", "\u00b9\u2070", "\u00b3", "1\u00b2", "\u2079", "\u0661",
    "\uff11", "upsert", "delete", "cron", "once", "enqueued", "duplicate", "retrying",
    "failed", "missed", "ping", "30 2 * * *", "UTC", "America/New_York", STATE_ID, "TS\x00",
    "x" * 141, "x" * 257, "{}", "[]", "null", '{"a": 1}', "{", "200", "599", "600", "true",
]  # fmt: skip
BASELINES = [UPSERT_CRON, UPSERT_ONCE, DELETE, REQUEST, REPLY, FIRE, DEAD]
STATE_BASELINES = [0, 1]  # indexes of the upserts in BASELINES

# Indexes keep the strategies' reprs (printed with a failing example) short.


def near_value(index: int) -> str:
    return NEAR_VALID[index]


near = st.integers(0, len(NEAR_VALID) - 1).map(near_value)
texts = near | st.text(max_size=8)
field_names = st.sampled_from(FIELD_NAMES) | st.text(max_size=4)
raw_values = near | near | near.map(str.encode) | st.text(max_size=8) | st.binary(max_size=6)
json_values = near | st.text(max_size=8) | st.integers(-(2**63), 2**63 - 1) | st.none()


def as_raw(entry: dict[str, Any], mode: int) -> dict[Any, Any]:
    """mode 0: str as given; 1: all bytes; 2: bytes for every other key and value."""
    if mode == 0:
        return entry
    return {
        (k.encode() if mode == 1 or n % 2 else k): (
            v.encode() if isinstance(v, str) and (mode == 1 or not n % 2) else v
        )
        for n, (k, v) in enumerate(entry.items())
    }


def mutate(index: int, drops: set[str], changes: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {k: v for k, v in BASELINES[index].items() if k not in drops}
    entry.update(changes)
    return entry


def near_valid(
    indexes: list[int], single: st.SearchStrategy[Any], values: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """A valid baseline with up to two fields dropped and one to three set, the set ones
    mostly the baseline's own fields."""
    variants = []
    for index in indexes:
        own = st.sampled_from(sorted(BASELINES[index]))
        names = own | own | st.sampled_from(FIELD_NAMES)
        # One of its own fields set to a near-valid value: the likeliest real mistake.
        one = st.dictionaries(own, single, min_size=1, max_size=1)
        variants.append(st.builds(mutate, st.just(index), st.just(set()), one))
        variants.append(
            st.builds(
                mutate,
                st.just(index),
                st.sets(own, max_size=2),
                st.dictionaries(names, values, min_size=1, max_size=3),
            )
        )
    return st.one_of(variants)


mutated_maps = st.builds(
    as_raw,
    near_valid(list(range(len(BASELINES))), near | near.map(str.encode), raw_values),
    st.integers(0, 2),
)
field_maps = st.one_of(
    mutated_maps,
    mutated_maps,
    mutated_maps,
    st.dictionaries(field_names | field_names.map(str.encode) | st.binary(max_size=4),
                    raw_values, max_size=12),
    st.none() | st.integers() | st.lists(near, max_size=3) | texts | st.binary(max_size=8),
)  # fmt: skip
state_entries = near_valid(STATE_BASELINES, near, json_values)
state_values = st.one_of(
    state_entries.map(orjson.dumps),
    state_entries.map(orjson.dumps),
    state_entries.map(lambda d: orjson.dumps(d).decode()),
    st.binary(max_size=40),
    st.text(max_size=40),
    st.dictionaries(st.text(max_size=6), json_values, max_size=6).map(orjson.dumps),
)


def escaped(decoders: list[str], raw: Any) -> list[tuple[str, str]]:
    """(decoder, exception) for every decoder that raised something other than ProtocolError."""
    out = []
    for name in decoders:
        try:
            DECODERS[name](raw)
        except ProtocolError:
            pass
        except Exception as e:
            out.append((name, f"{type(e).__name__}: {e}"))
    return out


@settings(max_examples=300, deadline=None)
@given(raw=field_maps)
def test_field_map_decoders_raise_only_protocol_error(raw: Any) -> None:
    """Every field-map decoder, given arbitrary (mostly near-valid) input, returns a
    message or raises ProtocolError: never KeyError, ValueError, TypeError and the like."""
    assert [] == escaped([name for name in DECODERS if name != "state"], raw)


@settings(max_examples=300, deadline=None)
@given(raw=state_values)
def test_state_decoder_raises_only_protocol_error(raw: Any) -> None:
    """decode_state_value, given arbitrary (mostly near-valid) JSON, returns an upsert or
    raises ProtocolError."""
    assert [] == escaped(["state"], raw)
