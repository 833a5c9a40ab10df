"""Who gets an email for which event of a run, and what it says.

Each recipient row of a Task has an address and four flags: on start, on success, on
failure, on timeout. Emails go out through Frappe's email queue (the Frappe side sends
them); this module only selects and composes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

START = "start"
SUCCESS = "success"
FAILURE = "failure"
TIMEOUT = "timeout"
EVENTS = (START, SUCCESS, FAILURE, TIMEOUT)

FLAG = {
    START: "on_start",
    SUCCESS: "on_success",
    FAILURE: "on_failure",
    TIMEOUT: "on_timeout",
}
_STATUS_EVENT = {"In Progress": START, "Success": SUCCESS, "Failed": FAILURE, "Timeout": TIMEOUT}
_HEADLINE = {
    START: "started",
    SUCCESS: "succeeded",
    FAILURE: "failed",
    TIMEOUT: "timed out",
}
# Simple and permissive: the mail server has the last word.
_ADDRESS = re.compile(r"^[^@\s<>(),;:\"]+@[^@\s<>(),;:\"]+\.[^@\s<>(),;:\"]+$")
EXCERPT = 4_000


def event_for_status(status: str) -> str | None:
    """The notification event a Task Log status triggers, if any."""
    return _STATUS_EVENT.get(status)


def recipients_for(event: str, rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Addresses whose row asks for ``event``, in table order, each once (case-blind)."""
    if event not in FLAG:
        raise ValueError(f"unknown notification event {event!r}")
    flag = FLAG[event]
    seen: set[str] = set()
    out: list[str] = []
    for row in rows:
        address = str(row.get("address") or "").strip()
        if not address or not int(row.get(flag) or 0):
            continue
        key = address.lower()
        if key not in seen:
            seen.add(key)
            out.append(address)
    return out


def invalid_addresses(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Addresses in the recipient table that do not look like email addresses."""
    return [
        str(row.get("address"))
        for row in rows
        if str(row.get("address") or "").strip()
        and not _ADDRESS.match(str(row.get("address")).strip())
    ]


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What an email says about a run."""

    task: str
    log: str
    status: str
    started: str = ""
    ended: str = ""
    duration_s: float | None = None
    error: str = ""
    stderr: str = ""
    traceback: str = ""
    link: str = ""


def _excerpt(text: str) -> str:
    text = text.strip()
    if len(text) <= EXCERPT:
        return text
    return "[...]\n" + text[-EXCERPT:]


def compose(event: str, facts: RunFacts) -> tuple[str, str]:
    """Subject and HTML body of the email for ``event``."""
    verb = _HEADLINE[event]
    subject = f"[BTU] {facts.task} {verb}"
    rows = [("Task", facts.task), ("Task Log", facts.log), ("Status", facts.status)]
    if facts.started:
        rows.append(("Started", facts.started))
    if facts.ended:
        rows.append(("Ended", facts.ended))
    if facts.duration_s is not None:
        rows.append(("Duration", f"{facts.duration_s:.3f} s"))
    if facts.error:
        rows.append(("Error", facts.error))
    table = "".join(
        f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows
    )
    parts = [f"<p>The task <b>{html.escape(facts.task)}</b> {verb}.</p>", f"<table>{table}</table>"]
    if facts.link:
        parts.append(f"<p><a href='{html.escape(facts.link)}'>Open the Task Log</a></p>")
    details = facts.traceback or facts.stderr
    if event in (FAILURE, TIMEOUT) and details.strip():
        parts.append(f"<pre>{html.escape(_excerpt(details))}</pre>")
    return subject, "\n".join(parts)
