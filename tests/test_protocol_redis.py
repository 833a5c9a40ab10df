"""The protocol against Redis: publishing, the atomic snapshot, blocking reads and the
control RPC (PROTOCOL.md "Schedule change events" and "Control RPC").

Tests that use ``any_redis`` hold on fakeredis too; those that use ``real_redis`` depend on
a real server's behaviour (MULTI/EXEC under concurrency, BLOCK, socket timeouts, TTLs).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

import streams.publish
from streams.errors import RpcFailed, RpcTimeout
from streams.keys import Keys
from streams.messages import RpcReply, RpcRequest, ScheduleDelete, ScheduleUpsert
from streams.publish import (
    PublishAllResult,
    Snapshot,
    decode_state_value,
    publish_all,
    publish_delete,
    publish_upsert,
    snapshot,
)
from streams.redisio import block_ms, xread
from streams.rpc import RpcClient, send_reply

TS = 1_795_747_880_000


def cron(item_id: str, expr: str = "30 2 * * *", enabled: bool = True) -> ScheduleUpsert:
    return ScheduleUpsert(
        id=item_id,
        kind="cron",
        task="Send Daily Report",
        enabled=enabled,
        ts=TS,
        cron=expr,
        tz="Europe/London",
    )


def once(item_id: str, at: int = TS + 60_000) -> ScheduleUpsert:
    return ScheduleUpsert(id=item_id, kind="once", task="Send Invoice", enabled=True, ts=TS, at=at)


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def stream(r: redis.Redis, key: str) -> list[tuple[str, dict[str, str]]]:
    """Every entry of a stream as text."""
    return [
        (as_text(eid), {as_text(k): as_text(v) for k, v in fields.items()})
        for eid, fields in r.xrange(key)
    ]


def state(r: redis.Redis, keys: Keys) -> dict[str, dict[str, str]]:
    """The state hash with each value parsed from JSON."""
    return {as_text(k): orjson.loads(v) for k, v in r.hgetall(keys.state).items()}


def order(entry_id: str) -> tuple[int, int]:
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


def reply_keys(r: redis.Redis, keys: Keys) -> list[bytes]:
    return list(r.scan_iter(match=keys.rpc_reply("*"), count=1000))


class TestPublish:
    """publish_upsert / publish_delete / publish_all write the stream and the state hash."""

    def test_upsert_writes_stream_entry_and_state(self, any_redis: redis.Redis, keys: Keys) -> None:
        """The entry has the upsert's fields; the state value is the JSON of those fields."""
        upsert = cron("TS-000001")
        entry_id = publish_upsert(any_redis, keys, upsert)
        assert [(entry_id, upsert.encode())] == stream(any_redis, keys.schedules)
        assert {"TS-000001": upsert.encode()} == state(any_redis, keys)

    def test_state_value_is_exactly_the_entry_as_json(
        self, any_redis: redis.Redis, keys: Keys
    ) -> None:
        """The hash value is a JSON object of the same string fields as the entry."""
        upsert = once("RL-000001")
        publish_upsert(any_redis, keys, upsert)
        [(_, fields)] = stream(any_redis, keys.schedules)
        assert fields == orjson.loads(any_redis.hget(keys.state, "RL-000001"))

    def test_second_upsert_replaces_state_and_appends(
        self, any_redis: redis.Redis, keys: Keys
    ) -> None:
        """A later upsert of the same id replaces its state; both entries stay in the stream."""
        first, second = cron("TS-000001"), cron("TS-000001", "0 9 * * MON", enabled=False)
        first_id = publish_upsert(any_redis, keys, first)
        second_id = publish_upsert(any_redis, keys, second)
        assert [(first_id, first.encode()), (second_id, second.encode())] == stream(
            any_redis, keys.schedules
        )
        assert {"TS-000001": second.encode()} == state(any_redis, keys)

    def test_delete_removes_state_and_appends_delete(
        self, any_redis: redis.Redis, keys: Keys
    ) -> None:
        """A delete drops the id from the state hash and adds a delete entry."""
        publish_upsert(any_redis, keys, cron("TS-000001"))
        publish_upsert(any_redis, keys, cron("TS-000002"))
        delete = ScheduleDelete(id="TS-000001", ts=TS + 5)
        entry_id = publish_delete(any_redis, keys, delete)
        assert (entry_id, delete.encode()) == stream(any_redis, keys.schedules)[-1]
        assert ["TS-000002"] == sorted(state(any_redis, keys))

    def test_delete_of_unknown_id_is_still_published(
        self, any_redis: redis.Redis, keys: Keys
    ) -> None:
        """Deleting an id the hash does not hold still tells readers (it may be armed)."""
        delete = ScheduleDelete(id="RL-404", ts=TS)
        entry_id = publish_delete(any_redis, keys, delete)
        assert [(entry_id, delete.encode())] == stream(any_redis, keys.schedules)
        assert {} == state(any_redis, keys)

    def test_publish_all_makes_state_equal_the_upserts(
        self, any_redis: redis.Redis, keys: Keys
    ) -> None:
        """Stale ids get a delete, wanted ids an upsert, and the hash ends equal to them."""
        for item_id in ("TS-A", "TS-B", "TS-C"):
            publish_upsert(any_redis, keys, cron(item_id))
        before = len(stream(any_redis, keys.schedules))
        wanted = [cron("TS-B", "0 9 * * *"), once("RL-D")]
        result = publish_all(any_redis, keys, wanted, ts=TS + 9)
        assert PublishAllResult(upserts=2, deletes=2) == result
        assert {u.id: u.encode() for u in wanted} == state(any_redis, keys)
        new = [fields for _, fields in stream(any_redis, keys.schedules)[before:]]
        deletes = [ScheduleDelete(id=i, ts=TS + 9).encode() for i in ("TS-A", "TS-C")]
        by_id = sorted((f for f in new if f["op"] == "delete"), key=lambda f: f["id"])
        assert deletes == by_id
        assert [u.encode() for u in wanted] == [f for f in new if f["op"] == "upsert"]

    def test_publish_all_of_nothing_deletes_everything(
        self, any_redis: redis.Redis, keys: Keys
    ) -> None:
        """Republishing an empty set empties the state hash and announces each delete."""
        publish_upsert(any_redis, keys, cron("TS-A"))
        publish_upsert(any_redis, keys, once("RL-B"))
        assert PublishAllResult(upserts=0, deletes=2) == publish_all(any_redis, keys, [], ts=TS)
        assert {} == state(any_redis, keys)
        last_two = stream(any_redis, keys.schedules)[-2:]
        assert {("delete", "RL-B"), ("delete", "TS-A")} == {(f["op"], f["id"]) for _, f in last_two}

    def test_publish_all_across_transaction_chunks(
        self, any_redis: redis.Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With more events than one MULTI carries, every event is still published once."""
        monkeypatch.setattr(streams.publish, "BULK_CHUNK", 3)
        for item_id in ("OLD-1", "OLD-2"):
            publish_upsert(any_redis, keys, cron(item_id))
        wanted = [once(f"RL-{n}", TS + n) for n in range(7)]
        assert PublishAllResult(upserts=7, deletes=2) == publish_all(any_redis, keys, wanted, TS)
        assert {u.id: u.encode() for u in wanted} == state(any_redis, keys)
        assert 2 + 2 + 7 == len(stream(any_redis, keys.schedules))

    def test_publish_all_removes_state_field_that_is_not_a_valid_id(
        self, any_redis: redis.Redis, keys: Keys
    ) -> None:
        """A junk field in the state hash (over-long or with control characters, e.g. written
        by hand) is removed by republishing rather than blocking the repair."""
        any_redis.hset(keys.state, "x" * 141, b"{}")
        any_redis.hset(keys.state, "TS\x00junk", b"{}")
        publish_all(any_redis, keys, [cron("TS-A")], ts=TS)
        assert ["TS-A"] == sorted(state(any_redis, keys))


class TestSnapshot:
    """snapshot() returns the state hash and the stream position it corresponds to."""

    def test_snapshot_without_stream_starts_at_zero(
        self, any_redis: redis.Redis, keys: Keys
    ) -> None:
        """With no stream yet, the snapshot is empty and reading starts at 0-0, the
        stream's 0th entry."""
        assert Snapshot(items={}, last_id="0-0", entries_added=0) == snapshot(any_redis, keys)

    def test_snapshot_holds_state_and_last_entry_id(
        self, any_redis: redis.Redis, keys: Keys
    ) -> None:
        """Items are the raw JSON values by id; last_id is the id of the newest entry."""
        publish_upsert(any_redis, keys, cron("TS-A"))
        publish_upsert(any_redis, keys, once("RL-B"))
        last = publish_delete(any_redis, keys, ScheduleDelete(id="TS-A", ts=TS))
        snap = snapshot(any_redis, keys)
        assert last == snap.last_id
        assert snap.entries_added in (3, None)  # None from servers before Redis 7
        assert {"RL-B": any_redis.hget(keys.state, "RL-B")} == snap.items
        assert [bytes] == [type(v) for v in snap.items.values()]

    def test_snapshot_items_decode_to_the_published_upserts(
        self, any_redis: redis.Redis, keys: Keys
    ) -> None:
        """decode_state_value turns every snapshot item back into the upsert published."""
        upserts = [cron("TS-A"), cron("TS-B", "@daily", enabled=False), once("RL-C")]
        for upsert in upserts:
            publish_upsert(any_redis, keys, upsert)
        snap = snapshot(any_redis, keys)
        assert {u.id: u for u in upserts} == {
            item_id: decode_state_value(item_id, raw) for item_id, raw in snap.items.items()
        }

    def test_decode_state_value_accepts_text(self, any_redis: redis.Redis, keys: Keys) -> None:
        """A state value read by a client that decodes responses (str) decodes the same."""
        upsert = once("RL-C")
        publish_upsert(any_redis, keys, upsert)
        raw = any_redis.hget(keys.state, "RL-C")
        assert upsert == decode_state_value("RL-C", raw.decode())


@pytest.fixture
def make_client(redis_url: str | None, real_redis: redis.Redis) -> Iterator[Callable[..., Any]]:
    """Builds extra clients to the real server (closed afterwards)."""
    built: list[redis.Redis] = []

    def make(**kwargs: Any) -> redis.Redis:
        assert redis_url is not None
        client = redis.Redis.from_url(redis_url, **kwargs)
        built.append(client)
        return client

    yield make
    for client in built:
        client.close()


class TestSnapshotConsistencyUnderConcurrency:
    """MULTI/EXEC: a snapshot taken while another client publishes is never torn."""

    def test_concurrent_snapshots_agree_with_their_last_id(
        self, real_redis: redis.Redis, keys: Keys, make_client: Callable[..., Any]
    ) -> None:
        """Every snapshot's hash equals the replay of exactly the entries up to its last_id."""
        reader = make_client()
        snaps: list[Snapshot] = []
        started, done = threading.Event(), threading.Event()

        def take_snapshots() -> None:
            while not done.is_set():
                snaps.append(snapshot(reader, keys))
                started.set()

        thread = threading.Thread(target=take_snapshots)
        thread.start()
        try:
            assert started.wait(5)
            for n in range(500):
                if n % 7 == 6:
                    publish_delete(real_redis, keys, ScheduleDelete(id=f"TS-{n % 50}", ts=TS + n))
                else:
                    publish_upsert(real_redis, keys, cron(f"TS-{n % 50}", f"{n % 60} * * * *"))
        finally:
            done.set()
            thread.join(10)

        entries = stream(real_redis, keys.schedules)
        assert 500 == len(entries)
        # The state after each prefix of the stream, by the id of the prefix's last entry.
        replayed: dict[str, dict[str, dict[str, str]]] = {"0-0": {}}
        current: dict[str, dict[str, str]] = {}
        for entry_id, fields in entries:
            if fields["op"] == "upsert":
                current[fields["id"]] = fields
            else:
                current.pop(fields["id"], None)
            replayed[entry_id] = dict(current)
        mismatches = [
            snap.last_id
            for snap in snaps
            if replayed.get(snap.last_id) != {k: orjson.loads(v) for k, v in snap.items.items()}
        ]
        assert [] == mismatches
        midway = {s.last_id for s in snaps} - {"0-0", entries[-1][0]}
        assert len(midway) >= 2, "the snapshots never ran while publishing"

    def test_snapshot_then_read_applies_every_change_once(
        self, real_redis: redis.Redis, keys: Keys, make_client: Callable[..., Any]
    ) -> None:
        """Items of a mid-way snapshot plus the entries read after its last_id are all the
        published ids, with no id in both and none read twice."""
        total = 300
        reader = make_client()
        half, taken = threading.Event(), threading.Event()
        result: list[Snapshot] = []

        def take() -> None:
            half.wait(10)
            result.append(snapshot(reader, keys))
            taken.set()

        thread = threading.Thread(target=take)
        thread.start()
        try:
            for n in range(total - 1):
                publish_upsert(real_redis, keys, once(f"RL-{n}", TS + n))
                if n == total // 2:
                    half.set()
            assert taken.wait(10)
            publish_upsert(real_redis, keys, once(f"RL-{total - 1}", TS))
        finally:
            half.set()
            thread.join(10)

        [snap] = result
        read: list[str] = []
        position = snap.last_id
        while batch := xread(real_redis, {keys.schedules: position}, None, count=50):
            for _stream, batch_entries in batch:
                for entry_id, fields in batch_entries:
                    read.append(as_text(fields[b"id"]))
                    position = entry_id
        assert total // 2 <= len(snap.items) < total
        assert set() == set(snap.items) & set(read)
        assert len(read) == len(set(read))
        assert {f"RL-{n}" for n in range(total)} == set(snap.items) | set(read)


class TestBlockingReads:
    """Blocking stream reads never trip the connection's socket timeout."""

    def test_block_is_capped_below_socket_timeout(self) -> None:
        """A wanted wait longer than the socket timeout is cut to timeout minus 250 ms."""
        client = redis.Redis(socket_timeout=0.5)
        try:
            assert (250, 100, 1) == (
                block_ms(client, 1500),
                block_ms(client, 100),
                block_ms(client, 0),
            )
        finally:
            client.close()

    def test_block_without_socket_timeout_is_capped_at_a_minute(self) -> None:
        """Without a socket timeout the BLOCK is still bounded (never BLOCK 0 = forever)."""
        client = redis.Redis(socket_timeout=None)
        try:
            assert (60_000, 1500) == (block_ms(client, 10**9), block_ms(client, 1500))
        finally:
            client.close()

    def test_uncapped_block_longer_than_socket_timeout_raises(
        self, keys: Keys, make_client: Callable[..., Any]
    ) -> None:
        """The hazard block_ms exists for: a plain XREAD BLOCK 1000 on a 0.2 s socket fails."""
        client = make_client(socket_timeout=0.2, retry=Retry(NoBackoff(), 0))
        with pytest.raises(redis.exceptions.TimeoutError):
            client.xread({keys.schedules: "0-0"}, block=1000)

    def test_xread_waits_past_socket_timeout_without_error(
        self, keys: Keys, make_client: Callable[..., Any]
    ) -> None:
        """Waiting 1.5 s on a 0.5 s socket: each call returns [] in under 0.5 s, no error."""
        client = make_client(socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
        start = time.monotonic()
        calls: list[tuple[Any, float]] = []
        while (elapsed := time.monotonic() - start) < 1.5:
            began = time.monotonic()
            got = xread(client, {keys.schedules: "0-0"}, 1500 - elapsed * 1000)
            calls.append((got, time.monotonic() - began))
        assert [[]] * len(calls) == [got for got, _ in calls]
        assert [] == [took for _, took in calls if took >= 0.5]
        assert len(calls) >= 3

    def test_xread_wakes_up_when_an_entry_arrives(
        self, real_redis: redis.Redis, keys: Keys, make_client: Callable[..., Any]
    ) -> None:
        """A blocked read returns the new entry as soon as it is added."""
        client = make_client(socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
        timer = threading.Timer(0.1, lambda: real_redis.xadd(keys.schedules, {"v": "1"}))
        timer.start()
        try:
            start = time.monotonic()
            got = xread(client, {keys.schedules: "0-0"}, 400)
            took = time.monotonic() - start
        finally:
            timer.join()
        assert [(keys.schedules, [{b"v": b"1"}])] == [
            (name, [fields for _, fields in entries]) for name, entries in got
        ]
        assert took < 0.4


class Responder:
    """A tiny stand-in for the daemon's RPC server: answers requests from a thread."""

    def __init__(self, client: redis.Redis, keys: Keys, delay: float = 0.0) -> None:
        self.client = client
        self.keys = keys
        self.delay = delay
        self.requests: list[RpcRequest] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def answer(self, request: RpcRequest) -> RpcReply:
        now = int(time.time() * 1000)
        if request.cmd == "ping":
            data = {"instance": "test-1", "armed": 2, "leader": True, "next_due": None}
            return RpcReply(rid=request.rid, ok=True, ts=now, data=data)
        if request.cmd == "cancel":
            return RpcReply(rid=request.rid, ok=True, ts=now, data={"id": request.arg})
        return RpcReply(rid=request.rid, ok=False, ts=now, error=f"unknown command {request.cmd!r}")

    def run(self) -> None:
        position = "0-0"
        while not self.stop.is_set():
            for _stream, entries in xread(self.client, {self.keys.rpc: position}, 50):
                for entry_id, fields in entries:
                    position = entry_id
                    request = RpcRequest.decode(fields)
                    self.requests.append(request)
                    time.sleep(self.delay)
                    send_reply(self.client, self.keys, self.answer(request))


@pytest.fixture
def responder(make_client: Callable[..., Any], keys: Keys) -> Iterator[Callable[..., Responder]]:
    """Starts responders for the test's site and stops them afterwards."""
    started: list[Responder] = []

    def start(delay: float = 0.0) -> Responder:
        r = Responder(make_client(), keys, delay)
        r.thread.start()
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop.set()
        r.thread.join(5)


class TestRpc:
    """RpcClient.call against nobody and against a responder; send_reply's expiry."""

    def test_call_without_responder_times_out(self, real_redis: redis.Redis, keys: Keys) -> None:
        """With no daemon, call() raises RpcTimeout after about the timeout, leaving no key."""
        start = time.monotonic()
        with pytest.raises(RpcTimeout):
            RpcClient(real_redis, keys).call("ping", timeout=0.3)
        elapsed = time.monotonic() - start
        assert 0.25 <= elapsed <= 1.5, elapsed
        assert [] == reply_keys(real_redis, keys)

    def test_request_entry_fields(self, real_redis: redis.Redis, keys: Keys) -> None:
        """The request carries v, rid, cmd, ts and deadline = ts + timeout in ms."""
        with pytest.raises(RpcTimeout):
            RpcClient(real_redis, keys).call("ping", timeout=0.1)
        [(_, fields)] = stream(real_redis, keys.rpc)
        assert ["cmd", "deadline", "rid", "ts", "v"] == sorted(fields)
        assert ("1", "ping", 100) == (
            fields["v"],
            fields["cmd"],
            int(fields["deadline"]) - int(fields["ts"]),
        )
        assert abs(time.time() * 1000 - int(fields["ts"])) < 5_000
        assert 32 == len(fields["rid"])

    def test_request_entry_carries_arg(self, real_redis: redis.Redis, keys: Keys) -> None:
        """An argument travels in the ``arg`` field."""
        with pytest.raises(RpcTimeout):
            RpcClient(real_redis, keys).call("cancel", "TS-000001", timeout=0.05)
        [(_, fields)] = stream(real_redis, keys.rpc)
        assert ("cancel", "TS-000001", 50) == (
            fields["cmd"],
            fields["arg"],
            int(fields["deadline"]) - int(fields["ts"]),
        )

    def test_call_returns_reply_data(
        self, real_redis: redis.Redis, keys: Keys, responder: Callable[..., Responder]
    ) -> None:
        """The reply's data is returned, and the reply stream is deleted afterwards."""
        server = responder()
        data = RpcClient(real_redis, keys).call("ping", timeout=2)
        assert {"instance": "test-1", "armed": 2, "leader": True, "next_due": None} == data
        assert ["ping"] == [r.cmd for r in server.requests]
        assert [] == reply_keys(real_redis, keys)

    def test_call_sends_the_argument(
        self, real_redis: redis.Redis, keys: Keys, responder: Callable[..., Responder]
    ) -> None:
        """The daemon sees the argument the caller passed."""
        responder()
        assert {"id": "TS-000001"} == RpcClient(real_redis, keys).call("cancel", "TS-000001", 2)

    def test_refused_call_raises_rpc_failed_with_reason(
        self, real_redis: redis.Redis, keys: Keys, responder: Callable[..., Responder]
    ) -> None:
        """ok=0 raises RpcFailed carrying the command and the daemon's reason; no key left."""
        responder()
        with pytest.raises(RpcFailed) as info:
            RpcClient(real_redis, keys).call("frobnicate", timeout=2)
        assert ("frobnicate", "unknown command 'frobnicate'") == (
            info.value.cmd,
            info.value.reason,
        )
        assert [] == reply_keys(real_redis, keys)

    def test_request_returns_refusal_without_raising(
        self, real_redis: redis.Redis, keys: Keys, responder: Callable[..., Responder]
    ) -> None:
        """request() hands back the whole ok=0 reply instead of raising."""
        responder()
        reply = RpcClient(real_redis, keys).request("frobnicate", timeout=2)
        assert (False, "unknown command 'frobnicate'") == (reply.ok, reply.error)

    def test_reply_slower_than_socket_timeout_still_arrives(
        self,
        keys: Keys,
        make_client: Callable[..., Any],
        responder: Callable[..., Responder],
    ) -> None:
        """A reply taking 0.5 s reaches a client whose socket timeout is 0.3 s."""
        responder(delay=0.5)
        client = make_client(socket_timeout=0.3, retry=Retry(NoBackoff(), 0))
        assert 2 == RpcClient(client, keys).call("ping", timeout=3)["armed"]

    def test_send_reply_expires_in_about_a_minute(
        self, real_redis: redis.Redis, keys: Keys
    ) -> None:
        """The reply stream gets a TTL of about 60 s and holds the encoded reply."""
        reply = RpcReply(rid="abc123", ok=True, ts=TS, data={"armed": 1})
        send_reply(real_redis, keys, reply)
        assert 55 <= real_redis.ttl(keys.rpc_reply("abc123")) <= 60
        [(_, fields)] = stream(real_redis, keys.rpc_reply("abc123"))
        assert reply == RpcReply.decode(fields)

    def test_send_reply_leaves_a_key_of_another_type_alone(
        self, real_redis: redis.Redis, keys: Keys
    ) -> None:
        """A reply key that already exists as a string (someone else's) gets neither the
        reply nor a TTL: send_reply says which type it found."""
        key = keys.rpc_reply("taken1")
        real_redis.set(key, "not ours")
        reply = RpcReply(rid="taken1", ok=True, ts=TS, data={"armed": 1})
        with contextlib.suppress(redis.ResponseError):  # the old MULTI raised WRONGTYPE
            assert "string" == send_reply(real_redis, keys, reply)
        assert (-1, b"not ours") == (real_redis.ttl(key), real_redis.get(key))


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"protocol": 3}, id="resp3"),
        pytest.param({"decode_responses": True}, id="decoded"),
        pytest.param({"protocol": 3, "decode_responses": True}, id="resp3-decoded"),
    ],
)
def test_other_client_flavours(
    options: dict[str, Any],
    keys: Keys,
    make_client: Callable[..., Any],
    responder: Callable[..., Responder],
) -> None:
    """Publishing, snapshot, xread and RPC work with RESP3 and decode_responses clients."""
    client = make_client(**options)
    upsert = cron("TS-A")
    entry_id = publish_upsert(client, keys, upsert)
    snap = snapshot(client, keys)
    assert (entry_id, upsert) == (snap.last_id, decode_state_value("TS-A", snap.items["TS-A"]))
    [(name, entries)] = xread(client, {keys.schedules: "0-0"}, None, count=1)
    assert (keys.schedules, [entry_id]) == (name, [eid for eid, _ in entries])
    assert upsert == ScheduleUpsert.decode(entries[0][1])
    responder()
    assert "test-1" == RpcClient(client, keys).call("ping", timeout=2)["instance"]


