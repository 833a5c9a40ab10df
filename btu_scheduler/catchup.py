"""The catch-up search: the latest instant of a schedule at or before now, for an item
whose instants passed while no daemon fired them (PROTOCOL.md "Firing": they coalesce
into one fire at the latest), and what the items of one expression and zone share at a
load so that the search runs once for all of them, and only when one needs it."""

from __future__ import annotations

from streams.cron import CronSchedule

# How far back the catch-up search looks for a missed instant.
CATCH_UP_HORIZON_MS = 400 * 86_400_000


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


class Shared:
    """What the items of one (expression, zone) share at a load: the compiled schedule,
    its first instant after now, and (only when some item may need it) its last instant
    at or before now."""

    __slots__ = ("_latest", "following", "now_ms", "schedule")

    def __init__(self, schedule: CronSchedule, now_ms: int) -> None:
        self.schedule = schedule
        self.now_ms = now_ms
        self.following = schedule.next_after(now_ms)
        self._latest: int | bool | None = False  # False: not computed yet

    def latest_after(self, floor: int) -> int | None:
        """The last instant at or before now, when it is after ``floor``; else None.
        One ``next_after`` answers "none" (the usual case at a restart: every item fired
        its last instant, or was published after it); only otherwise is the latest
        searched (about 55 ``next_after`` calls)."""
        following = self.schedule.next_after(floor)
        if following is None or following > self.now_ms:
            return None
        if self._latest is False:
            self._latest = latest_at_or_before(self.schedule, self.now_ms)
        latest = self._latest
        assert latest is not True
        return latest
