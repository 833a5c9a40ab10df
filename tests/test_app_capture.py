"""Task-run capture: output, traceback, result and duration of one call."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from btu.core.capture import (
    FAILED,
    SUCCESS,
    TIMEOUT,
    render_result,
    run_captured,
    truncate,
)


class FakeTimeout(Exception):
    """Stands in for rq's JobTimeoutException."""


def ticking(*values: float) -> Iterator[float]:
    yield from values


def clock_of(*values: float):  # type: ignore[no-untyped-def]
    it = ticking(*values)
    return lambda: next(it)


def greet(name: str, loud: bool = False) -> dict[str, str]:
    print(f"hello {name}")
    print("careful", file=sys.stderr)
    return {"greeted": name.upper() if loud else name}


def explode(code: int) -> None:
    print("about to fail")
    raise ValueError(f"bad code {code}")


class TestRunCaptured:
    def test_success(self) -> None:
        """A successful call yields Success with its output, result and duration."""
        outcome = run_captured(greet, {"name": "ada"}, clock=clock_of(10.0, 10.25))
        actual = (
            outcome.status,
            outcome.stdout,
            outcome.stderr,
            outcome.result,
            outcome.duration_s,
        )
        expected = (SUCCESS, "hello ada\n", "careful\n", '{\n  "greeted": "ada"\n}', 0.25)
        assert expected == actual

    def test_success_has_no_error(self) -> None:
        """A successful call has no traceback, error or exception."""
        outcome = run_captured(greet, {"name": "ada", "loud": True})
        assert ("", "", None) == (outcome.traceback, outcome.error, outcome.exception)

    def test_failure_keeps_output_and_traceback(self) -> None:
        """A raising call yields Failed with its earlier output and the traceback."""
        outcome = run_captured(explode, {"code": 7})
        assert (FAILED, "about to fail\n", "ValueError: bad code 7") == (
            outcome.status,
            outcome.stdout,
            outcome.error,
        )
        assert outcome.traceback.startswith("Traceback (most recent call last):")
        assert outcome.traceback.rstrip().endswith("ValueError: bad code 7")
        assert "in explode" in outcome.traceback
        assert isinstance(outcome.exception, ValueError)

    def test_timeout_is_classified(self) -> None:
        """An exception the caller calls a timeout yields Timeout."""

        def slow() -> None:
            raise FakeTimeout("Task exceeded maximum timeout value (5 seconds)")

        outcome = run_captured(slow, {}, is_timeout=lambda e: isinstance(e, FakeTimeout))
        assert TIMEOUT == outcome.status

    def test_system_exit_is_a_failure(self) -> None:
        """A task calling sys.exit() fails instead of stopping the worker."""

        def quits() -> None:
            sys.exit(3)

        outcome = run_captured(quits, {})
        assert (FAILED, "SystemExit: 3") == (outcome.status, outcome.error)

    def test_error_without_message(self) -> None:
        """An exception without a message is named by its class alone."""

        def bare() -> None:
            raise RuntimeError

        assert "RuntimeError" == run_captured(bare, {}).error

    def test_keyboard_interrupt_is_not_swallowed(self) -> None:
        """KeyboardInterrupt propagates: stopping the worker must still work."""

        def interrupted() -> None:
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            run_captured(interrupted, {})

    def test_streams_are_restored(self) -> None:
        """sys.stdout and sys.stderr are the originals again after the run, even on failure."""
        before = (sys.stdout, sys.stderr)
        run_captured(explode, {"code": 1})
        assert before == (sys.stdout, sys.stderr)

    def test_output_is_truncated(self) -> None:
        """Huge output is cut to the limit, keeping its head and tail."""

        def chatty() -> None:
            print("A" * 500 + "B" * 500, end="")

        outcome = run_captured(chatty, {}, limit=200)
        assert 200 == len(outcome.stdout)
        assert (True, True) == (outcome.stdout.startswith("A"), outcome.stdout.endswith("B"))


class TestRenderResult:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            pytest.param(None, "", id="none"),
            pytest.param(3, "3", id="int"),
            pytest.param(
                {"b": 1, "a": [1, 2]}, '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}', id="dict"
            ),
            pytest.param({1, 2}, "{1, 2}", id="set-uses-repr"),
        ],
    )
    def test_rendering(self, value: object, expected: str) -> None:
        """Results are JSON when possible, repr otherwise, empty for None."""
        assert expected == render_result(value)


class TestTruncate:
    def test_short_text_unchanged(self) -> None:
        """Text within the limit is returned as is."""
        assert "abc" == truncate("abc", 10)

    def test_marker_says_how_much_was_cut(self) -> None:
        """The marker in the middle says how many characters were left out."""
        text = truncate("x" * 1000, 100)
        assert (100, True) == (len(text), "[... 900 characters left out ...]" in text)
