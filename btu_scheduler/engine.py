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

from btu_scheduler.heap import ArmedSet, Item
from streams.cron import CronSchedule, compile_schedule
from streams.errors import CronError
from streams.keys import Kind
from streams.messages import ScheduleDelete, ScheduleEvent, ScheduleUpsert, fire_id

# How far back the catch-up search looks for a missed instant.
CATCH_UP_HORIZON_MS = 400 * 86_400_000


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


def latest_at_or_before(
    schedule: CronSchedule, at_ms: int, horizon_ms: int = CATCH_UP_HORIZON_MS
) -> int | None:
    """The last fire instant of ``schedule`` at or before ``at_ms`` (None if none within
    the horizon).

    Windows growing fourfold find some ``lo`` with an instant in ``(lo, at_ms]``; a binary
    search then narrows ``lo`` to just before the latest one. About 55 ``next_after``
    calls at worst, whatever the expression's density.
    """

    def any_in(lo: int) -> bool:
        following = schedule.next_after(lo)
        return following is not None and following <= at_ms

    step = 1_000
    while not any_in(at_ms - step):
        if step >= horizon_ms:
            return None
        step = min(step * 4, horizon_ms)
    lo, hi = at_ms - step, at_ms  # invariant: any_in(lo) and not any_in(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if any_in(mid):
            lo = mid
        else:
            hi = mid
    return schedule.next_after(lo)


@dataclass(frozen=True, slots=True)
class _Shared:
    schedule: CronSchedule
    latest: int | None  # last instant at or before the load's now
    following: int | None  # first instant after it


def _shared(spec: ScheduleUpsert, now_ms: int) -> _Shared | CronError:
    try:
        schedule = _schedule_of(spec)
    except CronError as e:
        return e
    assert schedule is not None
    return _Shared(schedule, latest_at_or_before(schedule, now_ms), schedule.next_after(now_ms))


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
            current.spec = spec
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
        item = self.armed.get(item_id)
        if item is None or item.due is None:
            return False
        self.armed.set_due(item, None)
        return True

    # -- start-up --------------------------------------------------------------------

    def load(
        self,
        specs: Iterable[ScheduleUpsert],
        last_fire: Mapping[str, int],
        now_ms: int,
        on_error: Callable[[ScheduleUpsert, CronError], None] | None = None,
    ) -> list[Fire]:
        """Replace everything with ``specs`` (the start-up snapshot) and return the
        catch-up fires: for each item, its latest instant after its last fire (or its
        publication) that has already passed, fired when within grace, else missed."""
        items: list[Item] = []
        catch_up: list[Fire] = []
        # Per (expression, zone): the compiled schedule, its latest instant at or before
        # now, and its next one after now: computed once, whatever the number of items.
        per_schedule: dict[tuple[str | None, str | None], _Shared | CronError] = {}
        for spec in specs:
            item = Item(spec=spec, schedule=None, last_fired=last_fire.get(spec.id))
            if spec.kind == Kind.ONCE:
                fire = self._catch_up_once(item, now_ms)
            else:
                key = (spec.cron, spec.tz)
                shared = per_schedule.get(key)
                if shared is None:
                    shared = per_schedule[key] = _shared(spec, now_ms)
                if isinstance(shared, CronError):
                    if on_error is None:
                        raise shared
                    on_error(spec, shared)
                    continue
                item.schedule = shared.schedule
                fire = None
                if spec.enabled and shared.latest is not None:
                    if shared.latest > max(item.last_fired or 0, spec.ts):
                        fire = self._decide(item, shared.latest, now_ms)
                item.due = shared.following if spec.enabled else None
            if fire is not None:
                catch_up.append(fire)
                item.last_fired = fire.due
            if spec.kind == Kind.ONCE:
                item.due = self._first_due(item, now_ms)
            items.append(item)
        self.armed.load(items)
        return catch_up

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
        for item, due in self.armed.pop_due(now_ms):
            if item.schedule is not None:
                following = item.schedule.next_after(due)
                if following is not None and following <= now_ms:
                    due = latest_at_or_before(item.schedule, now_ms) or due
                    following = item.schedule.next_after(now_ms)
                self.armed.set_due(item, following)
            item.last_fired = due
            fires.append(self._decide(item, due, now_ms))
        return fires

    def due_ids(self, now_ms: int) -> list[str]:
        """The ids of the items due at ``now_ms``, changing nothing."""
        due = self.armed.pop_due(now_ms)
        for item, instant in due:
            self.armed.set_due(item, instant)
        return [item.id for item, _instant in due]

    def skip_fired(self, last_fire: Mapping[str, int], now_ms: int) -> int:
        """Re-arm, without firing, every due item whose ``last-fire`` shows its instant was
        already claimed (by the previous leader, while this instance stood by). Returns
        how many were skipped."""
        skipped = 0
        for item, due in self.armed.pop_due(now_ms):
            fired = last_fire.get(item.id)
            if fired is None or fired < due:
                self.armed.set_due(item, due)  # not fired yet: stays due
                continue
            skipped += 1
            item.last_fired = fired
            following = item.schedule.next_after(fired) if item.schedule is not None else None
            self.armed.set_due(item, following)
        return skipped

    def upcoming(self, count: int) -> list[tuple[int, str]]:
        return self.armed.upcoming(count)


def _schedule_of(spec: ScheduleUpsert) -> CronSchedule | None:
    if spec.kind != Kind.CRON:
        return None
    assert spec.cron is not None and spec.tz is not None
    return compile_schedule(spec.cron, spec.tz)


def _same_timing(a: ScheduleUpsert, b: ScheduleUpsert) -> bool:
    return (a.kind, a.cron, a.tz, a.at, a.enabled) == (b.kind, b.cron, b.tz, b.at, b.enabled)
