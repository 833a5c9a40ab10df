"""The daemon's pure core: what is armed, what is due, and what to do about it.

No I/O and no clock: every method takes ``now_ms``. The daemon feeds it decoded stream
events and asks it for due fires; tests drive it with a fake clock.

Rules (PROTOCOL.md "Time" and "Firing"):
- a cron item is armed at its next instant strictly after the moment it was (re)armed;
- an upsert that changes nothing about *when* an item fires keeps its current instant;
- when several instants of one item have passed (the daemon was late or down), they
  coalesce into one fire at the latest of them;
- a fire more than ``grace_ms`` late is recorded as ``missed`` and not sent;
- a ``once`` item fires one time and is then disarmed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from btu_scheduler.catchup import Shared, latest_at_or_before
from btu_scheduler.heap import MAX_GROUP, MIN_GROUP, ArmedSet, Group, Item, Part
from streams.cron import CronSchedule, compile_schedule
from streams.errors import CronError
from streams.keys import Kind
from streams.messages import ScheduleDelete, ScheduleEvent, ScheduleUpsert, fire_id
from streams.publish import StateGroup


@dataclass(frozen=True, slots=True)
class Fire:
    """One instant of one item that is due: send it, or record it as missed."""

    id: str
    kind: str
    task: str
    due: int
    missed: bool = False

    @property
    def fire_id(self) -> str:
        return fire_id(self.id, self.due)


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying one event did, for the canonical log line and RPC replies."""

    id: str
    action: str  # armed | rearmed | unchanged | disarmed | removed | unknown
    due: int | None


def _shared(spec: ScheduleUpsert, now_ms: int) -> Shared | CronError:
    try:
        schedule = _schedule_of(spec)
    except CronError as e:
        return e
    assert schedule is not None
    return Shared(schedule, now_ms)


