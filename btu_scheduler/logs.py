"""structlog configuration: done once, by the CLI, never at import time.

Production chain (structlog's performance guide): a filtering bound logger, contextvars,
ISO timestamps, and orjson rendering straight to bytes. On a TTY (or with
``log_format = "console"``) the console renderer is used instead.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, TextIO

import orjson
import structlog

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


def _orjson_dumps(obj: Any, default: Any = None) -> bytes:
    return orjson.dumps(obj, default=default or str)


def _iso_ms(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def with_context(static: Mapping[str, str]) -> Any:
    """A processor: every line carries ``static`` (the site and the instance) unless it
    names them itself, and a ``due`` in epoch ms is repeated as ISO 8601 (``due_iso``)."""

    def add(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
        for key, value in static.items():
            event.setdefault(key, value)
        due = event.get("due")
        if isinstance(due, int) and not isinstance(due, bool) and 0 <= due < 253402300800000:
            event.setdefault("due_iso", _iso_ms(due))
        return event

    return add


def configure(
    level: str = "info",
    fmt: str = "auto",
    stream: TextIO | None = None,
    context: Mapping[str, str] | None = None,
) -> None:
    """Configure structlog for the daemon process (JSON lines unless on a TTY).
    ``context`` (the site and the instance) goes on every line."""
    out = stream or sys.stderr
    console = fmt == "console" or (fmt == "auto" and out.isatty())
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        with_context(context or {}),
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    if console:
        processors.append(structlog.dev.ConsoleRenderer(colors=out.isatty()))
        factory: Any = structlog.PrintLoggerFactory(file=out)
    else:
        processors.append(structlog.processors.JSONRenderer(serializer=_orjson_dumps))
        binary = getattr(out, "buffer", None) or sys.stderr.buffer
        factory = structlog.BytesLoggerFactory(file=binary)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[level.lower()]),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
