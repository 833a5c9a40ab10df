"""What ``XINFO STREAM`` says about the schedules stream, and what it means for a reader
at a given position: were entries after it trimmed before it read them (a gap), was the
stream reset under it.

Trimming removes the oldest entries, so nothing after our position is gone while the
stream's first entry is at or before it. When the first entry is newer, our own last
entry was trimmed, and perhaps more: Redis 7 counts every entry ever added
(``entries-added``), which numbers the first entry present; the reader keeps the number
of its position (the snapshot's count plus each entry read), so a first entry numbered
past ours + 1 is a gap, exactly; and a reader caught up with the stream has read exactly
``entries-added`` entries, which catches a gap that slipped past the first test (the
stream trimmed between the XINFO and the XREAD). Without that count (Redis 6, or no count
known) a first entry newer than our position counts as a gap: a resync is always safe.
(``max-deleted-entry-id`` does not help: only XDEL sets it, trimming does not.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams.redisio import text

NO_STREAM = "0-0"


def entry_id_tuple(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        return 0, 0


@dataclass(frozen=True, slots=True)
class StreamInfo:
    exists: bool
    last_generated: str = NO_STREAM
    first_id: str | None = None
    entries_added: int | None = None  # None: the server does not say (Redis < 7)
    length: int = 0

    def gap_after(self, position: str, count: int | None) -> bool:
        """Whether entries after ``position`` (the ``count``-th entry ever added, when
        known) were removed before being read."""
        if not self.exists or self.first_id is None:
            return False
        if count is not None and self.entries_added is not None and self.last_generated == position:
            # Caught up: we must have read exactly as many entries as were ever added.
            return count != self.entries_added
        if entry_id_tuple(self.first_id) <= entry_id_tuple(position):
            return False
        if count is None or self.entries_added is None:
            return True
        first_number = self.entries_added - self.length + 1
        return first_number > count + 1

    def behind(self, position: str) -> bool:
        """Whether the stream's last id is older than ``position``: it was recreated."""
        return entry_id_tuple(self.last_generated) < entry_id_tuple(position)

    def log_fields(self) -> dict[str, Any]:
        return {
            "stream_last_id": self.last_generated,
            "first_id": self.first_id,
            "entries_added": self.entries_added,
            "length": self.length,
        }


def parse(reply: Any) -> StreamInfo:
    """A parsed ``xinfo_stream`` reply, or the exception a pipeline returned for it."""
    if isinstance(reply, Exception):
        if "no such key" in str(reply).lower():
            return StreamInfo(exists=False)
        raise reply
    info: Mapping[str, Any] = reply
    first = info.get("first-entry")
    added = info.get("entries-added")
    return StreamInfo(
        exists=True,
        last_generated=text(info["last-generated-id"]),
        first_id=text(first[0]) if first and first[0] is not None else None,
        entries_added=None if added is None else int(added),
        length=int(info.get("length", 0)),
    )