class Engine:
    """Armed items and the decisions about them."""

    def __init__(self, grace_ms: int) -> None:
        self.grace_ms = grace_ms
        self.armed = ArmedSet()
        self._deleted: list[tuple[str, int]] = []  # (id, when) since take_deleted()

    # -- changes ---------------------------------------------------------------------

    def apply(self, event: ScheduleEvent, now_ms: int) -> Applied:
        """Apply one decoded event from the schedules stream (or the state hash).

        Raises :class:`~streams.errors.CronError` when a cron item cannot be compiled;
        the item is then disarmed and the caller dead-letters the entry.
        """
        if isinstance(event, ScheduleDelete):
            removed = self.armed.remove(event.id)
            self._deleted.append((event.id, now_ms))
            return Applied(event.id, "removed" if removed else "unknown", None)
        return self._upsert(event, now_ms)

    def _upsert(self, spec: ScheduleUpsert, now_ms: int) -> Applied:
        current = self.armed.get(spec.id)
        try:
            schedule = _schedule_of(spec)
        except CronError:
            if current is not None:
                self.armed.remove(spec.id)
            raise
        if current is not None and _same_timing(current.spec, spec) and current.due is not None:
            entry = self.armed.entry(spec.id)
            if type(entry) is Group:
                if spec.task == entry.model.task:
                    self.armed.set_member_ts(entry, spec.id, spec.ts)
                    return Applied(spec.id, "unchanged", current.due)
                entry = self.armed.detach(spec.id)  # its task differs from the group's
            assert isinstance(entry, Item)
            entry.spec = spec
            return Applied(spec.id, "unchanged", current.due)
        item = Item(spec=spec, schedule=schedule)
        if current is not None:
            item.last_fired = current.last_fired
        item.due = self._first_due(item, now_ms)
        self.armed.put(item)
        if item.due is None:
            return Applied(spec.id, "disarmed", None)
        return Applied(spec.id, "rearmed" if current is not None else "armed", item.due)

    def _first_due(self, item: Item, now_ms: int) -> int | None:
        spec = item.spec
        if not spec.enabled:
            return None
        if spec.kind == Kind.ONCE:
            assert spec.at is not None
            if item.last_fired is not None and item.last_fired >= spec.at:
                return None  # already fired: a once item fires one time
            return spec.at  # in the past it is handled (fired or missed) on the next tick
        assert item.schedule is not None
        return item.schedule.next_after(now_ms)

    def take_deleted(self) -> list[tuple[str, int]]:
        """The ``(id, now_ms)`` of every delete applied since the last call (the leader
        forgets their ``last-fire`` fields)."""
        deleted, self._deleted = self._deleted, []
        return deleted

    def cancel(self, item_id: str) -> bool:
        """Disarm an item until its next upsert; True when it was armed."""
        entry = self.armed.entry(item_id)
        if entry is None or entry.due is None:
            return False
        self.armed.set_due(self.armed.detach(item_id), None)
        return True

    # -- start-up --------------------------------------------------------------------

    def load(
        self,
        specs: Iterable[ScheduleUpsert],
        last_fire: Mapping[str, int],
        now_ms: int,
        on_error: Callable[[ScheduleUpsert, CronError], None] | None = None,
        groups: Iterable[StateGroup] = (),
    ) -> list[Fire]:
        """Replace everything with ``specs`` and ``groups`` (the start-up snapshot, as
        :func:`streams.publish.decode_state_groups` gives it) and return the catch-up
        fires: for each item, its latest instant after its last fire (or its
        publication) that has already passed, fired when within grace, else missed.

        Cron items sharing kind, task, expression, zone and enabled, and then their last
        fire, are held as groups (:class:`~btu_scheduler.heap.Group`)."""
        items: list[Item] = []
        catch_up: list[Fire] = []
        buckets: dict[tuple[object, ...], StateGroup] = {}
        for spec in {spec.id: spec for spec in specs}.values():
            if spec.kind != Kind.CRON:
                item = Item(spec=spec, schedule=None, last_fired=last_fire.get(spec.id))
                fire = self._catch_up_once(item, now_ms)
                if fire is not None:
                    catch_up.append(fire)
                    item.last_fired = fire.due
                item.due = self._first_due(item, now_ms)
                items.append(item)
                continue
            key = _model_key(spec)
            bucket = buckets.get(key)
            if bucket is None:
                bucket = buckets[key] = StateGroup(spec, [], [])
            bucket.ids.append(spec.id)
            bucket.ts.append(spec.ts)
        made: list[Group] = []
        # Per (expression, zone): the compiled schedule, its latest instant at or before
        # now, and its next one after now: computed once, whatever the number of items.
        per_schedule: dict[tuple[str | None, str | None], Shared | CronError] = {}
        for bucket in [*buckets.values(), *groups]:
            model = bucket.model
            key = (model.cron, model.tz)
            shared = per_schedule.get(key)
            if shared is None:
                shared = per_schedule[key] = _shared(model, now_ms)
            if isinstance(shared, CronError):
                if on_error is None:
                    raise shared
                for item_id, ts in zip(bucket.ids, bucket.ts, strict=True):
                    on_error(ScheduleUpsert._validated(item_id, model, ts, None), shared)
                continue
            parts = self._catch_up_cron(bucket, shared, last_fire, now_ms, catch_up)
            _make(bucket.model, shared.schedule, parts, items, made)
        self.armed.load(items, made)
        return catch_up

    def _catch_up_cron(
        self,
        bucket: StateGroup,
        shared: Shared,
        last_fire: Mapping[str, int],
        now_ms: int,
        catch_up: list[Fire],
    ) -> list[Part]:
        """The catch-up fires of a bucket's members; returns its members split by their
        last fire (after catch-up), each part with its next instant."""
        model = bucket.model
        due = shared.following if model.enabled else None
        fire_at = None
        if model.enabled:
            # No member needs the latest instant unless it falls after its own baseline.
            get = last_fire.get
            floor = min(max(get(i) or 0, ts) for i, ts in zip(bucket.ids, bucket.ts, strict=True))
            fire_at = shared.latest_after(floor)
        missed = fire_at is not None and now_ms - fire_at > self.grace_ms
        # The usual cases in one pass each: every member with the same last fire (none
        # yet, or the latest instant), and none or all of them to catch up.
        lasts = set(map(last_fire.get, bucket.ids)) if last_fire else {None}
        if len(lasts) == 1:
            [fired] = lasts
            if fire_at is None or fire_at <= (fired or 0) or fire_at <= min(bucket.ts):
                return [(bucket.ids, bucket.ts, due, fired)]
            if fire_at > max(bucket.ts):
                kind, task = model.kind, model.task
                catch_up.extend(Fire(i, kind, task, fire_at, missed) for i in bucket.ids)
                return [(bucket.ids, bucket.ts, due, fire_at)]
        by_last: dict[int | None, Part] = {}
        get = last_fire.get
        for item_id, ts in zip(bucket.ids, bucket.ts, strict=True):
            fired = get(item_id)
            if fire_at is not None and fire_at > (fired or 0) and fire_at > ts:
                catch_up.append(Fire(item_id, model.kind, model.task, fire_at, missed))
                fired = fire_at
            part = by_last.get(fired)
            if part is None:
                part = by_last[fired] = ([], [], due, fired)
            part[0].append(item_id)
            part[1].append(ts)
        return list(by_last.values())

    def _catch_up_once(self, item: Item, now_ms: int) -> Fire | None:
        spec = item.spec
        assert spec.at is not None
        if not spec.enabled or spec.at > now_ms:
            return None
        if item.last_fired is not None and item.last_fired >= spec.at:
            return None
        return self._decide(item, spec.at, now_ms)

    def _decide(self, item: Item, due: int, now_ms: int) -> Fire:
        spec = item.spec
        return Fire(spec.id, spec.kind, spec.task, due, missed=now_ms - due > self.grace_ms)

    # -- time passing ----------------------------------------------------------------

    def next_due(self) -> int | None:
        return self.armed.peek_due()

    def due(self, now_ms: int) -> list[Fire]:
        """Pop every item due at ``now_ms``, re-arm it, and return its fire (coalesced
        when several instants passed; ``missed`` when beyond grace)."""
        fires: list[Fire] = []
        for entry, due in self.armed.pop_due(now_ms):
            if entry.schedule is not None:
                following = entry.schedule.next_after(due)
                if following is not None and following <= now_ms:
                    due = latest_at_or_before(entry.schedule, now_ms) or due
                    following = entry.schedule.next_after(now_ms)
                self.armed.rearm(entry, following)
            entry.last_fired = due
            if type(entry) is Group:
                model, missed = entry.model, now_ms - due > self.grace_ms
                fires.extend(Fire(i, model.kind, model.task, due, missed) for i in entry.ids)
            else:
                fires.append(self._decide(entry, due, now_ms))  # type: ignore[arg-type]
        return fires

    def due_ids(self, now_ms: int) -> list[str]:
        """The ids of the items due at ``now_ms``, changing nothing."""
        ids: list[str] = []
        for entry, instant in self.armed.pop_due(now_ms):
            self.armed.rearm(entry, instant)
            ids.extend(entry.ids if type(entry) is Group else (entry.id,))  # type: ignore[union-attr]
        return ids

    def skip_fired(self, last_fire: Mapping[str, int], now_ms: int) -> int:
        """Re-arm, without firing, every due item whose ``last-fire`` shows its instant was
        already claimed (by the previous leader, while this instance stood by). Returns
        how many were skipped."""
        skipped = 0
        for entry, due in self.armed.pop_due(now_ms):
            if type(entry) is Group:
                skipped += self._skip_fired_group(entry, due, last_fire)
                continue
            assert isinstance(entry, Item)
            fired = last_fire.get(entry.id)
            if fired is None or fired < due:
                self.armed.set_due(entry, due)  # not fired yet: stays due
                continue
            skipped += 1
            entry.last_fired = fired
            following = entry.schedule.next_after(fired) if entry.schedule is not None else None
            self.armed.set_due(entry, following)
        return skipped

    def _skip_fired_group(self, group: Group, due: int, last_fire: Mapping[str, int]) -> int:
        """:meth:`skip_fired` for a group: members the previous leader fired move on,
        the others stay due; the group splits when they differ."""
        parts: dict[int | None, Part] = {}
        for item_id, ts in zip(group.ids, group.ts, strict=True):
            fired = last_fire.get(item_id)
            if fired is not None and fired < due:
                fired = None
            part = parts.get(fired)
            if part is None:
                if fired is None:
                    part = ([], [], due, group.last_fired)
                else:
                    part = ([], [], group.schedule.next_after(fired), fired)
                parts[fired] = part
            part[0].append(item_id)
            part[1].append(ts)
        skipped = sum(len(p[0]) for fired, p in parts.items() if fired is not None)
        if len(parts) == 1:
            [(_ids, _ts, following, fired)] = parts.values()
            group.last_fired = fired
            self.armed.set_group_due(group, following)
        else:
            self.armed.split(group, parts.values())
        return skipped

    def upcoming(self, count: int) -> list[tuple[int, str]]:
        return self.armed.upcoming(count)


