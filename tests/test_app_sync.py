"""The state hash kept equal to the database: comparison, repair, publish-if-changed."""

from __future__ import annotations

import orjson
import redis

from btu.core.sync import diff_state, publish_if_changed, repair_state, same_item
from streams.keys import Keys
from streams.messages import ScheduleDelete, ScheduleUpsert
from streams.publish import publish_upsert

TS = 1_800_000_000_000


def cron(
    item_id: str, enabled: bool = True, expr: str = "0 7 * * *", ts: int = TS
) -> ScheduleUpsert:
    return ScheduleUpsert(
        id=item_id, kind="cron", task="T", cron=expr, tz="UTC", enabled=enabled, ts=ts
    )


def state(r: redis.Redis, keys: Keys) -> dict[str, dict[str, str]]:
    return {k.decode(): orjson.loads(v) for k, v in r.hgetall(keys.state).items()}


def stream_ops(r: redis.Redis, keys: Keys) -> list[tuple[str, str]]:
    return [(f[b"op"].decode(), f[b"id"].decode()) for _i, f in r.xrange(keys.schedules)]


class TestSameItem:
    def test_ts_is_ignored(self) -> None:
        """Two upserts differing only in their publish time are the same item."""
        raw = orjson.dumps(cron("TS-1", ts=1).encode())
        assert same_item(raw, cron("TS-1", ts=2)) is True

    def test_changed_field_differs(self) -> None:
        """A changed expression or enabled flag is a difference."""
        raw = orjson.dumps(cron("TS-1").encode())
        assert (False, False) == (
            same_item(raw, cron("TS-1", expr="0 8 * * *")),
            same_item(raw, cron("TS-1", enabled=False)),
        )

    def test_missing_or_garbage(self) -> None:
        """No value, bad JSON or a non-object never matches."""
        assert (False, False, False) == (
            same_item(None, cron("TS-1")),
            same_item(b"{oops", cron("TS-1")),
            same_item(b"[1]", cron("TS-1")),
        )


class TestDiffState:
    def test_differences(self) -> None:
        """Missing and changed items are upserted, unknown ones deleted, equal ones left."""
        current = {
            b"TS-1": orjson.dumps(cron("TS-1").encode()),
            b"TS-2": orjson.dumps(cron("TS-2", expr="0 9 * * *").encode()),
            b"TS-9": orjson.dumps(cron("TS-9").encode()),
        }
        drift = diff_state(current, [cron("TS-1"), cron("TS-2"), cron("TS-3")])
        assert (["TS-2", "TS-3"], ["TS-9"]) == ([u.id for u in drift.upserts], drift.deletes)


class TestRepairState:
    def test_lost_state_is_restored(self, any_redis: redis.Redis, keys: Keys) -> None:
        """After Redis lost everything, the repair publishes every item again."""
        result = repair_state(any_redis, keys, [cron("TS-1"), cron("TS-2")], TS)
        assert (2, 0, False) == (result.upserts, result.deletes, result.bulk)
        assert {"TS-1", "TS-2"} == set(state(any_redis, keys))

    def test_equal_state_publishes_nothing(self, any_redis: redis.Redis, keys: Keys) -> None:
        """When the hash already matches, no stream entry is written."""
        publish_upsert(any_redis, keys, cron("TS-1"))
        result = repair_state(any_redis, keys, [cron("TS-1", ts=TS + 5)], TS + 5)
        assert ((0, 0), 1) == ((result.upserts, result.deletes), any_redis.xlen(keys.schedules))

    def test_only_the_difference_is_published(self, any_redis: redis.Redis, keys: Keys) -> None:
        """A stale and an extra item are fixed with one upsert and one delete."""
        publish_upsert(any_redis, keys, cron("TS-1"))
        publish_upsert(any_redis, keys, cron("TS-2"))
        publish_upsert(any_redis, keys, cron("TS-3"))
        repair_state(any_redis, keys, [cron("TS-1"), cron("TS-2", enabled=False)], TS)
        assert [("upsert", "TS-2"), ("delete", "TS-3")] == stream_ops(any_redis, keys)[3:]
        assert "0" == state(any_redis, keys)["TS-2"]["enabled"]

    def test_large_drift_goes_bulk(self, fake_redis: redis.Redis, keys: Keys) -> None:
        """Past the threshold, one publish_all rebuilds the hash."""
        wanted = [cron(f"TS-{i}") for i in range(5)]
        result = repair_state(fake_redis, keys, wanted, TS, bulk_threshold=3)
        assert (5, True) == (result.upserts, result.bulk)
        assert 5 == fake_redis.hlen(keys.state)


