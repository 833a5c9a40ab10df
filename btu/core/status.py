"""The scheduler status panel of BTU Configuration: instances, leader, armed items and
recent fires, read from the daemon's keys and RPC replies."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from streams.errors import ProtocolError
from streams.messages import FireRecord

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def iso_utc(ms: int | None) -> str:
    if ms is None:
        return ""
    return (EPOCH + dt.timedelta(milliseconds=int(ms))).strftime("%Y-%m-%d %H:%M:%S UTC")


def fire_rows(entries: Iterable[tuple[Any, Mapping[Any, Any]]]) -> list[dict[str, Any]]:
    """Entries of ``btu:{site}:fires`` (id, fields) as table rows; bad entries are shown
    as such instead of failing the whole panel."""
    rows: list[dict[str, Any]] = []
    for entry_id, fields in entries:
        try:
            record = FireRecord.decode(fields)
        except ProtocolError as e:
            rows.append({"entry": _text(entry_id), "outcome": "unreadable", "error": str(e)})
            continue
        rows.append(
            {
                "entry": _text(entry_id),
                "fire_id": record.fire_id,
                "id": record.id,
                "due": iso_utc(record.due),
                "lag_ms": record.lag_ms,
                "outcome": record.outcome,
                "http": record.http,
                "job": record.job,
                "attempt": record.attempt,
                "instance": record.instance,
            }
        )
    return rows


def instance_rows(hashes: Mapping[Any, Mapping[Any, Any]]) -> list[dict[str, Any]]:
    """Heartbeat hashes (key -> fields) as rows: the instance name and its fields."""
    rows = []
    for key, fields in sorted(hashes.items(), key=lambda kv: _text(kv[0])):
        name = _text(key).rsplit(":", 1)[-1]
        values = {_text(k): _text(v) for k, v in fields.items()}
        rows.append({"instance": name, **{k: _when(k, v) or v for k, v in values.items()}})
    return rows


def outcome_counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        outcome = str(row.get("outcome") or "")
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | str) or value is None:
        return "" if value is None else str(value)
    return None


# Fields the daemon reports as epoch milliseconds.
TIME_FIELDS = frozenset({"next_due", "heartbeat", "started"})


def _when(name: str, value: Any) -> str | None:
    if name in TIME_FIELDS and str(value).isdigit():
        return iso_utc(int(value))
    return _scalar(value)


def counter_rows(data: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """An RPC reply's ``data`` as (name, value) rows: scalars as they are (instants as
    UTC times), flat objects as ``key value`` pairs; lists and nested objects (shown
    elsewhere) are left out."""
    rows = []
    for name, value in (data or {}).items():
        text = _when(str(name), value)
        if text is None and isinstance(value, Mapping):
            parts = [(k, _scalar(v)) for k, v in value.items()]
            if all(v is not None for _k, v in parts):
                text = ", ".join(f"{k} {v}" for k, v in parts)
        if text is not None:
            rows.append({"name": str(name).replace("_", " "), "value": text})
    return rows


def leader_text(raw: bytes | str | None) -> str:
    """The leader key's value for people: ``vm:6810 (epoch 1795754390941)``."""
    if raw is None:
        return ""
    text = _text(raw)
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, dict) and "instance" in data:
        epoch = f" (epoch {data['epoch']})" if "epoch" in data else ""
        return f"{data['instance']}{epoch}"
    return text
