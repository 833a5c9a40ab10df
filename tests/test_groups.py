"""Items held in groups (btu_scheduler/heap.py ``Group``): cron items that share kind,
task, expression, zone, enabled, next instant and last fire are one heap entry. From
outside nothing may tell: every member fires once per instant, and an upsert, delete,
disable or cancel of one member takes it out of its group without touching the others.

A random walk at the end drives an engine with groups and one without (every item
single) through the same changes and clock, and compares everything they answer.
"""

from __future__ import annotations

import random

import orjson
import pytest

import btu_scheduler.engine as engine_module
from btu_scheduler.engine import Engine, Fire
from btu_scheduler.heap import MAX_GROUP, MIN_GROUP, Group, Item
from btu_scheduler.loader import Loaded, carry_over
from btu_scheduler.rpcserver import describe_item, item_state, next_instants
from streams.errors import ProtocolError
from streams.keys import Kind
from streams.messages import ScheduleDelete, ScheduleUpsert
from streams.publish import decode_state_groups, decode_state_value

T0 = 1_800_000_000_000  # 2027-01-15T08:00:00Z
SEC = 1_000
MIN = 60 * SEC
GRACE = 5 * MIN


def cron(
    item_id: str,
    expr: str = "* * * * *",
    *,
    tz: str = "UTC",
    ts: int = T0,
    task: str = "task",
    enabled: bool = True,
) -> ScheduleUpsert:
    return ScheduleUpsert(
        id=item_id, kind=Kind.CRON, task=task, enabled=enabled, ts=ts, cron=expr, tz=tz
    )


def once(item_id: str, at: int, ts: int = T0) -> ScheduleUpsert:
    return ScheduleUpsert(id=item_id, kind=Kind.ONCE, task="task", enabled=True, ts=ts, at=at)


def ids(count: int, prefix: str = "TS-") -> list[str]:
    return [f"{prefix}{n:04d}" for n in range(count)]


def loaded(specs: list[ScheduleUpsert], now: int = T0 + 1, **last: int) -> Engine:
    engine = Engine(grace_ms=GRACE)
    engine.load(specs, last, now)
    return engine


def fired(fires: list[Fire]) -> list[tuple[str, int, str]]:
    return sorted((f.id, f.due, f.task) for f in fires)


def groups_of(engine: Engine) -> list[list[str]]:
    return sorted(sorted(g.ids) for g in engine.armed.groups())


class TestMaking:
    def test_items_sharing_expression_zone_and_instant_are_one_group(self) -> None:
        """Eight items of one expression are one group: one heap entry, eight armed."""
        engine = loaded([cron(i) for i in ids(8)])
        assert ([ids(8)], 8, 8, 1, T0 + MIN) == (
            groups_of(engine),
            len(engine.armed),
            engine.armed.armed,
            len(engine.armed._heap),
            engine.next_due(),
        )

    def test_fewer_than_min_group_stay_single(self) -> None:
        """Three items of one expression stay three items."""
        engine = loaded([cron(i) for i in ids(MIN_GROUP - 1)])
        assert ([], MIN_GROUP - 1) == (groups_of(engine), len(engine.armed._heap))

    def test_groups_split_by_zone_task_enabled_and_expression(self) -> None:
        """Only items equal in all but id and ts share a group."""
        specs = [
            *(cron(f"A{n}") for n in range(4)),
            *(cron(f"B{n}", tz="Europe/Paris") for n in range(4)),
            *(cron(f"C{n}", task="other") for n in range(4)),
            *(cron(f"D{n}", enabled=False) for n in range(4)),
            *(cron(f"E{n}", "*/5 * * * *", ts=T0 + n) for n in range(4)),
        ]
        engine = loaded(specs)
        expected = [[f"{p}{n}" for n in range(4)] for p in "ABCDE"]
        assert (expected, 16) == (groups_of(engine), engine.armed.armed)

    def test_a_big_bucket_is_cut_into_groups_of_at_most_max_group(self) -> None:
        """2,500 items of one expression: three groups, every item armed and fired."""
        engine = loaded([cron(i) for i in ids(2_500)])
        sizes = sorted(len(g) for g in engine.armed.groups())
        fires = engine.due(T0 + MIN)
        assert ([452, MAX_GROUP, MAX_GROUP], 2_500, set(ids(2_500))) == (
            sizes,
            engine.armed.armed,
            {f.id for f in fires},
        )

    def test_members_with_different_last_fires_are_held_apart(self) -> None:
        """Members whose last fire differs (some were fired before the restart, some never)
        are held apart, each with its own last fire; all are armed at the next instant."""
        specs = [cron(i, ts=T0 - 10 * MIN) for i in ids(4)] + [cron(i) for i in ids(8)[4:]]
        engine = Engine(grace_ms=GRACE)
        last = {i: T0 for i in ids(4)}  # fired at T0; the others published at T0, never fired
        catch_up = engine.load(specs, last, T0 + 1)
        assert ([], [ids(8)[:4], ids(8)[4:]], [T0] * 4 + [None] * 4, {T0 + MIN}) == (
            catch_up,
            groups_of(engine),
            [engine.armed.get(i).last_fired for i in ids(8)],  # type: ignore[union-attr]
            {engine.armed.get(i).due for i in ids(8)},  # type: ignore[union-attr]
        )
        assert ids(8) == sorted(f.id for f in engine.due(T0 + MIN))

    def test_a_bad_expression_reports_every_member(self) -> None:
        """A bucket whose expression does not compile reports each member to on_error."""
        bad: list[str] = []
        engine = Engine(grace_ms=GRACE)
        engine.load(
            [cron(i, "61 * * * *") for i in ids(5)] + [cron("OK")],
            {},
            T0,
            on_error=lambda spec, _e: bad.append(spec.id),
        )
        assert (ids(5), ["OK"]) == (sorted(bad), [i.id for i in engine.armed])


