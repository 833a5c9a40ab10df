"""The armed set (btu_scheduler/heap.py): counts, due order, stale entries, compaction."""

from __future__ import annotations

import pytest

from btu_scheduler.heap import ArmedSet, Item
from streams.keys import Kind
from streams.messages import ScheduleUpsert

T0 = 1_800_000_000_000


def make_item(item_id: str, due: int | None) -> Item:
    """A run-later item armed at ``due`` (or disarmed with None)."""
    spec = ScheduleUpsert(
        id=item_id, kind=Kind.ONCE, task="t", enabled=True, ts=T0, at=due if due else T0
    )
    return Item(spec=spec, schedule=None, due=due)


def filled(*pairs: tuple[str, int | None]) -> ArmedSet:
    armed = ArmedSet()
    for item_id, due in pairs:
        armed.put(make_item(item_id, due))
    return armed


class TestCounts:
    def test_put_counts_only_armed_items(self) -> None:
        """Putting items counts the ones with a due instant as armed, all of them as known."""
        armed = filled(("a", T0 + 1), ("b", None), ("c", T0 + 2))
        assert (3, 2) == (len(armed), armed.armed)

    def test_put_replacing_an_armed_item_keeps_the_count(self) -> None:
        """Replacing an armed item with another armed one leaves one armed item."""
        armed = filled(("a", T0 + 1))
        armed.put(make_item("a", T0 + 5))
        assert (1, 1, [(T0 + 5, "a")]) == (len(armed), armed.armed, armed.upcoming(10))

    def test_put_disarmed_replacement_decrements(self) -> None:
        """Replacing an armed item with a disarmed one leaves nothing armed."""
        armed = filled(("a", T0 + 1))
        armed.put(make_item("a", None))
        assert (1, 0, None) == (len(armed), armed.armed, armed.peek_due())

    def test_rearm_keeps_count(self) -> None:
        """Re-arming an armed item with set_due keeps the armed count at one."""
        armed = filled(("a", T0 + 1))
        item = armed.get("a")
        assert item is not None
        armed.set_due(item, T0 + 9)
        armed.set_due(item, T0 + 3)
        assert (1, T0 + 3) == (armed.armed, armed.peek_due())

    def test_disarm_then_rearm(self) -> None:
        """Disarming with set_due(None) drops the count; arming again restores it."""
        armed = filled(("a", T0 + 1), ("b", T0 + 2))
        item = armed.get("a")
        assert item is not None
        armed.set_due(item, None)
        after_disarm = (armed.armed, armed.peek_due(), item.due)
        armed.set_due(item, T0 + 7)
        assert ((1, T0 + 2, None), 2) == (after_disarm, armed.armed)

    def test_disarm_twice_counts_once(self) -> None:
        """Disarming an already disarmed item does not make the count negative."""
        armed = filled(("a", T0 + 1))
        item = armed.get("a")
        assert item is not None
        armed.set_due(item, None)
        armed.set_due(item, None)
        assert 0 == armed.armed

    def test_remove(self) -> None:
        """Removing an armed item forgets it and decrements the armed count."""
        armed = filled(("a", T0 + 1), ("b", None))
        removed = armed.remove("a")
        assert (True, None, 1, 0, None) == (
            removed is not None,
            armed.get("a"),
            len(armed),
            armed.armed,
            armed.peek_due(),
        )

    def test_remove_disarmed_and_unknown(self) -> None:
        """Removing a disarmed item or an unknown id leaves the armed count alone."""
        armed = filled(("a", T0 + 1), ("b", None))
        armed.remove("b")
        unknown = armed.remove("nope")
        assert (None, 1, 1) == (unknown, len(armed), armed.armed)


class TestPopDue:
    def test_returns_due_items_earliest_first(self) -> None:
        """pop_due returns (item, due) for every item due at or before now, earliest first."""
        armed = filled(("c", T0 + 30), ("a", T0 + 10), ("late", T0 + 100), ("b", T0 + 20))
        popped = armed.pop_due(T0 + 30)
        assert [("a", T0 + 10), ("b", T0 + 20), ("c", T0 + 30)] == [
            (item.id, due) for item, due in popped
        ]

    def test_popped_items_are_disarmed(self) -> None:
        """Popped items have no due instant and no longer count as armed; the rest stays."""
        armed = filled(("a", T0 + 10), ("late", T0 + 100))
        [(item, _due)] = armed.pop_due(T0 + 50)
        assert (None, 1, T0 + 100, 2) == (item.due, armed.armed, armed.peek_due(), len(armed))

    def test_nothing_due(self) -> None:
        """pop_due before the earliest instant returns nothing and changes nothing."""
        armed = filled(("a", T0 + 10))
        assert ([], 1, T0 + 10) == (armed.pop_due(T0 + 9), armed.armed, armed.peek_due())

    def test_stale_entries_skipped_after_rearm(self) -> None:
        """An item re-armed later is not returned for its old instant, only for its new one."""
        armed = filled(("a", T0 + 10), ("b", T0 + 20))
        item = armed.get("a")
        assert item is not None
        armed.set_due(item, T0 + 50)
        first = [(i.id, d) for i, d in armed.pop_due(T0 + 30)]
        second = [(i.id, d) for i, d in armed.pop_due(T0 + 50)]
        assert ([("b", T0 + 20)], [("a", T0 + 50)]) == (first, second)

    def test_rearm_earlier_fires_once(self) -> None:
        """An item re-armed to an earlier instant is returned once, at the new instant."""
        armed = filled(("a", T0 + 50))
        item = armed.get("a")
        assert item is not None
        armed.set_due(item, T0 + 10)
        assert [("a", T0 + 10)] == [(i.id, d) for i, d in armed.pop_due(T0 + 100)]

    def test_removed_and_replaced_items_skipped(self) -> None:
        """Heap entries of removed or replaced items are never returned."""
        armed = filled(("a", T0 + 10), ("b", T0 + 20))
        armed.remove("a")
        armed.put(make_item("b", T0 + 40))
        assert [("b", T0 + 40)] == [(i.id, d) for i, d in armed.pop_due(T0 + 100)]

    def test_peek_due_skips_stale(self) -> None:
        """peek_due reports the earliest live instant, not a stale one."""
        armed = filled(("a", T0 + 10), ("b", T0 + 20))
        item = armed.get("a")
        assert item is not None
        armed.set_due(item, None)
        assert T0 + 20 == armed.peek_due()


