"""Scheduled report delivery, without Frappe: recipients, subject, file names, and what a
delivery records in its Task Log."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from typing import Any

FORMATS = ("HTML", "XLSX", "CSV", "PDF")
EXTENSIONS = {"XLSX": "xlsx", "CSV": "csv", "PDF": "pdf"}
DEFAULT_SUBJECT = "{report}: {period}"
PLACEHOLDERS = ("report", "period", "date")
MAX_ROW_LIMIT = 100_000
_ADDRESS = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
_SPLIT = re.compile(r"[\s,;]+")


class DeliveryError(ValueError):
    """A delivery setting that cannot be used; the message names it."""


def addresses(text: str | None, label: str) -> list[str]:
    """The addresses of a To/CC/BCC field (separated by commas, semicolons, spaces or new
    lines), each once; :class:`DeliveryError` naming those that are not addresses."""
    found: list[str] = []
    bad: list[str] = []
    for item in _SPLIT.split(text or ""):
        if not item:
            continue
        if not _ADDRESS.match(item):
            bad.append(item)
        elif item.lower() not in (a.lower() for a in found):
            found.append(item)
    if bad:
        raise DeliveryError(f"{label}: not email addresses: {', '.join(bad)}.")
    return found


def check_subject(template: str | None) -> str:
    """The subject template (default :data:`DEFAULT_SUBJECT`); only ``{report}``,
    ``{period}`` and ``{date}`` may appear in braces."""
    text = (template or "").strip() or DEFAULT_SUBJECT
    try:
        names = [f for _lit, f, _spec, _conv in string.Formatter().parse(text) if f is not None]
    except ValueError as e:
        raise DeliveryError(f"Subject: {e} (write {{{{ and }}}} for literal braces).") from e
    unknown = sorted({n for n in names if n not in PLACEHOLDERS})
    if unknown:
        raise DeliveryError(
            f"Subject: unknown placeholder(s) {', '.join('{' + n + '}' for n in unknown)}; "
            f"use {', '.join('{' + p + '}' for p in PLACEHOLDERS)}."
        )
    return text


def subject(template: str | None, report: str, period: str, date: str) -> str:
    return check_subject(template).format(report=report, period=period, date=date)


def file_name(report: str, period_start: str, fmt: str) -> str:
    """``Report-Name_2027-03-01.xlsx``: safe in every mail client and file system."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", report).strip("-") or "report"
    return f"{base}_{period_start}.{EXTENSIONS[fmt]}"


def check_format(fmt: str | None) -> str:
    if fmt not in FORMATS:
        raise DeliveryError(f"Format must be one of {', '.join(FORMATS)}, not {fmt!r}.")
    return fmt


def check_row_limit(limit: Any) -> int:
    """0 means no limit; otherwise 1 to :data:`MAX_ROW_LIMIT`."""
    value = int(limit or 0)
    if value < 0 or value > MAX_ROW_LIMIT:
        raise DeliveryError(f"Row Limit must be between 0 (no limit) and {MAX_ROW_LIMIT}.")
    return value


def limit_rows(rows: list[Any], limit: int) -> tuple[list[Any], bool]:
    """The first ``limit`` rows (all when 0) and whether some were left out."""
    if limit and len(rows) > limit:
        return rows[:limit], True
    return rows, False


@dataclass(frozen=True)
class Outcome:
    """What a delivery did: the run's Result in its Task Log."""

    report: str
    format: str
    rows: int
    period: str
    recipients: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    truncated: bool = False
    skipped: str | None = None  # why nothing was sent

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "report": self.report,
            "format": self.format,
            "rows": self.rows,
            "period": self.period,
            "recipients": self.recipients,
            "cc": self.cc,
            "bcc": self.bcc,
        }
        if self.truncated:
            out["truncated"] = True
        if self.skipped:
            out["skipped"] = self.skipped
        return out

    def line(self) -> str:
        if self.skipped:
            return f"Not sent: {self.skipped}"
        everyone = [*self.recipients, *self.cc, *self.bcc]
        more = " (row limit reached)" if self.truncated else ""
        return (
            f"Sent {self.report} ({self.period}) as {self.format}: {self.rows} row(s){more} "
            f"to {len(everyone)} recipient(s): {', '.join(everyone)}"
        )