class TestFiring:
    def test_every_member_fires_once_at_the_shared_instant(self) -> None:
        """At the instant each member fires once (its own fire_id); the group is re-armed
        at the next instant and fires again there."""
        engine = loaded([cron(i) for i in ids(6)])
        first = engine.due(T0 + MIN)
        again = engine.due(T0 + MIN + 30 * SEC)
        second = engine.due(T0 + 2 * MIN)
        assert (
            [(i, T0 + MIN, "task") for i in ids(6)],
            [],
            [(i, T0 + 2 * MIN, "task") for i in ids(6)],
            {f"{i}@{T0 + MIN}" for i in ids(6)},
            T0 + 3 * MIN,
            6,
        ) == (
            fired(first),
            again,
            fired(second),
            {f.fire_id for f in first},
            engine.next_due(),
            engine.armed.armed,
        )

    def test_passed_instants_coalesce_and_are_missed_beyond_grace(self) -> None:
        """A group due long ago fires once, at its latest instant; a late one is missed."""
        engine = loaded([cron(i) for i in ids(5)])
        late = engine.due(T0 + 10 * MIN + 5 * SEC)
        assert ({(T0 + 10 * MIN, False)}, 5, T0 + 11 * MIN) == (
            {(f.due, f.missed) for f in late},
            len(late),
            engine.next_due(),
        )
        engine = loaded([cron(i, "0 * * * *") for i in ids(5)], now=T0 - 1)
        missed = engine.due(T0 + 10 * MIN)
        assert {(T0, True)} == {(f.due, f.missed) for f in missed}

    def test_members_fire_with_single_items_due_at_the_same_instant(self) -> None:
        """A group and single items due together all fire, each once."""
        engine = loaded([*(cron(i) for i in ids(5)), cron("SOLO", task="solo")])
        engine.apply(once("RL-1", T0 + MIN), T0 + 2)
        assert [*((i, T0 + MIN) for i in ["RL-1", "SOLO", *ids(5)])] == sorted(
            (f.id, f.due) for f in engine.due(T0 + MIN)
        )

    def test_last_fired_of_members_follows_the_group(self) -> None:
        """After a group fires, each member's last fire is that instant."""
        engine = loaded([cron(i) for i in ids(4)])
        engine.due(T0 + MIN)
        assert {T0 + MIN} == {engine.armed.get(i).last_fired for i in ids(4)}  # type: ignore[union-attr]


