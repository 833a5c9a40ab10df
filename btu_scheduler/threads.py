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


def from_signal(action: Callable[[], Any], name: str) -> None:
    """Run ``action`` in a thread of its own: for a signal handler. A handler runs in the
    main thread between two bytecodes, possibly while that thread holds the very lock
    ``action`` needs (an ``Event.wait`` on the event it sets, or a first handler
    interrupted by a second signal): done in place, that is a deadlock."""
    threading.Thread(target=action, name=name, daemon=True).start()