class TestPublishIfChanged:
    def test_new_item_is_published(self, fake_redis: redis.Redis, keys: Keys) -> None:
        """An item missing from the hash is published."""
        assert publish_if_changed(fake_redis, keys, cron("TS-1")) is True
        assert [("upsert", "TS-1")] == stream_ops(fake_redis, keys)

    def test_unchanged_item_is_not(self, fake_redis: redis.Redis, keys: Keys) -> None:
        """Saving without a wire-relevant change writes no stream entry."""
        publish_if_changed(fake_redis, keys, cron("TS-1"))
        assert publish_if_changed(fake_redis, keys, cron("TS-1", ts=TS + 1)) is False
        assert 1 == fake_redis.xlen(keys.schedules)

    def test_delete_of_known_item(self, fake_redis: redis.Redis, keys: Keys) -> None:
        """Deleting an item in the hash publishes a delete and removes it."""
        publish_if_changed(fake_redis, keys, cron("TS-1"))
        assert publish_if_changed(fake_redis, keys, ScheduleDelete(id="TS-1", ts=TS)) is True
        assert ({}, ("delete", "TS-1")) == (
            state(fake_redis, keys),
            stream_ops(fake_redis, keys)[-1],
        )

    def test_delete_of_unknown_item_is_silent(self, fake_redis: redis.Redis, keys: Keys) -> None:
        """Deleting an item Redis never had writes nothing."""
        assert publish_if_changed(fake_redis, keys, ScheduleDelete(id="RL-1", ts=TS)) is False
        assert 0 == fake_redis.xlen(keys.schedules)


class TestCatchUpBaseline:
    """A republish never moves an item's catch-up baseline (its ``ts``) unless the item's
    timing changed: instants missed before it must still be caught up or recorded."""

    def _ts(self, r: redis.Redis, keys: Keys, item_id: str) -> int:
        return int(state(r, keys)[item_id]["ts"])

    def test_task_rename_keeps_the_baseline(self, fake_redis: redis.Redis, keys: Keys) -> None:
        publish_upsert(fake_redis, keys, cron("TS-1", ts=TS))
        renamed = ScheduleUpsert(id="TS-1", kind="cron", task="Renamed", cron="0 7 * * *",
                                 tz="UTC", enabled=True, ts=TS + 500)  # fmt: skip
        assert publish_if_changed(fake_redis, keys, renamed) is True
        assert (TS, "Renamed") == (
            self._ts(fake_redis, keys, "TS-1"),
            state(fake_redis, keys)["TS-1"]["task"],
        )

    def test_new_expression_moves_it(self, fake_redis: redis.Redis, keys: Keys) -> None:
        publish_upsert(fake_redis, keys, cron("TS-1", ts=TS))
        publish_if_changed(fake_redis, keys, cron("TS-1", expr="0 8 * * *", ts=TS + 500))
        assert TS + 500 == self._ts(fake_redis, keys, "TS-1")

    def test_re_enabling_moves_it(self, fake_redis: redis.Redis, keys: Keys) -> None:
        """Instants passed while an item was disabled are not caught up."""
        publish_upsert(fake_redis, keys, cron("TS-1", enabled=False, ts=TS))
        publish_if_changed(fake_redis, keys, cron("TS-1", ts=TS + 500))
        assert TS + 500 == self._ts(fake_redis, keys, "TS-1")

    def test_bulk_repair_keeps_it(self, fake_redis: redis.Redis, keys: Keys) -> None:
        """The hourly heal going bulk (publish_all) keeps unchanged items' ts and stamps
        the new ones."""
        publish_upsert(fake_redis, keys, cron("TS-OLD", ts=TS))
        wanted = [cron("TS-OLD", ts=TS + 9)] + [cron(f"TS-{n}", ts=TS + 9) for n in range(3)]
        result = repair_state(fake_redis, keys, wanted, ts=TS + 9, bulk_threshold=1)
        assert result.bulk
        assert {"TS-OLD": TS, "TS-0": TS + 9, "TS-1": TS + 9, "TS-2": TS + 9} == {
            i: int(v["ts"]) for i, v in state(fake_redis, keys).items()
        }

    def test_item_by_item_repair_keeps_it(self, fake_redis: redis.Redis, keys: Keys) -> None:
        """A repaired item whose timing is unchanged (only its label drifted) keeps ts."""
        publish_upsert(fake_redis, keys, cron("TS-1", ts=TS))
        relabelled = ScheduleUpsert(id="TS-1", kind="cron", task="Other", cron="0 7 * * *",
                                    tz="UTC", enabled=True, ts=TS + 9)  # fmt: skip
        repair_state(fake_redis, keys, [relabelled], ts=TS + 9)
        assert TS == self._ts(fake_redis, keys, "TS-1")