class TestSplitting:
    def test_upsert_to_another_expression_moves_only_that_member(self) -> None:
        """A member moved to another expression leaves the group: it fires at its new
        instants, the others at theirs, each once."""
        engine = loaded([cron(i) for i in ids(6)])
        applied = engine.apply(cron("TS-0002", "*/5 * * * *", ts=T0 + 2), T0 + 2)
        at_1 = engine.due(T0 + MIN)
        engine.due(T0 + 4 * MIN)
        at_5 = engine.due(T0 + 5 * MIN)
        others = [i for i in ids(6) if i != "TS-0002"]
        assert (
            ("rearmed", T0 + 5 * MIN),
            sorted(others),
            sorted([*others, "TS-0002"]),
            [others],
            6,
        ) == (
            (applied.action, applied.due),
            sorted(f.id for f in at_1),
            sorted(f.id for f in at_5),
            groups_of(engine),
            engine.armed.armed,
        )
        item = engine.armed.get("TS-0002")
        assert item is not None and ("*/5 * * * *", T0 + 2) == (item.spec.cron, item.spec.ts)

    def test_upsert_changing_only_ts_keeps_the_member_in_its_group(self) -> None:
        """An upsert that changes nothing about timing keeps the member (and its instant);
        its spec answers with the new ts."""
        engine = loaded([cron(i) for i in ids(5)])
        applied = engine.apply(cron("TS-0001", ts=T0 + 7), T0 + 7)
        item = engine.armed.get("TS-0001")
        assert item is not None
        assert (("unchanged", T0 + MIN), T0 + 7, [ids(5)], T0) == (
            (applied.action, applied.due),
            item.spec.ts,
            groups_of(engine),
            engine.armed.get("TS-0000").spec.ts,  # type: ignore[union-attr]
        )

    def test_upsert_changing_the_task_detaches_the_member(self) -> None:
        """A new task keeps the instant but not the group: the member fires with it."""
        engine = loaded([cron(i) for i in ids(5)])
        applied = engine.apply(cron("TS-0001", ts=T0 + 7, task="renamed"), T0 + 7)
        fires = engine.due(T0 + MIN)
        assert (("unchanged", T0 + MIN), "renamed", 5, 5) == (
            (applied.action, applied.due),
            {f.id: f.task for f in fires}["TS-0001"],
            len(fires),
            engine.armed.armed,
        )
        assert "TS-0001" not in groups_of(engine)[0]

    def test_delete_of_a_member(self) -> None:
        """A deleted member never fires again; the others still do."""
        engine = loaded([cron(i) for i in ids(5)])
        applied = engine.apply(ScheduleDelete(id="TS-0003", ts=T0 + 2), T0 + 2)
        fires = engine.due(T0 + MIN)
        assert ("removed", None, 4, 4, [i for i in ids(5) if i != "TS-0003"]) == (
            applied.action,
            engine.armed.get("TS-0003"),
            len(engine.armed),
            engine.armed.armed,
            sorted(f.id for f in fires),
        )
        assert [("TS-0003", T0 + 2)] == engine.take_deleted()

    def test_deleting_every_member_leaves_nothing_armed(self) -> None:
        """The group's heap entry goes stale once its last member is gone."""
        engine = loaded([cron(i) for i in ids(4)])
        for i in ids(4):
            engine.apply(ScheduleDelete(id=i, ts=T0 + 2), T0 + 2)
        assert (0, 0, None, []) == (
            len(engine.armed),
            engine.armed.armed,
            engine.next_due(),
            engine.due(T0 + MIN),
        )

    def test_disable_of_a_member(self) -> None:
        """A member disabled by an upsert is disarmed alone; re-enabled it fires again."""
        engine = loaded([cron(i) for i in ids(5)])
        applied = engine.apply(cron("TS-0000", enabled=False, ts=T0 + 3), T0 + 3)
        first = engine.due(T0 + MIN)
        engine.apply(cron("TS-0000", ts=T0 + MIN + 3), T0 + MIN + 3)
        second = engine.due(T0 + 2 * MIN)
        assert ("disarmed", 4, ids(5)[1:], ids(5), 5) == (
            applied.action,
            len(first),
            sorted(f.id for f in first),
            sorted(f.id for f in second),
            engine.armed.armed,
        )

    def test_cancel_of_a_member(self) -> None:
        """A cancelled member is disarmed alone until its next upsert."""
        engine = loaded([cron(i) for i in ids(5)])
        cancelled = engine.cancel("TS-0004")
        again = engine.cancel("TS-0004")
        fires = engine.due(T0 + MIN)
        item = engine.armed.get("TS-0004")
        assert (True, False, ids(4), None, 4) == (
            cancelled,
            again,
            sorted(f.id for f in fires),
            item.due if item else "gone",
            engine.armed.armed,
        )
        engine.apply(cron("TS-0004", ts=T0 + MIN + 1), T0 + MIN + 1)
        assert ids(5) == sorted(f.id for f in engine.due(T0 + 2 * MIN))

    def test_bad_expression_upsert_of_a_member_removes_it(self) -> None:
        """An upsert of a member that does not compile disarms (removes) it alone."""
        from streams.errors import CronError

        engine = loaded([cron(i) for i in ids(5)])
        with pytest.raises(CronError):
            engine.apply(cron("TS-0000", "61 * * * *", ts=T0 + 2), T0 + 2)
        assert (None, 4) == (engine.armed.get("TS-0000"), len(engine.due(T0 + MIN)))


