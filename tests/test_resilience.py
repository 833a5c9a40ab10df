"""Faults a connected daemon must survive without losing a change, a request or a fire,
driven step by step against a real Redis: the schedules stream trimmed past the reader,
requests written while a resync runs, the engine lock during a reload, the site's keys
deleted under a connected daemon, an oversized RPC reply, and a republish that must not
move the catch-up baseline."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import redis
import structlog

import btu_scheduler.loader
from btu_scheduler.daemon import Daemon
from btu_scheduler.engine import Engine
from btu_scheduler.streaminfo import StreamInfo, entry_id_tuple
from streams.keys import Keys
from streams.messages import RpcReply, RpcRequest, ScheduleDelete, ScheduleUpsert
from streams.publish import publish_all, publish_delete, publish_upsert
from tests import test_daemon_loop as loop
from tests.conftest import FakeClock
from tests.harness import wait_for
from tests.test_daemon_loop import T0, FakeEndpoint, fires, spec

# The step-by-step daemon of test_daemon_loop: a fake clock and a real Redis.
clock = loop.clock
make_daemon = loop.make_daemon


def _request(r: redis.Redis, keys: Keys, cmd: str, rid: str, arg: str | None = None) -> str:
    request = RpcRequest(rid=rid, cmd=cmd, ts=T0, deadline=T0 + 600_000, arg=arg)
    entry_id = r.xadd(keys.rpc, request.encode())  # type: ignore[arg-type]
    return entry_id.decode()


def _reply(r: redis.Redis, keys: Keys, rid: str) -> RpcReply | None:
    entries = r.xrange(keys.rpc_reply(rid))
    return RpcReply.decode(entries[0][1]) if entries else None


def _lock_free(daemon: Daemon) -> bool:
    """Whether another thread (the firing loop, say) can take the engine lock now."""
    got: list[bool] = []

    def probe() -> None:
        ok = daemon.lock.acquire(timeout=2)
        if ok:
            daemon.lock.release()
        got.append(ok)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return got[0]


# -- 1. the schedules stream trimmed past a connected reader ----------------------------


def test_entries_trimmed_before_they_were_read_trigger_a_resync(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys
) -> None:
    """The reader fell behind the cap: the delete of an item was trimmed before it was
    read. The next read sees the gap, logs it, and rebuilds from the state hash, so the
    deleted item stops firing."""
    daemon = make_daemon()
    publish_upsert(real_redis, keys, spec("TS-GONE"))
    publish_upsert(real_redis, keys, spec("TS-KEPT"))
    assert daemon._start()
    publish_delete(real_redis, keys, ScheduleDelete(id="TS-GONE", ts=T0))
    for n in range(50):
        publish_upsert(real_redis, keys, spec(f"TS-FILL-{n:02d}"))
    real_redis.xtrim(keys.schedules, maxlen=10, approximate=False)
    with structlog.testing.capture_logs() as logs:
        daemon.reader.read_once()
    assert daemon.engine.armed.get("TS-GONE") is None
    assert 52 - 1 == len(daemon.engine.armed)
    [gap] = [e for e in logs if e["event"] == "stream_trimmed_past_us"]
    assert "warning" == gap["log_level"] and gap["first_id"] is not None


def test_a_read_without_a_gap_applies_the_entries_without_resync(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys
) -> None:
    """Entries trimmed only after they were read are no gap: no resync, no warning."""
    daemon = make_daemon()
    assert daemon._start()
    for n in range(20):
        publish_upsert(real_redis, keys, spec(f"TS-R-{n:02d}"))
    with structlog.testing.capture_logs() as logs:
        daemon.reader.read_once()
    real_redis.xtrim(keys.schedules, maxlen=5, approximate=False)
    publish_upsert(real_redis, keys, spec("TS-R-LAST"))
    with structlog.testing.capture_logs() as more:
        daemon.reader.read_once()
    assert 21 == len(daemon.engine.armed)
    events = [e["event"] for e in logs + more]
    assert "stream_trimmed_past_us" not in events and "loaded" not in events


# -- 2. resync: no request dropped, no lock held through I/O and the rebuild ------------


def test_requests_written_while_a_resync_runs_are_answered(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ping written while the resync reads its snapshot is answered afterwards: the RPC
    position does not jump past it."""
    daemon = make_daemon()
    publish_upsert(real_redis, keys, spec("TS-1"))
    assert daemon._start()
    written: list[str] = []
    real_snapshot = btu_scheduler.loader.read_snapshot

    def snapshot_during_which_a_request_arrives(r: Any, k: Keys) -> Any:
        if not written:
            written.append(_request(real_redis, keys, "ping", "during"))
        return real_snapshot(r, k)

    monkeypatch.setattr(
        btu_scheduler.loader, "read_snapshot", snapshot_during_which_a_request_arrives
    )
    resync_id = _request(real_redis, keys, "resync", "resync1")
    daemon.reader.read_once()
    assert 1 == _reply(real_redis, keys, "resync1").data["armed"]  # type: ignore[union-attr]
    assert resync_id == daemon.rpc_id  # not past the ping written meanwhile
    daemon.reader.read_once()
    reply = _reply(real_redis, keys, "during")
    assert reply is not None and reply.ok and "loop-1" == reply.data["instance"]


