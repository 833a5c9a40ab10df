"""The armed set: every item the daemon knows, and a min-heap of next fire instants.

Arming, re-arming and disarming are O(log n): a change pushes a new heap entry and the
old one becomes stale (recognised by its sequence number) and is skipped when it reaches
the top. The heap is rebuilt when stale entries outnumber live ones, so memory stays
proportional to the number of armed items.

Items that share everything about when and what they fire (kind, task, expression, zone,
enabled), their next instant and their last fire are held as one :class:`Group`: one
heap entry and one object for all of them, each member costing its id, its ``ts`` and a
slot in the index (a million items loaded take less than half the memory they took
as :class:`Item` objects). Groups of :data:`MIN_GROUP` to :data:`MAX_GROUP` members are
made at start-up and resync (:meth:`ArmedSet.load`); a member that an upsert, a delete,
a disable or a cancel treats differently from the rest leaves its group and becomes an
:class:`Item` of its own (:meth:`ArmedSet.detach`), and a promotion that finds a group
fired in part splits it (:meth:`ArmedSet.split`).
:meth:`ArmedSet.get` answers for a member with an :class:`Item` built on the spot (a
copy: changing it changes nothing in the set).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from streams.cron import CronSchedule
from streams.messages import ScheduleUpsert

# Fewer items than this sharing expression, zone and instant are kept as single items.
MIN_GROUP = 4
# A group holds at most this many: finding a member in it (a change of one item) stays
# cheap whatever the number of items sharing an expression.
MAX_GROUP = 1024


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


@dataclass(slots=True, eq=False)
class Group:
    """Cron items that fire together: same ``model`` but for the id and ``ts``, same
    next instant, same last fire. ``ids[i]`` has the upsert ``ts[i]``."""

    model: ScheduleUpsert  # kind, task, cron, tz, enabled of every member
    schedule: CronSchedule
    ids: list[str]
    ts: list[int]
    due: int | None = None
    seq: int = 0
    last_fired: int | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def spec_of(self, index: int) -> ScheduleUpsert:
        return ScheduleUpsert._validated(self.ids[index], self.model, self.ts[index], None)

    def item_at(self, index: int) -> Item:
        """Member ``index`` as a free-standing :class:`Item` (same timing and state)."""
        return Item(self.spec_of(index), self.schedule, self.due, 0, self.last_fired)

    def member(self, item_id: str) -> Item:
        return self.item_at(self.ids.index(item_id))


Entry = Item | Group
# Members of a group with what they get: (ids, ts, due, last_fired).
Part = tuple[list[str], list[int], int | None, int | None]


class ArmedSet:
    """Items by id plus a lazily-cleaned heap of ``(due, seq, id or group)``."""

    def __init__(self) -> None:
        self.items: dict[str, Entry] = {}  # a group is there under each of its members
        self._groups: list[Group] = []  # every group made (some may have emptied since)
        self._heap: list[tuple[int, int, str | Group]] = []
        self._seq = itertools.count(1)
        self._armed = 0

    def __len__(self) -> int:
        return len(self.items)

    @property
    def armed(self) -> int:
        """How many items have a next fire instant."""
        return self._armed

    def get(self, item_id: str) -> Item | None:
        """The item; for a group's member, a copy built for the occasion."""
        entry = self.items.get(item_id)
        if type(entry) is Group:
            return entry.member(item_id)
        return entry  # type: ignore[return-value]

    def entry(self, item_id: str) -> Entry | None:
        """What holds the item: its :class:`Item`, or its :class:`Group`."""
        return self.items.get(item_id)

    def put(self, item: Item) -> None:
        """Insert or replace an item; its ``due`` decides whether it is armed."""
        old = self.items.get(item.id)
        if type(old) is Group:
            self._leave(old, item.id)
        elif old is not None and old.due is not None:
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

    def set_group_due(self, group: Group, due: int | None) -> None:
        """Re-arm (or disarm) every member of a group at once."""
        if group.due is not None:
            self._armed -= len(group.ids)
        group.due = due
        if due is None:
            group.seq = 0
        else:
            group.seq = next(self._seq)
            heapq.heappush(self._heap, (due, group.seq, group))
            self._armed += len(group.ids)
        self._maybe_compact()

    def remove(self, item_id: str) -> Item | None:
        entry = self.items.get(item_id)
        if type(entry) is Group:
            item = entry.member(item_id)
            self._leave(entry, item_id)
            del self.items[item_id]
            item.due = None
            self._maybe_compact()
            return item
        single = self.items.pop(item_id, None)
        if isinstance(single, Group):  # not reached: a group was handled above
            raise AssertionError(item_id)
        if single is not None and single.due is not None:
            self._armed -= 1
            single.due = None
        self._maybe_compact()
        return single

    def detach(self, item_id: str) -> Item:
        """Take a group's member out of its group as an :class:`Item` of its own, with
        the same instant (and armed state); returns it. An item already single is
        returned as it is."""
        entry = self.items[item_id]
        if type(entry) is not Group:
            return entry  # type: ignore[return-value]
        item = entry.member(item_id)
        self._leave(entry, item_id)
        self.items[item_id] = item
        self._arm(item, item.due)
        return item

    def split(self, group: Group, parts: Iterable[Part]) -> None:
        """Replace a group by ``parts`` of its members, each with its own instant and
        last fire: a group when big enough, else single items."""
        self.set_group_due(group, None)
        group.ids, group.ts = [], []
        self._groups = [g for g in self._groups if g.ids]  # rare: forget emptied groups
        for ids, ts, due, last_fired in parts:
            if len(ids) >= MIN_GROUP:
                part = Group(group.model, group.schedule, ids, ts, None, 0, last_fired)
                self._groups.append(part)
                self.items.update(dict.fromkeys(ids, part))
                self.set_group_due(part, due)
                continue
            for item_id, item_ts in zip(ids, ts, strict=True):
                spec = ScheduleUpsert._validated(item_id, group.model, item_ts, None)
                item = Item(spec, group.schedule, None, 0, last_fired)
                self.items[item_id] = item
                self._arm(item, due)

    def set_member_ts(self, group: Group, item_id: str, ts: int) -> None:
        """A member's new upsert changed only its ``ts``: keep it in its group."""
        group.ts[group.ids.index(item_id)] = ts

    def load(self, items: Iterable[Item], groups: Iterable[Group] = ()) -> None:
        """Bulk start-up: replace everything and heapify once (O(n))."""
        index: dict[str, Entry] = {}
        heap: list[tuple[int, int, str | Group]] = []
        armed = 0
        seq = self._seq
        for item in items:
            index[item.id] = item
            if item.due is not None:
                item.seq = next(seq)
                heap.append((item.due, item.seq, item.id))
                armed += 1
        made = list(groups)
        for group in made:
            index.update(zip(group.ids, itertools.repeat(group)))
            if group.due is not None:
                group.seq = next(seq)
                heap.append((group.due, group.seq, group))
                armed += len(group.ids)
        heapq.heapify(heap)
        self.items = index
        self._groups = made
        self._heap = heap
        self._armed = armed

    def peek_due(self) -> int | None:
        """The earliest next fire instant, or None when nothing is armed."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now_ms: int) -> list[tuple[Entry, int]]:
        """Disarm and return every ``(item or group, due)`` due at or before ``now_ms``,
        earliest first; the caller re-arms them."""
        out: list[tuple[Entry, int]] = []
        heap = self._heap
        while heap:
            due, seq, key = heap[0]
            entry = self._live(due, seq, key)
            if entry is None:
                heapq.heappop(heap)
                continue
            if due > now_ms:
                break
            heapq.heappop(heap)
            entry.due = None
            if type(entry) is Group:
                entry.seq = 0
                self._armed -= len(entry.ids)
            else:
                self._armed -= 1
            out.append((entry, due))
        return out

    def rearm(self, entry: Entry, due: int | None) -> None:
        if type(entry) is Group:
            self.set_group_due(entry, due)
        else:
            self.set_due(entry, due)  # type: ignore[arg-type]

    def upcoming(self, count: int) -> list[tuple[int, str]]:
        """The next ``count`` (due, id) pairs, earliest first, without changing anything."""
        items = self.items
        live = [
            (due, seq, key)
            for due, seq, key in self._heap
            if (
                key.seq == seq and key.due == due and key.ids
                if type(key) is Group
                else type(entry := items.get(key)) is Item  # type: ignore[arg-type]
                and entry.seq == seq
                and entry.due == due
            )
        ]
        first = heapq.nsmallest(count, live)
        if not first:
            return []
        # Entries due at the last instant kept may hold smaller ids than those kept.
        last = first[-1][0]
        chosen = [(due, key) for due, _seq, key in live if due <= last]
        pairs: list[tuple[int, str]] = []
        for due, key in chosen:
            if isinstance(key, Group):
                pairs.extend((due, item_id) for item_id in key.ids)
            else:
                pairs.append((due, key))
        return heapq.nsmallest(count, pairs)

    def __iter__(self) -> Iterator[Item]:
        """Every item; a group's members as copies built on the way."""
        seen: set[int] = set()
        for entry in self.items.values():
            if type(entry) is not Group:
                yield entry  # type: ignore[misc]
            elif id(entry) not in seen:
                seen.add(id(entry))
                for index in range(len(entry.ids)):
                    yield entry.item_at(index)

    def groups(self) -> list[Group]:
        """The groups that have members."""
        self._groups = [group for group in self._groups if group.ids]
        return list(self._groups)

    def listing(self) -> Listing:
        """What :meth:`Listing.first` needs, copied (cheap: references, and each group's
        ids), so that sorting a million items can run without the engine lock."""
        return Listing(
            list(self.items.values()),
            [(g, g.due, g.last_fired, list(g.ids), list(g.ts)) for g in self.groups()],
        )

    def _leave(self, group: Group, item_id: str) -> None:
        index = group.ids.index(item_id)
        del group.ids[index]
        del group.ts[index]
        if group.due is not None:
            self._armed -= 1
            if not group.ids:
                group.due = None
                group.seq = 0

    def _live(self, due: int, seq: int, key: str | Group) -> Entry | None:
        if type(key) is Group:
            return key if key.seq == seq and key.due == due and key.ids else None
        item = self.items.get(key)  # type: ignore[arg-type]
        if type(item) is Item and item.seq == seq and item.due == due:
            return item
        return None

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
            due, seq, key = heap[0]
            if self._live(due, seq, key) is not None:
                return
            heapq.heappop(heap)

    def _maybe_compact(self) -> None:
        if len(self._heap) > 1024 and len(self._heap) > 2 * self._armed + 1024:
            self._heap = [
                (due, seq, key)
                for due, seq, key in self._heap
                if self._live(due, seq, key) is not None
            ]
            heapq.heapify(self._heap)


