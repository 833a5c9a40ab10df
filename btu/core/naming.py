"""Document names of BTU's series (``TS-000001``, ``RL-000001``, ``TL-00000001``).

Frappe hands a deleted document's number back when it was the newest of its series, so
the next document gets the same name. BTU ids must never be reused: the scheduler keys
its state and catch-up by id, and logs link to schedules by name. The controllers put
the counter back after a deletion with :func:`series_counter`.
"""

from __future__ import annotations

import re

_EXPRESSION = re.compile(r"^(?P<prefix>[^#.]*)\.(?P<hashes>#+)$")


def series_counter(autoname: str, name: str) -> tuple[str, int] | None:
    """The Series key and number of ``name`` under an old-style expression such as
    ``TS-.######``; None when the name does not follow it."""
    match = _EXPRESSION.match(autoname or "")
    if not match:
        return None
    prefix, width = match["prefix"], len(match["hashes"])
    if not name.startswith(prefix):
        return None
    digits = name[len(prefix) :]
    if not digits.isdigit() or len(digits) < width:
        return None
    return prefix, int(digits)


def series_of(autoname: str) -> tuple[str, int] | None:
    """The Series key and number width of an old-style expression (``TL-.########`` ->
    ``("TL-", 8)``); None for any other naming."""
    match = _EXPRESSION.match(autoname or "")
    if not match:
        return None
    return match["prefix"], len(match["hashes"])


def series_names(prefix: str, width: int, last: int, count: int) -> list[str]:
    """The ``count`` names after number ``last`` of a series, as Frappe formats them
    (``"%0{width}d"``: wider numbers are not cut)."""
    return [f"{prefix}{number:0{width}d}" for number in range(last + 1, last + 1 + count)]
