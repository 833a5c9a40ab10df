"""Durable cancellations and last-fire clean-up (btu_scheduler/itemstate.py) on a real
Redis: every write is fenced by the lease value."""

from __future__ import annotations

import redis

from btu_scheduler.engine import Engine
from btu_scheduler.itemstate import ItemState
from streams.keys import Keys
from streams.messages import ScheduleUpsert

TOKEN = '{"instance":"a","epoch":1}'
T0 = 1_800_000_000_000


def spec(item_id: str, ts: int) -> ScheduleUpsert:
    return ScheduleUpsert(
        id=item_id, kind="cron", task="t", cron="* * * * *", tz="UTC", enabled=True, ts=ts
    )


def test_forget_removes_deleted_fields_but_keeps_a_recreated_items_later_fire(
    real_redis: redis.Redis, keys: Keys
) -> None:
    """A deleted item's last-fire and cancelled fields go; a last-fire later than the
    deletion (the item was re-created and fired since) stays."""
    real_redis.set(keys.leader, TOKEN)
    real_redis.hset(keys.last_fire, mapping={"GONE": T0 - 60_000, "BACK": T0 + 60_000})
    real_redis.hset(keys.cancelled, mapping={"GONE": T0 - 1})
    ItemState(real_redis, keys).forget([("GONE", T0), ("BACK", T0)], TOKEN)
    assert ({b"BACK": str(T0 + 60_000).encode()}, {}) == (
        real_redis.hgetall(keys.last_fire),
        real_redis.hgetall(keys.cancelled),
    )


def test_writes_are_fenced(real_redis: redis.Redis, keys: Keys) -> None:
    """Without the lease nothing is recorded, forgotten or ended."""
    real_redis.set(keys.leader, '{"instance":"newer","epoch":2}')
    real_redis.hset(keys.last_fire, "GONE", T0 - 60_000)
    real_redis.hset(keys.cancelled, "C", T0)
    items = ItemState(real_redis, keys)
    recorded = items.record_cancel("X", T0, TOKEN)
    items.forget([("GONE", T0)], TOKEN)
    items.drop_cancels([("C", T0)], TOKEN)
    assert (False, {b"GONE"}, {b"C"}) == (
        recorded,
        set(real_redis.hkeys(keys.last_fire)),
        set(real_redis.hkeys(keys.cancelled)),
    )


def test_apply_cancels_honours_only_the_cancelled_upsert(
    real_redis: redis.Redis, keys: Keys
) -> None:
    """The item whose upsert is the cancelled one is disarmed; a newer upsert or a deleted
    item ends the record; an instance still behind on the stream leaves it alone."""
    engine = Engine(grace_ms=300_000)
    engine.load([spec("SAME", T0), spec("NEWER", T0 + 5), spec("BEHIND", T0 - 5)], {}, T0)
    cancels = {"SAME": T0, "NEWER": T0, "BEHIND": T0, "GONE": T0}
    disarmed, over = ItemState.apply_cancels(engine, cancels)
    assert ({"SAME"}, {"NEWER", "GONE"}, None, True) == (
        disarmed,
        {item_id for item_id, _ts in over},
        engine.armed.get("SAME").due,  # type: ignore[union-attr]
        engine.armed.get("BEHIND").due is not None,  # type: ignore[union-attr]
    )


def test_drop_cancels_keeps_a_newer_record(real_redis: redis.Redis, keys: Keys) -> None:
    """Ending the cancellations of upserts up to ts keeps one recorded for a later upsert."""
    real_redis.set(keys.leader, TOKEN)
    real_redis.hset(keys.cancelled, mapping={"OLD": T0, "NEW": T0 + 10})
    ItemState(real_redis, keys).drop_cancels([("OLD", T0), ("NEW", T0)], TOKEN)
    assert [b"NEW"] == real_redis.hkeys(keys.cancelled)