class TestPromotionAndResync:
    def test_skip_fired_splits_a_group_the_old_leader_fired_in_part(self) -> None:
        """Members whose last-fire shows the instant claimed move on; the rest fire."""
        engine = loaded([cron(i) for i in ids(8)])
        last = {i: T0 + MIN for i in ids(8)[:3]}
        skipped = engine.skip_fired(last, T0 + MIN)
        fires = engine.due(T0 + MIN)
        assert (3, ids(8)[3:], 8, T0 + 2 * MIN) == (
            skipped,
            sorted(f.id for f in fires),
            engine.armed.armed,
            engine.next_due(),
        )
        assert ids(8) == sorted(f.id for f in engine.due(T0 + 2 * MIN))

    def test_skip_fired_moves_a_whole_group_on(self) -> None:
        """All members fired by the old leader: the group moves on in one piece."""
        engine = loaded([cron(i) for i in ids(8)])
        skipped = engine.skip_fired({i: T0 + MIN for i in ids(8)}, T0 + MIN)
        assert (8, [], [ids(8)], T0 + 2 * MIN) == (
            skipped,
            engine.due(T0 + MIN),
            groups_of(engine),
            engine.next_due(),
        )

    def test_due_ids_lists_members_and_changes_nothing(self) -> None:
        engine = loaded([cron(i) for i in ids(5)])
        assert (ids(5), ids(5)) == (
            sorted(engine.due_ids(T0 + MIN)),
            sorted(f.id for f in engine.due(T0 + MIN)),
        )

    def test_carry_over_skips_what_the_old_engine_fired(self) -> None:
        """A resync built while the old engine fired a group does not fire it again."""
        specs = [cron(i, ts=T0 - 10 * MIN) for i in ids(6)]
        old = loaded(specs, now=T0 - 1)
        assert 6 == len(old.due(T0))  # the old engine fires the T0 instant
        new = Engine(grace_ms=GRACE)
        catch_up = new.load(specs, {}, T0 - 1)  # built from a snapshot read just before
        result = Loaded(new, catch_up, "0-0", 0, "0-0", {}, [], T0 - 1, 0.0)
        again = carry_over(old, result, T0 + 1)
        assert ([], [], T0 + MIN) == (again, new.due(T0 + 1), new.next_due())