def _listing_key(item: Item) -> tuple[bool, int, str]:
    return (item.due is None, item.due if item.due is not None else 0, item.id)


@dataclass(slots=True)
class Listing:
    """The armed set as it was when copied (:meth:`ArmedSet.listing`)."""

    entries: list[Entry]
    groups: list[tuple[Group, int | None, int | None, list[str], list[int]]]

    def first(self, count: int) -> list[Item]:
        """The first ``count`` items by (disarmed last, next instant, id); a group's
        members as copies. Only the members that may be among them are built."""
        singles = (entry for entry in self.entries if isinstance(entry, Item))
        chosen = heapq.nsmallest(count, singles, key=_listing_key)
        # Groups earliest first; once ``count`` items are chosen, a group due later than
        # the last of them has none to add.
        for group, due, last_fired, ids, ts in sorted(
            self.groups, key=lambda g: (g[1] is None, g[1] if g[1] is not None else 0)
        ):
            if len(chosen) >= count and (due is None, due or 0) > _listing_key(chosen[-1])[:2]:
                break
            position = {item_id: n for n, item_id in enumerate(ids)}
            for item_id in heapq.nsmallest(count, ids):
                spec = ScheduleUpsert._validated(item_id, group.model, ts[position[item_id]], None)
                chosen.append(Item(spec, group.schedule, due, 0, last_fired))
            chosen = heapq.nsmallest(count, chosen, key=_listing_key)
        return chosen