class TestUpcoming:
    def test_sorted_and_limited(self) -> None:
        """upcoming(n) lists the n earliest (due, id) pairs in order."""
        armed = filled(("c", T0 + 3), ("a", T0 + 1), ("d", T0 + 4), ("b", T0 + 2), ("x", None))
        assert [(T0 + 1, "a"), (T0 + 2, "b"), (T0 + 3, "c")] == armed.upcoming(3)

    def test_does_not_mutate(self) -> None:
        """upcoming() leaves the heap, the items and the armed count exactly as they were."""
        armed = filled(("c", T0 + 3), ("a", T0 + 1), ("b", T0 + 2))
        item = armed.get("a")
        assert item is not None
        armed.set_due(item, T0 + 9)  # leaves a stale entry behind
        before = (list(armed._heap), armed.armed, {i.id: i.due for i in armed})
        armed.upcoming(2)
        armed.upcoming(100)
        after = (list(armed._heap), armed.armed, {i.id: i.due for i in armed})
        assert before == after

    def test_skips_stale(self) -> None:
        """upcoming() shows each item once, at its current instant."""
        armed = filled(("a", T0 + 1), ("b", T0 + 2))
        item = armed.get("a")
        assert item is not None
        armed.set_due(item, T0 + 5)
        assert [(T0 + 2, "b"), (T0 + 5, "a")] == armed.upcoming(10)


class TestCompaction:
    def test_many_rearms_keep_behaviour_and_bound_memory(self) -> None:
        """5,000 re-arms of 10 items keep the count, the order and a bounded heap."""
        armed = filled(*[(f"i{n}", T0 + n) for n in range(10)])
        items = [armed.get(f"i{n}") for n in range(10)]
        largest_heap = 0
        for round_ in range(500):
            for n, item in enumerate(items):
                assert item is not None
                armed.set_due(item, T0 + 1_000 + round_ * 100 + (9 - n))
                largest_heap = max(largest_heap, len(armed._heap))
        final = T0 + 1_000 + 499 * 100
        expected = [(f"i{n}", final + (9 - n)) for n in reversed(range(10))]
        popped = [(i.id, d) for i, d in armed.pop_due(final + 100)]
        assert (10, expected, 0) == (len(popped), popped, armed.armed)
        assert largest_heap <= 2 * 10 + 1024 + 1

    def test_compaction_after_mass_disarm(self) -> None:
        """Disarming most of 3,000 items leaves the survivors due in order, heap shrunk."""
        armed = filled(*[(f"i{n:04d}", T0 + n) for n in range(3_000)])
        for n in range(3_000):
            if n % 100:
                armed.remove(f"i{n:04d}")
        expected = [(f"i{n:04d}", T0 + n) for n in range(0, 3_000, 100)]
        heap_size = len(armed._heap)
        popped = [(i.id, d) for i, d in armed.pop_due(T0 + 3_000)]
        assert (30, expected, 0) == (len(popped), popped, armed.armed)
        assert heap_size <= 2 * 30 + 1024 + 1


class TestLoad:
    def test_bulk_load(self) -> None:
        """load() replaces everything, counts armed items and pops them in due order."""
        armed = filled(("old", T0))
        armed.load(
            make_item(f"i{n}", None if n % 3 == 0 else T0 + (97 * n) % 1000) for n in range(30)
        )
        expected = sorted(
            ((T0 + (97 * n) % 1000, f"i{n}") for n in range(30) if n % 3), key=lambda p: p
        )
        assert (30, 20, None) == (len(armed), armed.armed, armed.get("old"))
        popped = [(d, i.id) for i, d in armed.pop_due(T0 + 10_000)]
        assert expected == popped

    def test_rearm_after_load(self) -> None:
        """Items loaded in bulk can be re-armed afterwards without a double fire."""
        armed = ArmedSet()
        armed.load([make_item("a", T0 + 10), make_item("b", T0 + 20)])
        item = armed.get("a")
        assert item is not None
        armed.set_due(item, T0 + 30)
        assert [("b", T0 + 20), ("a", T0 + 30)] == [(i.id, d) for i, d in armed.pop_due(T0 + 100)]

    @pytest.mark.parametrize("count", [0, 1, 5_000])
    def test_load_sizes(self, count: int) -> None:
        """load() of 0, 1 and 5,000 items reports them all armed with the earliest first."""
        armed = ArmedSet()
        armed.load(make_item(f"i{n}", T0 + count - n) for n in range(count))
        expected_peek = T0 + 1 if count else None
        assert (count, count, expected_peek) == (len(armed), armed.armed, armed.peek_due())