class TestAnswers:
    def test_upcoming_orders_members_and_items_by_instant_then_id(self) -> None:
        """``next`` lists each member, ties broken by id, across groups and items."""
        engine = loaded(
            [
                *(cron(f"B{n}") for n in range(4)),
                *(cron(f"A{n}", "*/2 * * * *") for n in range(4)),
                cron("AA"),
            ]
        )
        engine.apply(once("RL-1", T0 + 30 * SEC), T0 + 2)
        assert [
            (T0 + 30 * SEC, "RL-1"),
            (T0 + MIN, "AA"),
            (T0 + MIN, "B0"),
            (T0 + MIN, "B1"),
            (T0 + MIN, "B2"),
            (T0 + MIN, "B3"),
            (T0 + 2 * MIN, "A0"),
        ] == engine.upcoming(7)
        assert [(T0 + 30 * SEC, "RL-1"), (T0 + MIN, "AA")] == engine.upcoming(2)

    def test_members_answer_like_items(self) -> None:
        """What ``list``, ``reload`` and ``status`` read of a member: its spec, instant,
        state and next instants, the same as a single item's."""
        grouped = loaded([cron(i, "*/15 * * * *", tz="Europe/Paris") for i in ids(5)])
        single = loaded([cron("TS-0000", "*/15 * * * *", tz="Europe/Paris")])
        member, alone = grouped.armed.get("TS-0000"), single.armed.get("TS-0000")
        assert member is not None and alone is not None
        assert (describe_item(alone), item_state(alone, T0), next_instants(alone, T0)) == (
            describe_item(member),
            item_state(member, T0),
            next_instants(member, T0),
        )
        listed = {item.id: (item.due, item.spec) for item in grouped.armed}
        assert {i: (T0 + 15 * MIN, cron(i, "*/15 * * * *", tz="Europe/Paris")) for i in ids(5)} == (
            listed
        )

    def test_a_member_copy_changes_nothing(self) -> None:
        """get() answers a member with a copy: changing it leaves the group as it was."""
        engine = loaded([cron(i) for i in ids(5)])
        copy = engine.armed.get("TS-0000")
        assert isinstance(copy, Item) and isinstance(engine.armed.entry("TS-0000"), Group)
        copy.due = None
        assert (T0 + MIN, 5) == (engine.armed.get("TS-0000").due, engine.armed.armed)  # type: ignore[union-attr]


class TestDecodeGroups:
    def test_snapshot_decoded_in_groups_matches_item_by_item(self) -> None:
        """decode_state_groups gives the same items and the same bad ids as
        decode_state_value per item, for ordinary values and for values made to fool a
        decoder that reads only the id and ts."""

        def raw(item_id: str, **changes: str) -> bytes:
            fields = cron(item_id, "0 2 * * *").encode() | changes
            return orjson.dumps(fields)

        def onceraw(item_id: str, **changes: str) -> bytes:
            return orjson.dumps(once(item_id, T0 + MIN).encode() | changes)

        def text(value: str) -> bytes:
            return value.encode()

        items: dict[bytes, bytes] = {f"TS-{n}".encode(): raw(f"TS-{n}") for n in range(20)}
        items |= {f"TT-{n}".encode(): raw(f"TT-{n}", ts=str(T0 + n)) for n in range(10)}
        tricky = {
            "B-ts-letters": raw("B-ts-letters", ts="12a"),
            "B-ts-big": raw("B-ts-big", ts="9" * 16),
            "B-ts-neg": raw("B-ts-neg", ts="-5"),
            "B-ts-zero-neg": raw("B-ts-zero-neg", ts="-0"),
            "B-id-other": raw("B-id-other", id="X"),
            "B-cron": raw("B-cron", cron="61 * * * *"),
            "B-kind": raw("B-kind", kind="once"),
            "B-json": b"not json",
            "B-list": b"[1, 2]",
            "B-delete": orjson.dumps({"v": "1", "op": "delete", "id": "B-delete", "ts": "1"}),
            "Q-once": orjson.dumps(once("Q-once", T0 + MIN).encode()),
            "Q-dup-ts": raw("Q-dup-ts")[:-1] + b',"ts":"5"}',
            "Q-dup-id": raw("Q-dup-id")[:-1] + b',"id":"Q-dup-id"}',
            "Q-dup-id-other": raw("Q-dup-id-other")[:-1] + b',"id":"OTHER"}',
            "Q-extra": raw("Q-extra")[:-1] + b',"x":",\\"ts\\":\\"7"}',
            "Q-escaped-task": raw("Q-escaped-task", task='a"b\\c'),
            "Q-unicode-é": raw("Q-unicode-é"),
            "Q space": raw("Q space"),
            "Q\x01ctl": raw("Q-ctl", id="Q\x01ctl"),
            " ": raw("Q-blank", id=" "),
            "Q-reordered": orjson.dumps(dict(reversed(list(cron("Q-reordered").encode().items())))),
            "Q-spaces": raw("Q-spaces").replace(b",", b", "),
            "Q-v2": raw("Q-v2", v="2"),
            "O-at-letters": onceraw("O-at-letters", at="1x"),
            "O-at-big": onceraw("O-at-big", at="9" * 16),
            "O-at-neg": onceraw("O-at-neg", at="-3"),
            "O-dup-at": onceraw("O-dup-at")[:-1] + b',"at":"5"}',
            "O-dup-ts": onceraw("O-dup-ts")[:-1] + b',"ts":"5"}',
            "O-cron-field": onceraw("O-cron-field", cron="* * * * *"),
            "O-at-first": orjson.dumps(
                {"at": str(T0), **once("O-at-first", T0).encode(), "x": "1"}
            ),
        }
        items |= {f"O-{n}".encode(): onceraw(f"O-{n}", at=str(T0 + n)) for n in range(10)}
        items |= {text(k): v for k, v in tricky.items()}
        # Same shape as a good template, seen later, with an id the fast way must refuse.
        items[b'Q-quote"'] = raw("Q-quote", id='Q-quote"')
        expected_good: dict[str, ScheduleUpsert] = {}
        expected_bad: set[str] = set()
        for key, value in items.items():
            item_id = key.decode()
            try:
                expected_good[item_id] = decode_state_value(item_id, value)
            except ProtocolError:
                expected_bad.add(item_id)
        for order in (list(items.items()), list(reversed(items.items()))):
            decoded = decode_state_groups(dict(order))
            assert (expected_good, expected_bad, set(expected_good) | expected_bad) == (
                {spec.id: spec for spec in decoded.specs()},
                {item_id for item_id, _raw, _error in decoded.bad},
                set(decoded.ids),
            )

    def test_text_clients_decode_the_same(self) -> None:
        """A client that decodes responses gives text ids and values: same result."""
        specs = [cron(i) for i in ids(5)]
        as_text: dict[bytes | str, bytes | str] = {
            s.id: orjson.dumps(s.encode()).decode() for s in specs
        }
        assert sorted(specs, key=lambda s: s.id) == sorted(
            decode_state_groups(as_text).specs(), key=lambda s: s.id
        )

    def test_one_group_per_shape_sharing_fields(self) -> None:
        """Items published at different times (different ts) share a group."""
        items = {
            i.encode(): orjson.dumps(cron(i, ts=T0 + n).encode()) for n, i in enumerate(ids(50))
        }
        decoded = decode_state_groups(items)
        [group] = decoded.groups
        assert (50, [T0 + n for n in range(50)], {}) == (
            len(group.ids),
            sorted(group.ts),
            items,
        )


