"""What a leader takes over from the instances before it, and leaves for the next.

- **On promotion** (a standby took the lease) and **at start-up**: skip the instants a
  previous leader already fired, disarm what it cancelled, and re-send every fire it
  claimed but never finished (:mod:`btu_scheduler.recovery`).
- **While leading**: record cancellations durably, end those that are over, and forget
  the ``last-fire`` field of every deleted item (:mod:`btu_scheduler.itemstate`).

Promotion reads ``last-fire`` only for the items due at that moment, the cancellations
and ``inflight``: its cost does not grow with the number of items.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import structlog

from btu_scheduler.errors import REDIS_DOWN
from btu_scheduler.itemstate import ItemState
from btu_scheduler.recovery import Recovery
from btu_scheduler.rpcserver import BadRequest
from streams.keys import Kind

if TYPE_CHECKING:
    from btu_scheduler.daemon import Daemon

log = structlog.get_logger("btu_scheduler")

Pairs = list[tuple[str, int]]


class Takeover:
    def __init__(self, daemon: Daemon) -> None:
        self.d = daemon
        s = daemon.settings
        horizon_ms = int((s.grace_seconds + s.retry_deadline_seconds) * 1000)
        self.recovery = Recovery(daemon.r, daemon.keys, daemon.dispatcher, horizon_ms,
                                 self.describe)  # fmt: skip
        self.items = ItemState(daemon.r, daemon.keys)

    # -- start-up and promotion -------------------------------------------------------

    def after_load(self, over: Pairs, last_fire: dict[str, int], state: Iterable[str],
                   now: int) -> None:  # fmt: skip
        """After the snapshot is armed: end cancellations that are over, forget the
        ``last-fire`` fields of items deleted while no leader ran, and re-send unfinished
        fires (also the ``last-fire`` instants still ``claimed``: claims written by a
        version without ``inflight``)."""
        known = set(state)
        self.upkeep(over, [(i, now) for i in last_fire if i not in known])
        self.recover(now, extra=last_fire.items())

    def on_promoted(self) -> None:
        d = self.d
        try:
            with d.lock:
                due_ids = d.engine.due_ids(d.now_ms())
            values = d.r.hmget(d.keys.last_fire, due_ids) if due_ids else []
            last_fire = {
                i: int(v) for i, v in zip(due_ids, values, strict=True) if v and v.isdigit()
            }
            cancels = self.items.read_cancels()
            with d.lock:
                skipped = d.engine.skip_fired(last_fire, d.now_ms())
                cancelled, over = self.items.apply_cancels(d.engine, cancels)
            log.info("promotion_reconciled", already_fired=skipped, cancelled=len(cancelled))
            d.dead.flush()
            self.upkeep(over, [])
            self.recover(d.now_ms())
        except REDIS_DOWN as e:
            log.warning("promotion_recovery_failed", error=str(e))

    def recover(self, now: int, extra: Iterable[tuple[str, int]] = ()) -> None:
        """Re-send the fires other incarnations claimed but never finished."""
        token = self.d.lease.token
        if token is not None:
            self.recovery.run(token, now, extra)

    def describe(self, item_id: str) -> tuple[str, str]:
        """``(kind, task)`` of an item, for a recovered fire."""
        with self.d.lock:
            item = self.d.engine.armed.get(item_id)
        return (item.spec.kind, item.spec.task) if item is not None else (Kind.CRON, "")

    # -- while leading --------------------------------------------------------------

    def upkeep(self, over: Pairs, deleted: Pairs) -> None:
        """As leader (fenced): end cancellations that are over and forget the
        ``last-fire`` fields of deleted items."""
        token = self.d.lease.token
        if token is None or not (over or deleted):
            return
        try:
            self.items.drop_cancels(over, token)
            self.items.forget(deleted, token)
        except REDIS_DOWN as e:  # left for the next start-up's clean-up
            log.warning("item_state_upkeep_failed", error=str(e), deleted=len(deleted))

    def cancel(self, item_id: str) -> bool:
        """Disarm an item until its next upsert, durably: every later leader honours it."""
        d = self.d
        with d.lock:
            item = d.engine.armed.get(item_id)
            ts = item.spec.ts if item is not None else None
        token = d.lease.token
        if ts is not None and (token is None or not self.items.record_cancel(item_id, ts, token)):
            raise BadRequest("this instance lost the lease: nothing cancelled; try again")
        with d.lock:
            item = d.engine.armed.get(item_id)
            if item is None or item.spec.ts != ts:
                return False  # changed meanwhile: the new upsert stands
            return d.engine.cancel(item_id)
