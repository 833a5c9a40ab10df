"""The control RPC handlers (btu_scheduler/rpcserver.py) against a fake daemon view."""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

import pytest

from btu import __version__
from btu_scheduler.engine import Engine
from btu_scheduler.heap import Item
from btu_scheduler.rpcserver import MAX_LIST, BadRequest, RpcHandler, next_instants
from btu_scheduler.stats import Stats
from streams.keys import Kind
from streams.messages import ScheduleDelete, ScheduleUpsert

T0 = 1_800_000_000_000  # 2027-01-15T08:00:00Z
MIN = 60_000


def cron(item_id: str, expr: str = "* * * * *", tz: str = "UTC") -> ScheduleUpsert:
    return ScheduleUpsert(
        id=item_id, kind=Kind.CRON, task="task", enabled=True, ts=T0, cron=expr, tz=tz
    )


def once(item_id: str, at: int) -> ScheduleUpsert:
    return ScheduleUpsert(id=item_id, kind=Kind.ONCE, task="task", enabled=True, ts=T0, at=at)


class NoneBroken:
    def still_broken(self, _held: object) -> list[object]:
        return []


class FakeDaemon:
    """Just what RpcHandler needs: an engine, stats and a few callbacks."""

    def __init__(self) -> None:
        self.engine = Engine(grace_ms=300_000)
        self.stats = Stats()
        self.instance = "node-a"
        self.started_mono = time.monotonic() - 12.5
        self.is_leader = True
        self.now = T0
        self.lock = threading.RLock()
        self.state: dict[str, ScheduleUpsert] = {}
        self.reloaded: list[str] = []
        self.resyncs = 0
        self.dead = NoneBroken()

    def now_ms(self) -> int:
        return self.now

    def locked(self) -> threading.RLock:
        return self.lock

    def reload_item(self, item_id: str) -> Item | None:
        self.reloaded.append(item_id)
        spec = self.state.get(item_id)
        with self.lock:
            if spec is None:
                self.engine.apply(ScheduleDelete(id=item_id, ts=self.now), self.now)
                return None
            self.engine.apply(spec, self.now)
            return self.engine.armed.get(item_id)

    def cancel_item(self, item_id: str) -> bool:
        with self.lock:
            return self.engine.cancel(item_id)

    def resync(self) -> int:
        self.resyncs += 1
        with self.lock:
            self.engine.load(self.state.values(), {}, self.now)
            return self.engine.armed.armed

    def cluster_status(self) -> dict[str, Any]:
        return {"backlog": 0, "instances": []}


@pytest.fixture
def daemon() -> FakeDaemon:
    return FakeDaemon()


@pytest.fixture
def rpc(daemon: FakeDaemon) -> RpcHandler:
    return RpcHandler(daemon)


class TestPing:
    def test_fields(self, daemon: FakeDaemon, rpc: RpcHandler) -> None:
        """ping answers exactly the fields PROTOCOL.md lists, with their values."""
        daemon.engine.apply(cron("TS-1"), T0)
        data = rpc.handle("ping", None)
        uptime = data.pop("uptime_s")
        expected = {
            "instance": "node-a",
            "version": __version__,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "armed": 1,
            "leader": True,
            "next_due": T0 + MIN,
        }
        assert (expected, True) == (data, 12.5 <= uptime < 60)

    def test_idle(self, rpc: RpcHandler) -> None:
        """With nothing armed, armed is 0 and next_due is null."""
        data = rpc.handle("ping", None)
        assert (0, None) == (data["armed"], data["next_due"])

    def test_ping_ignores_argument(self, rpc: RpcHandler) -> None:
        """An argument to ping is ignored."""
        assert "node-a" == rpc.handle("ping", "whatever")["instance"]


class TestNext:
    def test_default_count_is_ten(self, daemon: FakeDaemon, rpc: RpcHandler) -> None:
        """Without an argument, next lists the ten earliest fires as {id, due}."""
        for n in range(15):
            daemon.engine.apply(once(f"RL-{n:02d}", T0 + (15 - n) * MIN), T0)
        data = rpc.handle("next", None)
        expected = [(f"RL-{n:02d}", T0 + (15 - n) * MIN) for n in range(14, 4, -1)]
        assert expected == [(d["id"], d["due"]) for d in data]

    @pytest.mark.parametrize("arg", ["3", ""])
    def test_count(self, daemon: FakeDaemon, rpc: RpcHandler, arg: str) -> None:
        """An explicit count limits the list; an empty argument means the default."""
        for n in range(12):
            daemon.engine.apply(once(f"RL-{n:02d}", T0 + n * MIN), T0)
        assert (3 if arg else 10) == len(rpc.handle("next", arg))

    def test_fewer_than_count(self, daemon: FakeDaemon, rpc: RpcHandler) -> None:
        """Asking for more than is armed lists what there is, skipping disarmed items."""
        daemon.engine.apply(cron("TS-1"), T0)
        daemon.engine.apply(cron("TS-2"), T0)
        daemon.engine.cancel("TS-2")
        assert [{"id": "TS-1", "due": T0 + MIN}] == [
            {"id": d["id"], "due": d["due"]} for d in rpc.handle("next", "50")
        ]

    @pytest.mark.parametrize(
        "arg", ["abc", "0", "-1", "1.5", " 3", str(MAX_LIST + 1), "99999999999999999999", "²"]
    )
    def test_bad_count(self, rpc: RpcHandler, arg: str) -> None:
        """A count that is not an integer between 1 and the maximum is a BadRequest."""
        with pytest.raises(BadRequest):
            rpc.handle("next", arg)


