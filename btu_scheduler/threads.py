"""Threads that log with their creator's context.

Python threads do not inherit ``contextvars``; a multi-site daemon binds the site in
the context that builds a site's parts, so every thread those parts start carries the
site on its log lines.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any


def thread(target: Callable[..., Any], name: str, *args: Any) -> threading.Thread:
    """A daemon thread (not started) running ``target`` in a copy of the current context."""
    ctx = contextvars.copy_context()
    return threading.Thread(target=ctx.run, args=(target, *args), name=name, daemon=True)
