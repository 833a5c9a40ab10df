"""The scheduler status panel: fires, instances and outcome counts from Redis data."""

from __future__ import annotations

import pytest

from btu.core.status import (
    counter_rows,
    fire_rows,
    instance_rows,
    iso_utc,
    leader_text,
    outcome_counts,
)
from streams.messages import FireRecord


def test_fire_rows() -> None:
    """Fire records become rows with the due time in UTC and the lag."""
    record = FireRecord(
        fire_id="TS-1@1805007600000",
        id="TS-1",
        due=1805007600000,
        sent=1805007600042,
        outcome="enqueued",
        instance="host-1",
        http=200,
        job="erp::TS-1_1805007600000",
    )
    rows = fire_rows([(b"1805007600042-0", record.encode())])
    expected = [
        {
            "entry": "1805007600042-0",
            "fire_id": "TS-1@1805007600000",
            "id": "TS-1",
            "due": "2027-03-14 07:00:00 UTC",
            "lag_ms": 42,
            "outcome": "enqueued",
            "http": 200,
            "job": "erp::TS-1_1805007600000",
            "attempt": 1,
            "instance": "host-1",
        }
    ]
    assert expected == rows


def test_bad_fire_entry_is_shown_not_fatal() -> None:
    """An unreadable entry is listed as such and does not hide the others."""
    rows = fire_rows([("1-0", {b"v": b"9"})])
    assert ("1-0", "unreadable") == (rows[0]["entry"], rows[0]["outcome"])


def test_instance_rows() -> None:
    """Heartbeat hashes are listed by instance name with their fields."""
    hashes = {
        b"btu:erp:scheduler:host-b": {b"pid": b"12", b"leader": b"0", b"heartbeat": b"2000"},
        "btu:erp:scheduler:host-a": {"pid": "11", "leader": "1"},
    }
    expected = [
        {"instance": "host-a", "pid": "11", "leader": "1"},
        {"instance": "host-b", "pid": "12", "leader": "0", "heartbeat": "1970-01-01 00:00:02 UTC"},
    ]
    assert expected == instance_rows(hashes)


def test_outcome_counts() -> None:
    """Outcomes are counted for the panel's summary."""
    rows = [{"outcome": "enqueued"}, {"outcome": "enqueued"}, {"outcome": "missed"}]
    assert {"enqueued": 2, "missed": 1} == outcome_counts(rows)


def test_iso_utc() -> None:
    """Milliseconds are shown as a UTC timestamp; None as empty."""
    assert ("1970-01-01 00:00:01 UTC", "") == (iso_utc(1000), iso_utc(None))


def test_counter_rows() -> None:
    """Scalars and flat objects become rows; lists and nested objects are left out."""
    data = {
        "armed": 3,
        "leader": True,
        "next_due": 1000,
        "lag_ms": {"p50": 1, "p99": 12},
        "outcomes": {"enqueued": 9},
        "instances": [{"instance": "a"}],
        "nested": {"x": {"y": 1}},
    }
    expected = [
        {"name": "armed", "value": "3"},
        {"name": "leader", "value": "yes"},
        {"name": "next due", "value": "1970-01-01 00:00:01 UTC"},
        {"name": "lag ms", "value": "p50 1, p99 12"},
        {"name": "outcomes", "value": "enqueued 9"},
    ]
    assert expected == counter_rows(data)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"instance": "vm:6810", "epoch": 17}', "vm:6810 (epoch 17)"),
        ('{"instance": "vm:1"}', "vm:1"),
        ("host-a", "host-a"),
        (None, ""),
    ],
)
def test_leader_text(raw: bytes | str | None, expected: str) -> None:
    """The leader key is shown as the instance and its epoch when it is JSON."""
    assert expected == leader_text(raw)
