"""Task arguments: JSON objects typed into the Desk, parsed with a position on error and
merged (schedule or run-later overrides over the task's own arguments)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class ArgumentsError(ValueError):
    """Arguments that are not a JSON object; ``line``/``column`` point at a parse error."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


_KIND = {
    list: "list",
    str: "text",
    int: "number",
    float: "number",
    bool: "true/false value",
    type(None): "null",
}


def parse_arguments(text: str | None, what: str = "Arguments") -> dict[str, Any]:
    """Parse ``text`` as a JSON object; blank text is ``{}``.

    Raises :class:`ArgumentsError` naming the line and column of a syntax error, or
    saying what was found instead of an object.
    """
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ArgumentsError(
            f"{what} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}.",
            line=e.lineno,
            column=e.colno,
        ) from e
    if not isinstance(value, dict):
        kind = _KIND.get(type(value), type(value).__name__)
        raise ArgumentsError(
            f'{what} must be a JSON object such as {{"name": "value"}}, not a {kind}.'
        )
    return value


def merge_arguments(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The task's arguments with ``overrides`` on top: a key in ``overrides`` replaces the
    task's value for that key entirely (no deep merge), every other key is kept."""
    merged = dict(base)
    merged.update(overrides)
    return merged


def format_arguments(args: Mapping[str, Any]) -> str:
    """Pretty JSON for storing the effective arguments on a Task Log (``{}`` when empty)."""
    if not args:
        return "{}"
    return json.dumps(args, indent=2, ensure_ascii=False, default=str)
