"""structlog configuration: done once, by the CLI, never at import time.

Production chain (structlog's performance guide): a filtering bound logger, contextvars,
ISO timestamps, and orjson rendering straight to bytes. On a TTY (or with
``log_format = "console"``) the console renderer is used instead.
"""

from __future__ import annotations

import logging
import sys
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


def configure(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Configure structlog for the daemon process (JSON lines unless on a TTY)."""
    out = stream or sys.stderr
    console = fmt == "console" or (fmt == "auto" and out.isatty())
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
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