def test_bulk_snapshot_decoding_matches_item_by_item() -> None:
    """decode_state_values gives what decode_state_value gives for each item, good or
    bad, while validating shared fields once per combination."""
    import orjson

    from streams.errors import ProtocolError
    from streams.messages import ScheduleUpsert
    from streams.publish import decode_state_value, decode_state_values

    def raw(item_id: str, **changes: str) -> bytes:
        spec = ScheduleUpsert(
            id=item_id, kind="cron", task="t", cron="0 2 * * *", tz="UTC", enabled=True, ts=1
        )
        return orjson.dumps(spec.encode() | changes)

    items = {
        "TS-1": raw("TS-1"),
        "TS-2": raw("TS-2", ts="2"),
        "TS-3": raw("TS-3", ts="²"),
        "TS-4": raw("TS-4", id="TS-5"),
        "TS-6": raw("TS-6", cron="61 * * * *"),
        "TS-7": b"not json",
        "TS-8": raw("TS-8", kind="once"),
        "TS\x01": raw("TS-9", id="TS\x01"),
    }
    expected_good = {}
    expected_bad = set()
    for item_id, value in items.items():
        try:
            expected_good[item_id] = decode_state_value(item_id, value)
        except ProtocolError:
            expected_bad.add(item_id)
    good, bad = decode_state_values(dict(items))
    assert expected_good == {spec.id: spec for spec in good}
    assert expected_bad == {item_id for item_id, _raw, _error in bad}
