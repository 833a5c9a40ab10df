"""Setting bad entries aside in ``btu:{site}:dead`` with the reason.

Only the active instance writes, so one bad entry gives one dead letter however many
standbys read it. A standby keeps what it saw (bounded) and, if it becomes the leader,
writes those the previous leader had not written.

A dead letter is written once: the same entry set aside again for the same reason (a
broken item in the state hash, met again by every resync and every restart) is not
written again, so "dead letters growing" means something new broke. The letters already
in the stream are read once, at the first one.

Broken items (a schedule whose cron or zone the engine refuses, a state value that does
not decode) are also kept in :attr:`DeadLetters.broken`, so ``schedules`` and
``status`` list them with their error instead of leaving them silently absent.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from redis import Redis

from btu_scheduler.errors import REDIS_DOWN
from btu_scheduler.stats import Stats
from streams import codec
from streams.keys import DEAD_MAXLEN, F, Keys
from streams.messages import DeadLetter
from streams.redisio import xadd, xrevrange

log = structlog.get_logger("btu_scheduler.dead")

MAX_PENDING = 1_000
MAX_BROKEN = 10_000
MAX_WRITTEN = DEAD_MAXLEN * 2


@dataclass(frozen=True, slots=True)
class Broken:
    """An item set aside: its error, and the ``ts`` of the version that has it."""

    id: str
    error: str
    ts: int | None
    source: str


Identity = tuple[str, str, str, str]


def _original(fields_json: str) -> dict[str, Any]:
    try:
        value = orjson.loads(fields_json)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


class DeadLetters:
    def __init__(
        self,
        r: Redis,
        keys: Keys,
        instance: str,
        stats: Stats,
        now_ms: Callable[[], int],
        is_leader: Callable[[], bool],
    ) -> None:
        self._r = r
        self._keys = keys
        self._instance = instance
        self._stats = stats
        self._now_ms = now_ms
        self._is_leader = is_leader
        self._pending: deque[DeadLetter] = deque(maxlen=MAX_PENDING)
        self._written: OrderedDict[Identity, None] | None = None
        self.broken: OrderedDict[str, Broken] = OrderedDict()

    def add(self, source: str, entry: str, raw: Any, reason: str) -> None:
        """Record one unusable entry (never raises)."""
        letter = DeadLetter(
            source=source, entry=entry, reason=reason, fields=codec.lenient(raw),
            instance=self._instance, ts=self._now_ms(),
        )  # fmt: skip
        item_id = self._item_id(source, entry, letter.fields)
        if item_id:
            self._note_broken(item_id, reason, letter.fields.get(F.TS), source)
        if self._was_written(letter):
            log.debug("dead_letter_known", source=source, entry=entry, id=item_id, reason=reason)
            return
        self._stats.dead()
        log.warning("dead_letter", source=source, entry=entry, id=item_id, reason=reason)
        if self._is_leader():
            self._write(letter)
        else:
            self._pending.append(letter)

    def fixed(self, item_id: str) -> None:
        """The item was applied (or deleted) since: no longer listed as broken."""
        self.broken.pop(item_id, None)

    def still_broken(self, held: Callable[[str], bool]) -> list[Broken]:
        """The broken items that still are: not applied since (``held`` says whether the
        engine holds an id) and still in the state hash (not deleted since)."""
        candidates = []
        for item in list(self.broken.values()):
            if held(item.id):
                self.fixed(item.id)
            else:
                candidates.append(item)
        if not candidates:
            return []
        pipe = self._r.pipeline(transaction=False)
        for item in candidates:
            pipe.hexists(self._keys.state, item.id)
        out = []
        for item, exists in zip(candidates, pipe.execute(), strict=True):
            if exists:
                out.append(item)
            else:
                self.fixed(item.id)
        return out

    def _item_id(self, source: str, entry: str, fields: dict[str, str]) -> str | None:
        if source == self._keys.state:
            return entry
        if source == self._keys.schedules:
            return fields.get(F.ID) or None
        return None

    def _note_broken(self, item_id: str, reason: str, ts: str | None, source: str) -> None:
        self.broken.pop(item_id, None)
        self.broken[item_id] = Broken(
            item_id, reason, int(ts) if ts and ts.isdigit() else None, source
        )
        while len(self.broken) > MAX_BROKEN:
            self.broken.popitem(last=False)

    def _identities(
        self, source: str, entry: str, reason: str, fields_json: str
    ) -> tuple[Identity, Identity | None]:
        """The letter's own identity (its entry: a stream entry id is never reused, a
        state-hash letter is its item's version), and the item version it is about (id,
        ``ts``, reason), when it names one."""
        original = _original(fields_json)
        item_id = self._item_id(source, entry, {k: str(v) for k, v in original.items()})
        version = ("item", item_id, str(original.get(F.TS, "")), reason) if item_id else None
        if source == self._keys.state and version is not None:
            return version, version
        return (source, entry, reason, fields_json), version

    def _identities_of(self, letter: DeadLetter) -> tuple[Identity, Identity | None]:
        encoded = letter.encode()
        return self._identities(letter.source, letter.entry, encoded[F.REASON], encoded[F.FIELDS])

    def _was_written(self, letter: DeadLetter) -> bool:
        """A stream entry is written once (it may be met twice only by a standby that
        became leader); a state-hash value, met at every resync and start-up, is written
        unless its item version was already set aside, from the stream or the hash."""
        written = self._load_written()
        return written is not None and self._identities_of(letter)[0] in written

    def _load_written(self) -> OrderedDict[Identity, None] | None:
        if self._written is None:
            try:
                entries = xrevrange(self._r, self._keys.dead, DEAD_MAXLEN)
            except REDIS_DOWN:
                return None  # tried again at the next one
            self._written = OrderedDict()
            for _eid, f in reversed(entries):
                fields = [f.get(name, "") for name in (F.SOURCE, F.ENTRY, F.REASON, F.FIELDS)]
                own, version = self._identities(*fields)
                self._written[own] = None
                if version is not None:
                    self._written[version] = None
        return self._written

    def _remember(self, letter: DeadLetter) -> None:
        written = self._load_written()
        if written is None:
            return
        own, version = self._identities_of(letter)
        written[own] = None
        if version is not None:
            written[version] = None
        while len(written) > MAX_WRITTEN:
            written.popitem(last=False)

    def _write(self, letter: DeadLetter) -> None:
        try:
            xadd(self._r, self._keys.dead, letter.encode(), DEAD_MAXLEN)
        except REDIS_DOWN:
            self._pending.append(letter)
            return
        self._remember(letter)

    def flush(self) -> None:
        """Write what was set aside while standing by (or while Redis was away), unless
        the previous leader already did."""
        if not self._pending:
            return
        self._written = None  # re-read: the previous leader may have written some
        letters = list(self._pending)
        self._pending.clear()
        for letter in letters:
            if not self._was_written(letter):
                self._write(letter)
