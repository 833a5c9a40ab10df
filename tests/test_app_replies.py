"""The sentences the Desk shows after a save, a ping or a failure to reach the scheduler."""

from __future__ import annotations

import pytest

from btu.core.replies import (
    Answer,
    format_instant,
    redis_unreachable,
    refused,
    reload_answer,
    removed,
    summarize_next,
    unreachable,
)


@pytest.mark.parametrize(
    ("iso", "expected"),
    [
        pytest.param("2027-03-14T03:00:00-04:00", "2027-03-14 03:00 (UTC-04:00)", id="edt"),
        pytest.param("2027-03-14T07:00:00Z", "2027-03-14 07:00 (UTC+00:00)", id="zulu"),
        pytest.param("2027-06-01T09:30:15+05:30", "2027-06-01 09:30:15 (UTC+05:30)", id="seconds"),
        pytest.param("2027-06-01T09:30:00", "2027-06-01 09:30", id="naive"),
        pytest.param("not a date", "not a date", id="passthrough"),
    ],
)
def test_format_instant(iso: str, expected: str) -> None:
    """ISO instants from the daemon are shown as date, time and UTC offset."""
    assert expected == format_instant(iso)


class TestReloadAnswer:
    def test_armed_with_next_runs(self) -> None:
        """An armed item shows its next run and keeps the following ones."""
        data = {
            "id": "TS-000001",
            "armed": True,
            "next": ["2027-03-14T03:00:00-04:00", "2027-03-15T02:30:00-04:00"],
        }
        expected = Answer(
            "ok",
            "Armed. Next run: 2027-03-14 03:00 (UTC-04:00).",
            ["2027-03-14 03:00 (UTC-04:00)", "2027-03-15 02:30 (UTC-04:00)"],
            armed=True,
        )
        assert expected == reload_answer(data)

    def test_armed_without_runs(self) -> None:
        """An armed item without listed runs just says Armed."""
        assert Answer("ok", "Armed.", [], armed=True) == reload_answer({"armed": True})

    def test_disarmed(self) -> None:
        """A disarmed item says so in plain words."""
        answer = reload_answer({"id": "TS-1", "armed": False, "next": []})
        assert ("info", False) == (answer.level, answer.armed)
        assert answer.message.startswith("Saved. The scheduler has this item disarmed")

    def test_no_data(self) -> None:
        """A reply without data counts as disarmed rather than failing."""
        assert reload_answer(None).armed is False


def test_unreachable_says_change_applies_later() -> None:
    """A timeout says the save worked and the change applies when the scheduler is back."""
    expected = (
        "Saved, but the scheduler is not reachable right now. The change will apply as soon "
        "as it is back."
    )
    assert ("warning", expected) == (unreachable().level, unreachable().message)


def test_redis_unreachable_names_detail() -> None:
    """A Redis problem is a warning naming the error class and the hourly repair."""
    answer = redis_unreachable("ConnectionError")
    assert "warning" == answer.level
    assert "could not reach its Redis server (ConnectionError)" in answer.message
    assert "hourly check republishes it" in answer.message


def test_refused_and_removed() -> None:
    """A refusal is an error with the daemon's reason; a deleted item is reported removed."""
    assert ("error", "Saved, but the scheduler refused to reload it: unknown id") == (
        refused("unknown id").level,
        refused("unknown id").message,
    )
    assert "Removed from the scheduler." == removed().message


def test_as_dict_carries_colour() -> None:
    """The dict sent to the form has the indicator colour for its level."""
    assert {
        "level": "warning",
        "indicator": "orange",
        "message": unreachable().message,
        "next_runs": [],
        "armed": None,
    } == unreachable().as_dict()


def test_summarize_next() -> None:
    """The reply of 'next' becomes rows with a readable UTC time."""
    rows = summarize_next([{"id": "TS-1", "due": 1805007600000}, {"id": "RL-1", "due": "x"}])
    expected = [
        {"id": "TS-1", "due": 1805007600000, "due_utc": "2027-03-14 07:00 (UTC+00:00)"},
        {"id": "RL-1", "due": "x", "due_utc": ""},
    ]
    assert expected == rows