def _schedule_of(spec: ScheduleUpsert) -> CronSchedule | None:
    if spec.kind != Kind.CRON:
        return None
    assert spec.cron is not None and spec.tz is not None
    return compile_schedule(spec.cron, spec.tz)


def _model_key(spec: ScheduleUpsert) -> tuple[object, ...]:
    return (spec.kind, spec.task, spec.cron, spec.tz, spec.enabled)


def _make(
    model: ScheduleUpsert,
    schedule: CronSchedule,
    parts: Iterable[Part],
    items: list[Item],
    groups: list[Group],
) -> None:
    """Groups of up to :data:`MAX_GROUP` members from the parts big enough; items from
    the others."""
    for ids, ts, due, last_fired in parts:
        if len(ids) < MIN_GROUP:
            items.extend(
                Item(ScheduleUpsert._validated(i, model, t, None), schedule, due, 0, last_fired)
                for i, t in zip(ids, ts, strict=True)
            )
            continue
        for start in range(0, len(ids), MAX_GROUP):
            chunk_ids, chunk_ts = ids[start : start + MAX_GROUP], ts[start : start + MAX_GROUP]
            groups.append(Group(model, schedule, chunk_ids, chunk_ts, due, 0, last_fired))


def _same_timing(a: ScheduleUpsert, b: ScheduleUpsert) -> bool:
    return (a.kind, a.cron, a.tz, a.at, a.enabled) == (b.kind, b.cron, b.tz, b.at, b.enabled)
