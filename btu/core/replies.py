"""The sentences the Desk shows about the scheduler, written for site managers.

Every outcome of "publish, then ask the daemon to reload" becomes an :class:`Answer`:
a level the form uses for its colour and one or two plain sentences.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

OK = "ok"
INFO = "info"
WARNING = "warning"
ERROR = "error"

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
COLOUR = {OK: "green", INFO: "blue", WARNING: "orange", ERROR: "red"}


@dataclass(frozen=True, slots=True)
class Answer:
    level: str
    message: str
    next_runs: list[str] = field(default_factory=list)
    armed: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "indicator": COLOUR[self.level],
            "message": self.message,
            "next_runs": list(self.next_runs),
            "armed": self.armed,
        }


def format_instant(iso: str) -> str:
    """``2027-03-14T03:00:00-04:00`` as ``2027-03-14 03:00 (UTC-04:00)``."""
    text = iso.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return iso
    clock = moment.strftime("%Y-%m-%d %H:%M" if moment.second == 0 else "%Y-%m-%d %H:%M:%S")
    offset = moment.utcoffset()
    if offset is None:
        return clock
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{clock} (UTC{sign}{minutes // 60:02d}:{minutes % 60:02d})"


def reload_answer(data: Mapping[str, Any] | None) -> Answer:
    """The daemon's reply to ``reload``: armed with its next runs, or disarmed."""
    data = data or {}
    runs = [format_instant(str(x)) for x in (data.get("next") or [])]
    if data.get("armed"):
        if runs:
            return Answer(OK, f"Armed. Next run: {runs[0]}.", runs, armed=True)
        return Answer(OK, "Armed.", runs, armed=True)
    return Answer(
        INFO,
        "Saved. The scheduler has this item disarmed: it is disabled, finished, or has no "
        "future run.",
        runs,
        armed=False,
    )


def unreachable() -> Answer:
    return Answer(
        WARNING,
        "Saved, but the scheduler is not reachable right now. The change will apply as "
        "soon as it is back.",
    )


def redis_unreachable(detail: str = "") -> Answer:
    extra = f" ({detail})" if detail else ""
    return Answer(
        WARNING,
        "Saved, but BTU could not reach its Redis server" + extra + ". The scheduler will "
        "pick the change up when Redis is back (the hourly check republishes it).",
    )


def refused(reason: str) -> Answer:
    return Answer(ERROR, f"Saved, but the scheduler refused to reload it: {reason}")


def removed() -> Answer:
    return Answer(INFO, "Removed from the scheduler.", armed=False)


def _utc(due: Any) -> str:
    try:
        ms = int(due)
    except (TypeError, ValueError):
        return ""
    return format_instant((EPOCH + dt.timedelta(milliseconds=ms)).isoformat())


def summarize_next(data: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The reply of ``next`` (a list of ``{id, due}``) as rows for a table."""
    return [
        {"id": item.get("id"), "due": item.get("due"), "due_utc": _utc(item.get("due"))}
        for item in data
    ]