# -- a random walk: groups change nothing that can be seen ------------------------------

EXPRS = ["* * * * *", "*/2 * * * *", "*/3 * * * *", "0 * * * *"]


def random_spec(rng: random.Random, item_id: str, ts: int) -> ScheduleUpsert:
    if rng.random() < 0.1:
        return once(item_id, ts + rng.randrange(0, 5 * MIN, SEC), ts=ts)
    return cron(
        item_id,
        rng.choice(EXPRS),
        tz=rng.choice(["UTC", "Europe/Paris"]),
        ts=ts,
        task=rng.choice(["task", "task", "other"]),
        enabled=rng.random() > 0.05,
    )


def observe(engine: Engine, now: int) -> object:
    items = {
        item.id: (item.spec, item.due, item.last_fired, item_state(item, now))
        for item in engine.armed
    }
    listed = [(i.id, i.due, i.spec, i.last_fired) for i in engine.armed.listing().first(30)]
    return (
        items,
        engine.armed.armed,
        len(engine.armed),
        engine.next_due(),
        engine.upcoming(25),
        listed,
    )


@pytest.mark.parametrize("seed", range(6))
def test_random_walk_with_groups_answers_as_without(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under random upserts, deletes, cancels, promotions and time, an engine holding
    groups fires and answers exactly as one holding every item single."""
    rng = random.Random(seed)
    now = T0 - 30 * SEC
    state = {i: random_spec(rng, i, now - 10 * MIN) for i in ids(120)}
    last = {i: T0 - 2 * MIN for i in ids(120) if rng.random() < 0.3}
    grouped = Engine(grace_ms=GRACE)
    catch_grouped = grouped.load(list(state.values()), last, now)
    assert grouped.armed.groups(), "the walk must start with groups"
    plain = Engine(grace_ms=GRACE)
    with monkeypatch.context() as m:
        m.setattr(engine_module, "MIN_GROUP", 10**9)
        catch_plain = plain.load(list(state.values()), last, now)
    assert not plain.armed.groups()
    assert fired(catch_plain) == fired(catch_grouped)
    for _step in range(200):
        now += rng.choice([SEC, 7 * SEC, 30 * SEC, MIN, 3 * MIN])
        roll = rng.random()
        item_id = rng.choice(ids(125))
        if roll < 0.25:
            spec = random_spec(rng, item_id, now)
            if rng.random() < 0.5 and item_id in state:  # a republish: timing unchanged
                spec = ScheduleUpsert._validated(item_id, state[item_id], now, state[item_id].at)
            state[item_id] = spec
            results = [e.apply(spec, now) for e in (grouped, plain)]
        elif roll < 0.32:
            state.pop(item_id, None)
            results = [e.apply(ScheduleDelete(id=item_id, ts=now), now) for e in (grouped, plain)]
        elif roll < 0.38:
            results = [e.cancel(item_id) for e in (grouped, plain)]  # type: ignore[misc]
        elif roll < 0.42:
            claimed = {i: now for i in ids(125) if rng.random() < 0.5}
            results = [e.skip_fired(claimed, now) for e in (grouped, plain)]  # type: ignore[misc]
        else:
            results = [fired(e.due(now)) for e in (grouped, plain)]  # type: ignore[misc]
        assert results[0] == results[1], f"step {_step}"
        assert observe(grouped, now) == observe(plain, now), f"step {_step}"


def test_rpc_schedules_and_next_answer_for_members_as_for_single_items() -> None:
    """The ``schedules`` and ``next`` RPCs answer the same, row for row, whether items
    are held in groups or each alone."""
    from btu_scheduler.rpcserver import RpcHandler
    from tests.test_rpcserver import FakeDaemon

    specs = [
        *(cron(f"B{n:02d}", "*/2 * * * *", tz="Europe/Paris") for n in range(12)),
        *(cron(f"A{n:02d}") for n in range(6)),
        cron("C00"),
        cron("D00", enabled=False),
        *(cron(f"E{n:02d}", enabled=False) for n in range(5)),
        once("RL-1", T0 + 90 * SEC),
    ]
    answers = []
    for min_group in (MIN_GROUP, 10**9):
        daemon = FakeDaemon()
        daemon.now = T0 + 1
        mp = pytest.MonkeyPatch()
        mp.setattr(engine_module, "MIN_GROUP", min_group)
        daemon.engine.load(specs, {}, daemon.now)
        mp.undo()
        assert bool(daemon.engine.armed.groups()) == (min_group == MIN_GROUP)
        daemon.engine.cancel("A03")
        rpc = RpcHandler(daemon)
        answers.append(
            (rpc.handle("schedules", "15"), rpc.handle("schedules", None), rpc.handle("next", "9"))
        )
    assert answers[0] == answers[1]


def test_engine_built_from_grouped_decoding_equals_one_built_item_by_item() -> None:
    """Start-up's path (decode_state_groups, then load with groups) arms the same items,
    with the same catch-up fires, as decoding each value and loading the specs."""
    from streams.publish import decode_state_values

    rng = random.Random(7)
    specs = [random_spec(rng, f"TS-{n:04d}", T0 - (n % 3) * 10 * MIN) for n in range(400)]
    items = {s.id.encode(): orjson.dumps(s.encode()) for s in specs}
    items[b"BAD"] = b"{}"
    last = {s.id: T0 - 2 * MIN for s in specs[::5]}
    now = T0 + 30 * SEC
    decoded = decode_state_groups(dict(items))
    grouped = Engine(grace_ms=GRACE)
    catch_grouped = grouped.load(decoded.singles, last, now, groups=decoded.groups)
    good, bad = decode_state_values({k.decode(): v for k, v in items.items()})
    plain = Engine(grace_ms=GRACE)
    catch_plain = plain.load(good, last, now)
    assert grouped.armed.groups() and ["BAD"] == [b[0] for b in bad] == [b[0] for b in decoded.bad]
    assert fired(catch_plain) == fired(catch_grouped)
    assert observe(plain, now) == observe(grouped, now)
    assert fired(plain.due(now + 5 * MIN)) == fired(grouped.due(now + 5 * MIN))
