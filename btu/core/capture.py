"""Run a task function and capture what it did: stdout, stderr, the traceback when it
raised, the returned value and the duration.

``contextlib.redirect_stdout``/``redirect_stderr`` replace ``sys.stdout``/``sys.stderr``
for the whole process. That is acceptable in an RQ work horse, which runs one job at a
time; output written by other threads during the run is captured too, and logging
handlers that hold a reference to the original stream are not.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

SUCCESS = "Success"
FAILED = "Failed"
TIMEOUT = "Timeout"

# Characters kept of each captured stream and of the rendered result.
MAX_OUTPUT = 200_000


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What one run produced."""

    status: str
    stdout: str
    stderr: str
    traceback: str
    result: str
    duration_s: float
    error: str = ""
    exception: BaseException | None = field(default=None, compare=False, repr=False)


def truncate(text: str, limit: int = MAX_OUTPUT) -> str:
    """Keep the head and the tail of ``text`` within ``limit`` characters, saying how
    much was left out in between."""
    if len(text) <= limit:
        return text
    marker = f"\n[... {len(text) - limit} characters left out ...]\n"
    keep = max(0, limit - len(marker))
    head = keep // 2
    return text[:head] + marker + text[len(text) - (keep - head) :]


def render_result(value: Any, limit: int = MAX_OUTPUT) -> str:
    """The returned value as text: JSON when it can be, ``repr`` otherwise, '' for None."""
    if value is None:
        return ""
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return truncate(text, limit)


def _never(_exc: BaseException) -> bool:
    return False


def run_captured(
    func: Callable[..., Any],
    kwargs: Mapping[str, Any],
    *,
    clock: Callable[[], float] = time.perf_counter,
    is_timeout: Callable[[BaseException], bool] = _never,
    limit: int = MAX_OUTPUT,
) -> RunOutcome:
    """Call ``func(**kwargs)`` with stdout and stderr captured.

    Exceptions (and ``SystemExit``) never escape: they become a Failed outcome, or a
    Timeout one when ``is_timeout(exc)``; the caller decides whether to re-raise
    ``outcome.exception``. ``KeyboardInterrupt`` is not caught.
    """
    out, err = io.StringIO(), io.StringIO()
    started = clock()
    value: Any = None
    exc: BaseException | None = None
    trace = ""
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            value = func(**kwargs)
    except (Exception, SystemExit) as e:
        exc = e
        trace = traceback.format_exc()
    duration = max(0.0, clock() - started)
    if exc is None:
        status, error = SUCCESS, ""
    else:
        status = TIMEOUT if is_timeout(exc) else FAILED
        error = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    return RunOutcome(
        status=status,
        stdout=truncate(out.getvalue(), limit),
        stderr=truncate(err.getvalue(), limit),
        traceback=truncate(trace, limit),
        result=render_result(value, limit),
        duration_s=round(duration, 6),
        error=truncate(error, 1000),
        exception=exc,
    )