class TestCancel:
    def test_cancel(self, daemon: FakeDaemon, rpc: RpcHandler) -> None:
        """cancel disarms an armed item and says so; a second cancel removes nothing."""
        daemon.engine.apply(cron("TS-1"), T0)
        first = rpc.handle("cancel", "TS-1")
        second = rpc.handle("cancel", "TS-1")
        assert ({"id": "TS-1", "removed": True}, {"id": "TS-1", "removed": False}, 0) == (
            first,
            second,
            daemon.engine.armed.armed,
        )

    def test_cancel_unknown(self, rpc: RpcHandler) -> None:
        """Cancelling an unknown id answers removed: false."""
        assert {"id": "nope", "removed": False} == rpc.handle("cancel", "nope")

    @pytest.mark.parametrize("arg", [None, "", "   "])
    def test_cancel_needs_id(self, rpc: RpcHandler, arg: str | None) -> None:
        """cancel without an id is a BadRequest naming the command."""
        with pytest.raises(BadRequest, match="'cancel'"):
            rpc.handle("cancel", arg)


class TestReload:
    @pytest.mark.parametrize("arg", [None, "", "  "])
    def test_reload_needs_id(self, daemon: FakeDaemon, rpc: RpcHandler, arg: str | None) -> None:
        """reload without an id is a BadRequest and reloads nothing."""
        with pytest.raises(BadRequest, match="'reload'"):
            rpc.handle("reload", arg)
        assert [] == daemon.reloaded

    def test_reload_arms_from_state(self, daemon: FakeDaemon, rpc: RpcHandler) -> None:
        """reload re-reads the item and answers armed and its next 5 instants in its zone."""
        daemon.state["TS-1"] = cron("TS-1", "0 9 * * *", "Asia/Kolkata")
        data = rpc.handle("reload", "TS-1")
        expected = [f"2027-01-{d}T09:00:00+05:30" for d in (16, 17, 18, 19, 20)]
        assert ({"id": "TS-1", "armed": True, "next": expected}, ["TS-1"]) == (
            data,
            daemon.reloaded,
        )

    def test_reload_missing_item(self, daemon: FakeDaemon, rpc: RpcHandler) -> None:
        """Reloading an id the state hash no longer has forgets it and answers armed false."""
        daemon.engine.apply(cron("TS-1"), T0)
        data = rpc.handle("reload", "TS-1")
        assert ({"id": "TS-1", "armed": False, "next": []}, None) == (
            data,
            daemon.engine.armed.get("TS-1"),
        )

    def test_next_instants_in_zone(self, daemon: FakeDaemon) -> None:
        """next_instants gives 5 ISO 8601 strings on the item's wall clock, across DST."""
        daemon.engine.apply(cron("TS-1", "30 2 * * *", "America/New_York"), 1_804_900_000_000)
        item = daemon.engine.armed.get("TS-1")
        assert item is not None
        expected = [
            "2027-03-13T02:30:00-05:00",
            "2027-03-14T03:00:00-04:00",
            "2027-03-15T02:30:00-04:00",
            "2027-03-16T02:30:00-04:00",
            "2027-03-17T02:30:00-04:00",
        ]
        assert expected == next_instants(item, daemon.now)

    def test_next_instants_once_and_disarmed(self, daemon: FakeDaemon) -> None:
        """A once item has one instant (UTC); a disarmed item has none."""
        daemon.engine.apply(once("RL-1", T0 + MIN), T0)
        daemon.engine.apply(cron("TS-1"), T0)
        daemon.engine.cancel("TS-1")
        armed, disarmed = daemon.engine.armed.get("RL-1"), daemon.engine.armed.get("TS-1")
        assert armed is not None and disarmed is not None
        assert (["2027-01-15T08:01:00+00:00"], []) == (
            next_instants(armed, T0),
            next_instants(disarmed, T0),
        )


