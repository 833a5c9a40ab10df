"""The armed set: every item the daemon knows, and a min-heap of next fire instants.

Arming, re-arming and disarming are O(log n): a change pushes a new heap entry and the
old one becomes stale (recognised by its sequence number) and is skipped when it reaches
the top. The heap is rebuilt when stale entries outnumber live ones, so memory stays
proportional to the number of armed items.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from streams.cron import CronSchedule
from streams.messages import ScheduleUpsert


@dataclass(slots=True)
class Item:
    """One schedule or run-later item as the daemon holds it."""

    spec: ScheduleUpsert
    schedule: CronSchedule | None  # None for kind=once
    due: int | None = None  # next fire instant (epoch ms), None when disarmed
    seq: int = 0  # sequence of the heap entry that is current for this item
    last_fired: int | None = None  # due (ms) of the last fire claimed for this item

    @property
    def id(self) -> str:
        return self.spec.id


class ArmedSet:
    """Items by id plus a lazily-cleaned heap of ``(due, seq, id)``."""

    def __init__(self) -> None:
        self.items: dict[str, Item] = {}
        self._heap: list[tuple[int, int, str]] = []
        self._seq = itertools.count(1)
        self._armed = 0

    def __len__(self) -> int:
        return len(self.items)

    @property
    def armed(self) -> int:
        """How many items have a next fire instant."""
        return self._armed

    def get(self, item_id: str) -> Item | None:
        return self.items.get(item_id)

    def put(self, item: Item) -> None:
        """Insert or replace an item; its ``due`` decides whether it is armed."""
        old = self.items.get(item.id)
        if old is not None and old.due is not None:
            self._armed -= 1
        self.items[item.id] = item
        self._arm(item, item.due)
        self._maybe_compact()

    def set_due(self, item: Item, due: int | None) -> None:
        """Re-arm (or, with None, disarm) an item already in the set."""
        if item.due is not None:
            self._armed -= 1
        self._arm(item, due)
        self._maybe_compact()

    def remove(self, item_id: str) -> Item | None:
        item = self.items.pop(item_id, None)
        if item is not None and item.due is not None:
            self._armed -= 1
            item.due = None
        self._maybe_compact()
        return item

    def load(self, items: Iterable[Item]) -> None:
        """Bulk start-up: replace everything and heapify once (O(n))."""
        self.items = {}
        heap: list[tuple[int, int, str]] = []
        armed = 0
        for item in items:
            self.items[item.id] = item
            if item.due is not None:
                item.seq = next(self._seq)
                heap.append((item.due, item.seq, item.id))
                armed += 1
        heapq.heapify(heap)
        self._heap = heap
        self._armed = armed

    def peek_due(self) -> int | None:
        """The earliest next fire instant, or None when nothing is armed."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now_ms: int) -> list[tuple[Item, int]]:
        """Disarm and return every ``(item, due)`` due at or before ``now_ms``, earliest
        first; the caller re-arms them."""
        out: list[tuple[Item, int]] = []
        heap = self._heap
        while heap:
            due, seq, item_id = heap[0]
            item = self.items.get(item_id)
            if item is None or item.seq != seq or item.due != due:
                heapq.heappop(heap)
                continue
            if due > now_ms:
                break
            heapq.heappop(heap)
            item.due = None
            self._armed -= 1
            out.append((item, due))
        return out

    def upcoming(self, count: int) -> list[tuple[int, str]]:
        """The next ``count`` (due, id) pairs, earliest first, without changing anything."""
        live = (
            (due, item_id)
            for due, seq, item_id in self._heap
            if (item := self.items.get(item_id)) is not None and item.seq == seq and item.due == due
        )
        return heapq.nsmallest(count, live)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items.values())

    def _arm(self, item: Item, due: int | None) -> None:
        item.due = due
        if due is None:
            item.seq = 0
            return
        item.seq = next(self._seq)
        heapq.heappush(self._heap, (due, item.seq, item.id))
        self._armed += 1

    def _drop_stale(self) -> None:
        heap = self._heap
        while heap:
            due, seq, item_id = heap[0]
            item = self.items.get(item_id)
            if item is not None and item.seq == seq and item.due == due:
                return
            heapq.heappop(heap)

    def _maybe_compact(self) -> None:
        if len(self._heap) > 1024 and len(self._heap) > 2 * self._armed + 1024:
            self._heap = [
                (due, seq, item_id)
                for due, seq, item_id in self._heap
                if (item := self.items.get(item_id)) is not None
                and item.seq == seq
                and item.due == due
            ]
            heapq.heapify(self._heap)