def test_resync_reads_redis_and_rebuilds_without_holding_the_engine_lock(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the snapshot is read and the new engine built, the firing loop can take the
    lock; the result is swapped in afterwards."""
    daemon = make_daemon()
    publish_upsert(real_redis, keys, spec("TS-1"))
    assert daemon._start()
    free: dict[str, bool] = {}
    real_snapshot = btu_scheduler.loader.read_snapshot
    real_load = Engine.load

    def snapshot(r: Any, k: Keys) -> Any:
        free["snapshot"] = _lock_free(daemon)
        return real_snapshot(r, k)

    def load(self: Engine, *args: Any, **kwargs: Any) -> Any:
        free["build"] = _lock_free(daemon)
        return real_load(self, *args, **kwargs)

    monkeypatch.setattr(btu_scheduler.loader, "read_snapshot", snapshot)
    monkeypatch.setattr(Engine, "load", load)
    publish_upsert(real_redis, keys, spec("TS-2"))
    assert 2 == daemon.resync()
    assert {"snapshot": True, "build": True} == free


def test_a_fire_sent_while_the_resync_built_is_not_sent_again(
    make_daemon: Any,
    real_redis: redis.Redis,
    keys: Keys,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The old engine fires an instant while the new one is being built (from a snapshot
    taken before it): after the swap that instant is not due again."""
    daemon = make_daemon()
    publish_upsert(real_redis, keys, spec("TS-1"))
    assert daemon._start()
    real_load = Engine.load

    def load(self: Engine, specs: Any, last_fire: Any, now_ms: int, **kw: Any) -> Any:
        result = real_load(self, specs, last_fire, now_ms, **kw)
        clock.advance(60)  # the instant T0 + 60 s passes while building
        daemon.step(wait=False)
        return result

    monkeypatch.setattr(Engine, "load", load)
    daemon.resync()
    fires(real_redis, keys, 1)
    assert T0 + 120_000 == daemon.engine.next_due()
    daemon.step(wait=False)
    assert [T0 + 60_000] == [due for _i, _k, due, _f in daemon.endpoint.requests]


# -- 3. the site's keys deleted under a connected daemon --------------------------------


def _delete_site_keys(r: redis.Redis, keys: Keys) -> None:
    for key in list(r.scan_iter(match=f"{keys.prefix}*", count=1000)):
        r.delete(key)


def test_keys_deleted_and_one_item_republished_at_once_is_still_noticed(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys
) -> None:
    """Every btu key of the site is deleted (FLUSHALL, eviction) while the daemon stays
    connected, and the app publishes one item right after: the stream exists again with
    a newer id and the hash is not empty. The check still sees it, logs
    redis_state_lost, keeps firing from memory and asks the app to republish; once the
    app has, the daemon resyncs: an item deleted meanwhile (TS-2) stops firing."""
    endpoint = FakeEndpoint()
    go = threading.Event()

    def republish() -> None:
        go.wait(5)
        for item_id in ("TS-0", "TS-1", "TS-NEW"):
            publish_upsert(real_redis, keys, spec(item_id, ts=T0 + 2))

    endpoint.on_republish = republish
    daemon = make_daemon(endpoint=endpoint)
    for n in range(3):
        publish_upsert(real_redis, keys, spec(f"TS-{n}"))
    assert daemon._start()
    assert not daemon.watch.check()
    _delete_site_keys(real_redis, keys)
    publish_upsert(real_redis, keys, spec("TS-NEW", ts=T0 + 1))
    with structlog.testing.capture_logs() as logs:
        assert daemon.watch.check()
    [lost] = [e for e in logs if e["event"] == "redis_state_lost"]
    assert "error" == lost["log_level"] and "dataset" in lost["reason"]
    assert ("0-0", "0-0", 3) == (daemon.last_id, daemon.rpc_id, daemon.engine.armed.armed)
    go.set()
    wait_for(lambda: endpoint.republished and not daemon.reader._republishing, 5)
    assert {"TS-0", "TS-1", "TS-NEW"} == {item.id for item in daemon.engine.armed}
    assert not daemon.watch.check()


def test_a_gap_while_republishing_after_a_loss_waits_for_the_republish(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys
) -> None:
    """After a loss, a republish larger than the stream's cap trims entries before the
    reader gets them: the daemon does not rebuild from the half-written hash (which
    would disarm items still to come) but keeps its items, and resyncs once the app has
    finished."""
    endpoint = FakeEndpoint()
    go = threading.Event()
    endpoint.on_republish = lambda: go.wait(5) and None
    daemon = make_daemon(endpoint=endpoint)
    for item_id in ("TS-A", "TS-B"):
        publish_upsert(real_redis, keys, spec(item_id))
    assert daemon._start()
    _delete_site_keys(real_redis, keys)
    assert daemon.watch.check()
    for n in range(30):  # the republish under way: TS-A not yet, then trimmed entries
        publish_upsert(real_redis, keys, spec(f"TS-R-{n:02d}"))
    real_redis.xtrim(keys.schedules, maxlen=5, approximate=False)
    with structlog.testing.capture_logs() as logs:
        daemon.reader.read_once()
    [gap] = [e for e in logs if e["event"] == "stream_trimmed_past_us"]
    assert "resync after the republish" == gap["action"]
    assert {"TS-A", "TS-B"} <= {item.id for item in daemon.engine.armed}
    publish_upsert(real_redis, keys, spec("TS-A"))  # the rest of the republish
    go.set()
    wait_for(lambda: endpoint.republished and not daemon.reader._republishing, 5)
    assert {"TS-A"} | {f"TS-R-{n:02d}" for n in range(30)} == {
        item.id for item in daemon.engine.armed
    }


def test_state_hash_evicted_alone_is_noticed_and_memory_kept(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys
) -> None:
    """Only the state hash goes (allkeys eviction): the daemon, which has read the whole
    stream and holds items, notices; the stream is intact, so it keeps its position and
    its items (no resync from an empty hash)."""
    endpoint = FakeEndpoint()
    republish = threading.Event()
    endpoint.on_republish = lambda: republish.wait(5) and None
    daemon = make_daemon(endpoint=endpoint)
    publish_upsert(real_redis, keys, spec("TS-1"))
    assert daemon._start()
    position = daemon.last_id
    real_redis.delete(keys.state)
    assert daemon.watch.check()
    publish_upsert(real_redis, keys, spec("TS-2"))
    daemon.reader.read_once()
    assert {"TS-1", "TS-2"} == {item.id for item in daemon.engine.armed}
    assert entry_id_tuple(position) < entry_id_tuple(daemon.last_id)
    publish_upsert(real_redis, keys, spec("TS-1"))  # the app republishes; then resync
    republish.set()
    wait_for(lambda: endpoint.republished, 5)
    wait_for(lambda: not daemon.reader._republishing, 5)
    assert {"TS-1", "TS-2"} == {item.id for item in daemon.engine.armed}


def test_a_batch_read_before_a_position_reset_is_dropped(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys
) -> None:
    """Entries read from a position the state check has since reset are not applied
    (the stream is read again from the new position)."""
    daemon = make_daemon()
    assert daemon._start()
    publish_upsert(real_redis, keys, spec("TS-1"))
    entries = [(e.decode(), f) for e, f in real_redis.xrange(keys.schedules)]
    daemon.last_id = "0-0"  # reset by the check meanwhile
    daemon.reader.apply_entries(entries, position="1-0")  # type: ignore[arg-type]
    assert ("0-0", 0) == (daemon.last_id, len(daemon.engine.armed))


class TestGapArithmetic:
    """streaminfo.StreamInfo.gap_after, on the numbers XINFO STREAM reports."""

    def info(self, first: str, last: str, added: int | None, length: int) -> StreamInfo:
        return StreamInfo(True, last, first, added, length)

    def test_first_entry_right_after_ours_is_no_gap(self) -> None:
        """Our entry (the 10th) was trimmed, the first present is the 11th: no gap."""
        assert not self.info("5-0", "9-0", 20, 10).gap_after("4-0", 10)

    def test_first_entry_further_on_is_a_gap(self) -> None:
        assert self.info("5-0", "9-0", 20, 9).gap_after("4-0", 10)

    def test_caught_up_with_fewer_entries_read_than_added_is_a_gap(self) -> None:
        """A gap that slipped past the first test shows once we are caught up."""
        assert self.info("1-0", "9-0", 20, 20).gap_after("9-0", 18)
        assert not self.info("1-0", "9-0", 20, 20).gap_after("9-0", 20)

    def test_without_counts_a_newer_first_entry_is_taken_as_a_gap(self) -> None:
        assert self.info("5-0", "9-0", None, 9).gap_after("4-0", None)
        assert not self.info("3-0", "9-0", None, 9).gap_after("4-0", None)


def test_deleting_every_item_is_not_a_loss(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys
) -> None:
    """The app deleting all items empties the hash but is a change, not a loss."""
    daemon = make_daemon()
    publish_upsert(real_redis, keys, spec("TS-1"))
    assert daemon._start()
    publish_delete(real_redis, keys, ScheduleDelete(id="TS-1", ts=T0))
    assert not daemon.watch.check()
    daemon.reader.read_once()
    assert not daemon.watch.check()


# -- RPC reply size ---------------------------------------------------------------------


def test_a_reply_over_the_protocol_limit_is_refused_not_sent_broken(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reply whose data would exceed the 1 MiB a client accepts is answered ok=0."""
    daemon = make_daemon()
    assert daemon._start()
    monkeypatch.setattr(daemon.rpc, "handle", lambda _c, _a: ["x" * 1000] * 2000)
    _request(real_redis, keys, "next", "big1", "1000")
    daemon.reader.read_once()
    reply = _reply(real_redis, keys, "big1")
    assert reply is not None and not reply.ok and "ask for fewer" in reply.error


# -- 4. a republish keeps the catch-up baseline -------------------------------------------


def test_republish_keeps_the_baseline_so_a_missed_instant_is_caught_up(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys, clock: FakeClock
) -> None:
    """An item published long ago; no daemon ran over its instant T0; the app
    republishes everything a minute later; a daemon starting then still fires the
    instant missed before the republish (within grace)."""
    publish_upsert(real_redis, keys, spec("TS-CU", ts=T0 - 3_600_000))
    real_redis.hset(keys.last_fire, "TS-CU", T0 - 60_000)
    clock.advance(30)
    publish_all(real_redis, keys, [spec("TS-CU", ts=T0 + 20_000)], ts=T0 + 20_000)
    daemon = make_daemon()
    assert daemon._start()
    daemon.step(wait=False)
    [record] = fires(real_redis, keys, 1)
    assert ("TS-CU", T0, "enqueued") == (record.id, record.due, record.outcome)


def test_republish_of_a_changed_schedule_moves_the_baseline(
    real_redis: redis.Redis, keys: Keys
) -> None:
    """A changed expression is a new schedule: its ts is the new publication time."""
    publish_upsert(real_redis, keys, spec("TS-1", "0 * * * *", ts=T0 - 1))
    publish_all(real_redis, keys, [spec("TS-1", "30 * * * *", ts=T0 + 5)], ts=T0 + 5)
    publish_all(real_redis, keys, [spec("TS-1", "30 * * * *", ts=T0 + 9)], ts=T0 + 9)
    stored = ScheduleUpsert.decode(real_redis.xrevrange(keys.schedules, count=1)[0][1])
    assert T0 + 5 == stored.ts


def test_a_loss_still_standing_is_reported_once(
    make_daemon: Any, real_redis: redis.Redis, keys: Keys
) -> None:
    """While the state hash stays gone (the site cannot republish), the check does not
    log an error and ask again every few seconds; a new loss is reported again."""
    endpoint = FakeEndpoint()
    go = threading.Event()
    endpoint.on_republish = lambda: go.wait(5) and None  # the site is slow to answer
    daemon = make_daemon(endpoint=endpoint)
    publish_upsert(real_redis, keys, spec("TS-1"))
    assert daemon._start()
    real_redis.delete(keys.state)
    with structlog.testing.capture_logs() as logs:
        checks = [daemon.watch.check() for _ in range(3)]
        real_redis.delete(keys.dataset)
        checks.append(daemon.watch.check())
    assert 1 == daemon.engine.armed.armed  # firing from memory meanwhile
    go.set()
    assert [True, False, False, True] == checks
    assert 2 == len([e for e in logs if e["event"] == "redis_state_lost"])
    wait_for(lambda: not daemon.reader._republishing, 5)
