"""Email selection (who hears about which event) and composition."""

from __future__ import annotations

import pytest

from btu.core.notify import (
    FAILURE,
    START,
    SUCCESS,
    TIMEOUT,
    RunFacts,
    compose,
    event_for_status,
    invalid_addresses,
    recipients_for,
)

ROWS = [
    {
        "address": "ops@example.com",
        "on_start": 0,
        "on_success": 0,
        "on_failure": 1,
        "on_timeout": 1,
    },
    {
        "address": "boss@example.com",
        "on_start": 0,
        "on_success": 1,
        "on_failure": 1,
        "on_timeout": 0,
    },
    {
        "address": "watcher@example.com",
        "on_start": 1,
        "on_success": 1,
        "on_failure": 1,
        "on_timeout": 1,
    },
    {
        "address": "OPS@example.com",
        "on_start": 1,
        "on_success": 1,
        "on_failure": 1,
        "on_timeout": 1,
    },
    {"address": "  ", "on_start": 1, "on_success": 1, "on_failure": 1, "on_timeout": 1},
]


class TestRecipients:
    @pytest.mark.parametrize(
        ("event", "expected"),
        [
            pytest.param(START, ["watcher@example.com", "OPS@example.com"], id="start"),
            pytest.param(
                SUCCESS,
                ["boss@example.com", "watcher@example.com", "OPS@example.com"],
                id="success",
            ),
            pytest.param(
                FAILURE,
                ["ops@example.com", "boss@example.com", "watcher@example.com"],
                id="failure",
            ),
            pytest.param(TIMEOUT, ["ops@example.com", "watcher@example.com"], id="timeout"),
        ],
    )
    def test_each_event(self, event: str, expected: list[str]) -> None:
        """Each event reaches the rows that ticked it, once per address (case-blind), in order."""
        assert expected == recipients_for(event, ROWS)

    def test_no_rows(self) -> None:
        """A task without recipients sends nothing."""
        assert [] == recipients_for(FAILURE, [])

    def test_unknown_event(self) -> None:
        """An unknown event is a programming error."""
        with pytest.raises(ValueError, match="unknown notification event"):
            recipients_for("finished", ROWS)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("In Progress", START),
        ("Success", SUCCESS),
        ("Failed", FAILURE),
        ("Timeout", TIMEOUT),
        ("Queued", None),
        ("Cancelled", None),
    ],
)
def test_event_for_status(status: str, expected: str | None) -> None:
    """Log statuses map to the notification events, or to none."""
    assert expected == event_for_status(status)


def test_invalid_addresses() -> None:
    """Entries that are not email addresses are listed; blanks are ignored."""
    rows = [
        {"address": "ok@example.com"},
        {"address": "no-at-sign"},
        {"address": "two@@example.com"},
        {"address": "Name <x@example.com>"},
        {"address": ""},
    ]
    expected = ["no-at-sign", "two@@example.com", "Name <x@example.com>"]
    assert expected == invalid_addresses(rows)


class TestCompose:
    FACTS = RunFacts(
        task="Nightly <export>",
        log="TL-00000042",
        status="Failed",
        started="2027-03-14 02:00:00",
        ended="2027-03-14 02:00:03",
        duration_s=3.5,
        error="ValueError: bad code 7",
        traceback="Traceback...\nValueError: bad code 7",
        link="https://erp.example.com/app/btu-task-log/TL-00000042",
    )

    def test_subject(self) -> None:
        """The subject names the task and what happened."""
        subject, _ = compose(FAILURE, self.FACTS)
        assert "[BTU] Nightly <export> failed" == subject

    def test_body_is_escaped_and_complete(self) -> None:
        """The body escapes HTML and carries the facts, the link and the traceback."""
        _, body = compose(FAILURE, self.FACTS)
        expected_parts = [
            "Nightly &lt;export&gt;</b> failed.",
            "<td>3.500 s</td>",
            "<td>ValueError: bad code 7</td>",
            "href='https://erp.example.com/app/btu-task-log/TL-00000042'",
            "<pre>Traceback...\nValueError: bad code 7</pre>",
        ]
        assert [True] * len(expected_parts) == [part in body for part in expected_parts]

    def test_success_has_no_traceback_block(self) -> None:
        """A success email has no error details block."""
        _, body = compose(SUCCESS, self.FACTS)
        assert "<pre>" not in body

    def test_long_details_are_cut_to_the_end(self) -> None:
        """Very long tracebacks keep their end, where the error is."""
        facts = RunFacts(task="t", log="l", status="Failed", traceback="x" * 10_000 + "END")
        _, body = compose(FAILURE, facts)
        assert "[...]\n" in body and body.rstrip().endswith("END</pre>")
