"""Messages of the wire protocol: exact wire fields, round trips and the fire/job ids
(PROTOCOL.md "Schedule change events", "Control RPC", "Firing")."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.codec import MAX_MS
from streams.messages import (
    DeadLetter,
    FireRecord,
    RpcReply,
    RpcRequest,
    ScheduleDelete,
    ScheduleUpsert,
    decode_schedule_event,
    fire_id,
    job_id_for,
)

TS = 1_795_747_880_000

CRON_UPSERT = ScheduleUpsert(
    id="TS-000001",
    kind="cron",
    task="Send Daily Report",
    enabled=True,
    ts=TS,
    cron="30 2 * * *",
    tz="America/New_York",
)
CRON_UPSERT_DISABLED = ScheduleUpsert(
    id="TS-000002",
    kind="cron",
    task="Purge Logs",
    enabled=False,
    ts=TS,
    cron="*/5 * * * * *",
    tz="UTC",
)
ONCE_UPSERT = ScheduleUpsert(
    id="RL-000001", kind="once", task="Send Invoice", enabled=True, ts=TS, at=TS + 60_000
)
ONCE_UPSERT_DISABLED = ScheduleUpsert(
    id="RL-000002", kind="once", task="Send Invoice", enabled=False, ts=TS, at=0
)
DELETE = ScheduleDelete(id="TS-000001", ts=TS + 1)
REQUEST = RpcRequest(rid="9f2c4e1ab0d34c3e8f0b7a6d5c4b3a21", cmd="ping", ts=TS, deadline=TS + 1000)
REQUEST_WITH_ARG = RpcRequest(
    rid="9f2c4e1ab0d34c3e8f0b7a6d5c4b3a22", cmd="reload", ts=TS, deadline=TS + 300, arg="TS-000001"
)
REPLY_OK = RpcReply(
    rid="9f2c4e1ab0d34c3e8f0b7a6d5c4b3a21",
    ok=True,
    ts=TS + 5,
    data={
        "instance": "host-1:4242",
        "armed": 3,
        "leader": True,
        "next_due": None,
        "next": [{"id": "TS-000001", "due": TS + 60_000}],
        "ratio": 0.25,
        "names": ["a", "é", ""],
    },
)
REPLY_OK_NULL = RpcReply(rid="r1", ok=True, ts=TS)
REPLY_FAILED = RpcReply(
    rid="9f2c4e1ab0d34c3e8f0b7a6d5c4b3a23",
    ok=False,
    ts=TS + 5,
    data={"cmd": "frobnicate"},
    error="unknown command 'frobnicate'",
)
FIRE_ENQUEUED = FireRecord(
    fire_id="TS-000001@1795747880000",
    id="TS-000001",
    due=TS,
    sent=TS + 37,
    outcome="enqueued",
    instance="host-1:4242",
    attempt=1,
    http=200,
    job="TS-000001_1795747880000",
)
DEAD = DeadLetter(
    source="btu:erp.example.com:schedules",
    entry="1795747880000-0",
    reason="missing field 'id'",
    fields={"v": "1", "op": "upsert", "weird": "\u00e9\u6f22"},
    instance="host-1:4242",
    ts=TS + 9,
)


def fire(outcome: str, http: int | None) -> FireRecord:
    return FireRecord(
        fire_id="RL-000001@1795747880000",
        id="RL-000001",
        due=TS,
        sent=TS + 1500,
        outcome=outcome,
        instance="host-2:1",
        attempt=3,
        http=http,
        job="" if http is None else "RL-000001_1795747880000",
    )


ALL_MESSAGES = [
    pytest.param(CRON_UPSERT, id="upsert-cron-enabled"),
    pytest.param(CRON_UPSERT_DISABLED, id="upsert-cron-disabled"),
    pytest.param(ONCE_UPSERT, id="upsert-once-enabled"),
    pytest.param(ONCE_UPSERT_DISABLED, id="upsert-once-disabled"),
    pytest.param(DELETE, id="delete"),
    pytest.param(REQUEST, id="rpc-request-no-arg"),
    pytest.param(REQUEST_WITH_ARG, id="rpc-request-arg"),
    pytest.param(REPLY_OK, id="rpc-reply-ok-structured"),
    pytest.param(REPLY_OK_NULL, id="rpc-reply-ok-null"),
    pytest.param(REPLY_FAILED, id="rpc-reply-failed"),
    pytest.param(FIRE_ENQUEUED, id="fire-enqueued"),
    *[
        pytest.param(fire(outcome, http), id=f"fire-{outcome}-http-{http}")
        for outcome in ("enqueued", "duplicate", "retrying", "failed", "missed")
        for http in (None, 200, 503)
    ],
    pytest.param(DEAD, id="dead-letter"),
    pytest.param(
        DeadLetter(source="s", entry="0-1", reason="r", fields={}, instance="i", ts=0),
        id="dead-letter-empty-fields",
    ),
]


def as_bytes(fields: dict[str, str]) -> dict[bytes, bytes]:
    return {k.encode(): v.encode() for k, v in fields.items()}


class TestRoundTrip:
    """encode() then decode() gives back the message that was encoded."""

    @pytest.mark.parametrize("message", ALL_MESSAGES)
    def test_decode_of_encode_is_identity(self, message: Any) -> None:
        """Decoding the str fields produced by encode() returns an equal message."""
        assert message == type(message).decode(message.encode())

    @pytest.mark.parametrize("message", ALL_MESSAGES)
    def test_decode_accepts_bytes_as_redis_py_returns(self, message: Any) -> None:
        """Decoding bytes keys and values (redis-py without decode_responses) works."""
        assert message == type(message).decode(as_bytes(message.encode()))

    @pytest.mark.parametrize("message", ALL_MESSAGES)
    def test_decode_accepts_mixed_bytes_and_str(self, message: Any) -> None:
        """Bytes keys with str values, bytearray and memoryview values all decode."""
        encoded = message.encode()
        mixed: dict[Any, Any] = {}
        for index, (k, v) in enumerate(encoded.items()):
            kinds = (v, bytearray(v.encode()), memoryview(v.encode()))
            mixed[k.encode() if index % 2 else k] = kinds[index % 3]
        assert message == type(message).decode(mixed)

    @pytest.mark.parametrize("message", ALL_MESSAGES)
    def test_unknown_fields_are_ignored(self, message: Any) -> None:
        """Fields the reader does not know (a newer writer's) do not change the result."""
        fields = {**message.encode(), "future": "x", "v2": "2", "priority": "", "zz": "{}"}
        assert message == type(message).decode(fields)

    @pytest.mark.parametrize(
        "message",
        [
            pytest.param(CRON_UPSERT, id="upsert-cron"),
            pytest.param(ONCE_UPSERT_DISABLED, id="upsert-once"),
            pytest.param(DELETE, id="delete"),
        ],
    )
    def test_decode_schedule_event_returns_the_right_type(self, message: Any) -> None:
        """decode_schedule_event dispatches on ``op`` to an upsert or a delete."""
        assert message == decode_schedule_event(as_bytes(message.encode()))


class TestWireFormat:
    """The exact field names and values on the wire (what redis-cli XRANGE shows)."""

    def test_cron_upsert_fields(self) -> None:
        """A cron upsert carries v, op, id, kind, task, cron, tz, enabled and ts."""
        assert {
            "v": "1",
            "op": "upsert",
            "id": "TS-000001",
            "kind": "cron",
            "task": "Send Daily Report",
            "cron": "30 2 * * *",
            "tz": "America/New_York",
            "enabled": "1",
            "ts": "1795747880000",
        } == CRON_UPSERT.encode()

    def test_once_upsert_fields(self) -> None:
        """A once upsert carries ``at`` instead of cron/tz; enabled=False is "0"."""
        expected = {
            "v": "1",
            "op": "upsert",
            "id": "RL-000002",
            "kind": "once",
            "task": "Send Invoice",
            "at": "0",
            "enabled": "0",
            "ts": "1795747880000",
        }
        assert expected == ONCE_UPSERT_DISABLED.encode()

    def test_delete_fields(self) -> None:
        """A delete carries only v, op, id and ts."""
        assert {"v": "1", "op": "delete", "id": "TS-000001", "ts": "1795747880001"} == (
            DELETE.encode()
        )

    def test_rpc_request_fields_without_arg(self) -> None:
        """A request without arg has no ``arg`` field at all."""
        assert {
            "v": "1",
            "rid": "9f2c4e1ab0d34c3e8f0b7a6d5c4b3a21",
            "cmd": "ping",
            "ts": "1795747880000",
            "deadline": "1795747881000",
        } == REQUEST.encode()

    def test_rpc_request_fields_with_arg(self) -> None:
        """A request with an argument carries it in ``arg``."""
        assert {
            "v": "1",
            "rid": "9f2c4e1ab0d34c3e8f0b7a6d5c4b3a22",
            "cmd": "reload",
            "arg": "TS-000001",
            "ts": "1795747880000",
            "deadline": "1795747880300",
        } == REQUEST_WITH_ARG.encode()

    def test_rpc_reply_ok_fields(self) -> None:
        """An ok reply has v, rid, ok=1, data (JSON) and ts, and no error field."""
        encoded = REPLY_OK.encode()
        assert ["data", "ok", "rid", "ts", "v"] == sorted(encoded)
        assert ("1", "1", "9f2c4e1ab0d34c3e8f0b7a6d5c4b3a21", "1795747880005") == (
            encoded["v"],
            encoded["ok"],
            encoded["rid"],
            encoded["ts"],
        )
        assert REPLY_OK.data == json.loads(encoded["data"])

    def test_rpc_reply_failed_fields(self) -> None:
        """A failed reply has ok=0 and the error text."""
        encoded = REPLY_FAILED.encode()
        assert {
            "v": "1",
            "rid": "9f2c4e1ab0d34c3e8f0b7a6d5c4b3a23",
            "ok": "0",
            "error": "unknown command 'frobnicate'",
            "ts": "1795747880005",
        } == {k: v for k, v in encoded.items() if k != "data"}
        assert {"cmd": "frobnicate"} == json.loads(encoded["data"])

    def test_rpc_reply_null_data_is_json_null(self) -> None:
        """A reply without data carries the JSON literal null."""
        assert "null" == REPLY_OK_NULL.encode()["data"]

    def test_failed_reply_without_error_text_still_says_something(self) -> None:
        """ok=0 with an empty error is written with a non-empty error text."""
        assert "unknown error" == RpcReply(rid="r", ok=False, ts=1).encode()["error"]

    def test_failed_reply_decoded_without_error_field_gets_a_reason(self) -> None:
        """A reader given ok=0 and no error field still has a reason to show."""
        reply = RpcReply.decode({"v": "1", "rid": "r", "ok": "0", "ts": "1"})
        assert (False, "the scheduler gave no reason") == (reply.ok, reply.error)

    def test_reply_without_data_field_decodes_to_none(self) -> None:
        """``data`` absent or empty means no data."""
        for data in ({}, {"data": ""}):
            assert (
                None is RpcReply.decode({"v": "1", "rid": "r", "ok": "1", "ts": "1", **data}).data
            )

    def test_fire_record_fields(self) -> None:
        """A fire record carries the 12 fields of PROTOCOL.md 1.1 (``detail`` since 1.1);
        lag_ms is sent - due."""
        assert {
            "v": "1",
            "fire_id": "TS-000001@1795747880000",
            "id": "TS-000001",
            "due": "1795747880000",
            "sent": "1795747880037",
            "lag_ms": "37",
            "outcome": "enqueued",
            "http": "200",
            "job": "TS-000001_1795747880000",
            "attempt": "1",
            "instance": "host-1:4242",
            "detail": "",
        } == FIRE_ENQUEUED.encode()

    def test_fire_record_without_http_status_has_empty_http(self) -> None:
        """A fire that never got an HTTP answer writes ``http`` as the empty string."""
        assert ("", "") == (fire("missed", None).encode()["http"], fire("missed", None).job)

    def test_dead_letter_fields(self) -> None:
        """A dead letter keeps the source, entry id, reason and the original fields as JSON."""
        encoded = DEAD.encode()
        assert {
            "v": "1",
            "source": "btu:erp.example.com:schedules",
            "entry": "1795747880000-0",
            "reason": "missing field 'id'",
            "instance": "host-1:4242",
            "ts": "1795747880009",
        } == {k: v for k, v in encoded.items() if k != "fields"}
        assert DEAD.fields == json.loads(encoded["fields"])

    @pytest.mark.parametrize("message", ALL_MESSAGES)
    def test_every_wire_value_is_a_string_and_v_is_one(self, message: Any) -> None:
        """Entries are flat maps of strings and every one carries v="1"."""
        encoded = message.encode()
        assert "1" == encoded["v"]
        assert [] == [(k, v) for k, v in encoded.items() if not isinstance(v, str)]

    @pytest.mark.parametrize(
        ("message", "field"),
        [
            pytest.param(CRON_UPSERT, "ts", id="upsert-ts"),
            pytest.param(ONCE_UPSERT, "at", id="upsert-at"),
            pytest.param(REQUEST, "deadline", id="request-deadline"),
            pytest.param(FIRE_ENQUEUED, "due", id="fire-due"),
            pytest.param(FIRE_ENQUEUED, "sent", id="fire-sent"),
            pytest.param(FIRE_ENQUEUED, "attempt", id="fire-attempt"),
        ],
    )
    def test_integers_are_plain_decimal_strings(self, message: Any, field: str) -> None:
        """Integers are written as ASCII decimal digits without sign, spaces or separators."""
        assert re.fullmatch(r"[0-9]+", message.encode()[field]) is not None


class TestFireAndJobIds:
    """fire_id and the RQ job id derived from it (PROTOCOL.md "Firing" steps 1 and 4)."""

    def test_fire_id_example_from_protocol(self) -> None:
        """fire_id is ``{id}@{due_ms}``."""
        assert "TS-000001@1795747880000" == fire_id("TS-000001", 1795747880000)

    def test_job_id_example_from_protocol(self) -> None:
        """The job id replaces '@' with '_'."""
        assert "TS-000001_1795747880000" == job_id_for("TS-000001@1795747880000")

    @pytest.mark.parametrize(
        ("fire", "expected"),
        [
            pytest.param("a.b@1", "a_b_1", id="dot"),
            pytest.param("a b@1", "a_b_1", id="space"),
            pytest.param("a/b:c@1", "a_b_c_1", id="slash-colon"),
            pytest.param("Café@1", "Caf__1", id="non-ascii-letter"),
            pytest.param("x\u0663@1", "x__1", id="non-ascii-digit"),
            pytest.param("x\U0001f600@1", "x__1", id="emoji"),
            pytest.param("A-z_0-9@1", "A-z_0-9_1", id="allowed-kept"),
            pytest.param("a\tb\n@1", "a_b__1", id="control"),
        ],
    )
    def test_other_characters_become_underscores(self, fire: str, expected: str) -> None:
        """Every character other than ASCII letters, digits, '_' and '-' becomes one '_'."""
        assert expected == job_id_for(fire)

    @settings(max_examples=200, deadline=None)
    @given(st.text(max_size=30), st.integers(min_value=0, max_value=MAX_MS))
    def test_job_id_is_always_acceptable_to_rq(self, item_id: str, due: int) -> None:
        """For any id, the job id has only RQ-safe characters and one per input character."""
        fid = fire_id(item_id, due)
        job = job_id_for(fid)
        assert re.fullmatch(r"[A-Za-z0-9_-]*", job) is not None
        assert len(fid) == len(job)
        assert job.endswith(f"_{due}")


# Values the decoders accept: no control characters in ids, nothing blank, within limits.
ids = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40
).filter(str.strip)


