"""What ``XINFO STREAM`` says about the schedules stream, and what it means for a reader
at a given position: was anything trimmed before it was read (a gap), was the stream
reset under it.

``max-deleted-entry-id`` (Redis 7) is exact: an entry after our position was deleted
before we read it. Older servers do not report it; there the stream's first entry being
newer than our position is the sign (our last entry, and perhaps some after it, is gone):
it errs towards a resync, which is always safe.
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
    max_deleted: str | None = None  # None: the server does not say (Redis < 7)
    first_id: str | None = None
    entries_added: int | None = None
    length: int = 0

    @property
    def trimmed(self) -> int | None:
        """How many entries were ever removed from the stream (Redis 7), else None."""
        if self.entries_added is None:
            return None
        return self.entries_added - self.length

    def gap_after(self, position: str) -> bool:
        """Whether entries after ``position`` were removed before being read."""
        if not self.exists:
            return False
        ours = entry_id_tuple(position)
        if self.max_deleted is not None:
            return entry_id_tuple(self.max_deleted) > ours
        if position == NO_STREAM or self.first_id is None:
            return False
        return entry_id_tuple(self.first_id) > ours

    def behind(self, position: str) -> bool:
        """Whether the stream's last id is older than ``position``: it was recreated."""
        return entry_id_tuple(self.last_generated) < entry_id_tuple(position)

    def log_fields(self) -> dict[str, Any]:
        return {
            "stream_last_id": self.last_generated,
            "max_deleted": self.max_deleted,
            "first_id": self.first_id,
            "trimmed_total": self.trimmed,
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
    max_deleted = info.get("max-deleted-entry-id")
    return StreamInfo(
        exists=True,
        last_generated=text(info["last-generated-id"]),
        max_deleted=None if max_deleted is None else text(max_deleted),
        first_id=text(first[0]) if first and first[0] is not None else None,
        entries_added=None if added is None else int(added),
        length=int(info.get("length", 0)),
    )