class TestOther:
    def test_unknown_command(self, rpc: RpcHandler) -> None:
        """An unknown command is a BadRequest that names it."""
        with pytest.raises(BadRequest, match="'explode'"):
            rpc.handle("explode", None)

    def test_unknown_command_is_truncated(self, rpc: RpcHandler) -> None:
        """A huge unknown command name is not echoed whole."""
        with pytest.raises(BadRequest) as info:
            rpc.handle("x" * 5_000, None)
        assert True is (len(str(info.value)) < 300)

    def test_status(self, daemon: FakeDaemon, rpc: RpcHandler) -> None:
        """status reports the engine counts, the stats counters and the cluster view."""
        daemon.engine.apply(cron("TS-1"), T0)
        daemon.engine.apply(cron("TS-2"), T0)
        daemon.engine.cancel("TS-2")
        daemon.stats.applied(3)
        data = rpc.handle("status", None)
        assert ("node-a", True, 1, 2, T0 + MIN, 1, 0, 0) == (
            data["instance"],
            data["leader"],
            data["armed"],
            data["items"],
            data["next_due"],
            data["events_applied"],
            data["fires_sent"],
            data["backlog"],
        )

    def test_resync(self, daemon: FakeDaemon, rpc: RpcHandler) -> None:
        """resync rebuilds from the state and answers the armed count."""
        daemon.state = {"TS-1": cron("TS-1"), "TS-2": cron("TS-2")}
        assert ({"armed": 2}, 1) == (rpc.handle("resync", None), daemon.resyncs)

    def test_schedules(self, daemon: FakeDaemon, rpc: RpcHandler) -> None:
        """schedules lists armed items first by due, then disarmed ones."""
        daemon.engine.apply(cron("B", "*/5 * * * *"), T0)
        daemon.engine.apply(cron("A"), T0)
        daemon.engine.apply(cron("C"), T0)
        daemon.engine.cancel("C")
        data = rpc.handle("schedules", None)
        assert [("A", T0 + MIN), ("B", T0 + 5 * MIN), ("C", None)] == [
            (d["id"], d["next"]) for d in data
        ]


class TestFarFuture:
    def test_items_at_the_end_of_time_are_described(
        self, daemon: FakeDaemon, rpc: RpcHandler
    ) -> None:
        """A once item at the last representable instant and a cron item whose last wall
        time is 9999-12-31 (Tokyo) appear in next/schedules/reload with ISO text; a cron
        whose next wall time would map past 9999 in UTC (New York) is disarmed, not an
        error."""
        daemon.state = {
            "RL-END": once("RL-END", 253_402_300_799_999),
            "TS-TOKYO": cron("TS-TOKYO", "59 23 31 12 *", "Asia/Tokyo"),
            "TS-NY": cron("TS-NY", "59 23 31 12 *", "America/New_York"),
        }
        daemon.now = 253_402_000_000_000  # 9999-12-28, after New York's 9998 instant
        rpc.handle("resync", None)
        upcoming = rpc.handle("next", "10")
        listed = {d["id"]: d["next_iso"] for d in rpc.handle("schedules", None)}
        assert [
            ("TS-TOKYO", "9999-12-31T14:59:00+00:00"),
            ("RL-END", "9999-12-31T23:59:59.999+00:00"),
        ] == [(d["id"], d["due_iso"]) for d in upcoming]
        assert {
            "RL-END": "9999-12-31T23:59:59.999+00:00",
            "TS-TOKYO": "9999-12-31T23:59:00+09:00",
            "TS-NY": None,
        } == listed
        assert ["9999-12-31T23:59:00+09:00"] == rpc.handle("reload", "TS-TOKYO")["next"]


class TestLimits:
    def test_next_above_the_cap_is_refused_naming_it(self, rpc: RpcHandler) -> None:
        """`next 10000` asks for more than the 1,000 a reply may list: ok=0 naming it."""
        with pytest.raises(BadRequest, match=f"between 1 and {MAX_LIST}"):
            rpc.handle("next", "10000")
        assert 1_000 == MAX_LIST

    def test_schedules_lists_at_most_the_cap(self, daemon: FakeDaemon, rpc: RpcHandler) -> None:
        """With more items than the cap, schedules lists the cap's worth, earliest first."""
        for n in range(MAX_LIST + 5):
            daemon.engine.apply(once(f"RL-{n:05d}", T0 + n * MIN), T0)
        data = rpc.handle("schedules", None)
        assert MAX_LIST == len(data)
        assert "RL-00000" == data[0]["id"] and f"RL-{MAX_LIST - 1:05d}" == data[-1]["id"]
        with pytest.raises(BadRequest):
            rpc.handle("schedules", str(MAX_LIST + 1))