def texts(limit: int) -> st.SearchStrategy[str]:
    """Non-blank text within ``limit``; the limits themselves are tested one by one in
    test_protocol_malformed.py, so long values are not generated here (speed)."""
    return st.text(min_size=1, max_size=min(limit, 40)).filter(str.strip)


millis = st.integers(min_value=0, max_value=MAX_MS)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

cron_upserts = st.builds(
    ScheduleUpsert,
    id=ids,
    kind=st.just("cron"),
    task=texts(140),
    enabled=st.booleans(),
    ts=millis,
    cron=texts(256),
    tz=texts(64),
)
once_upserts = st.builds(
    ScheduleUpsert,
    id=ids,
    kind=st.just("once"),
    task=texts(140),
    enabled=st.booleans(),
    ts=millis,
    at=millis,
)
deletes = st.builds(ScheduleDelete, id=ids, ts=millis)
requests = st.builds(
    RpcRequest,
    rid=ids,
    cmd=texts(64),
    ts=millis,
    deadline=millis,
    arg=st.none() | texts(256),
)
replies = st.one_of(
    st.builds(RpcReply, rid=ids, ok=st.just(True), ts=millis, data=json_values),
    st.builds(RpcReply, rid=ids, ok=st.just(False), ts=millis, data=json_values, error=texts(200)),
)
fires = st.builds(
    FireRecord,
    fire_id=texts(164),
    id=ids,
    due=millis,
    sent=millis,
    outcome=st.sampled_from(["enqueued", "duplicate", "retrying", "failed", "missed"]),
    instance=texts(256),
    attempt=st.integers(min_value=0, max_value=1_000_000),
    http=st.none() | st.integers(min_value=100, max_value=599),
    job=st.text(max_size=40),
)
dead_letters = st.builds(
    DeadLetter,
    source=texts(256),
    entry=texts(64),
    reason=texts(500),
    fields=st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=5),
    instance=texts(256),
    ts=millis,
)


@settings(max_examples=200, deadline=None)
@given(
    message=st.one_of(cron_upserts, once_upserts, deletes, requests, replies, fires, dead_letters),
    raw_bytes=st.booleans(),
)
def test_any_valid_message_round_trips(message: Any, raw_bytes: bool) -> None:
    """Every message within the protocol's limits decodes back to itself, str or bytes."""
    encoded = message.encode()
    assert message == type(message).decode(as_bytes(encoded) if raw_bytes else encoded)
