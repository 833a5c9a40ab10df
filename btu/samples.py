"""Small task functions for trying BTU out (and for its tests): point a BTU Task at
``btu.samples.hello`` to see a run end to end."""

import time


def hello(name: str = "world") -> str:
    """Print and return a greeting."""
    message = f"Hello, {name}!"
    print(message)
    return message


def add(a: int, b: int) -> int:
    """Return ``a + b`` (two mandatory arguments, to see argument checks at work)."""
    return a + b


def fail(message: str = "This task failed on purpose.") -> None:
    """Print a line, write to stderr, then raise: to see a Failed log and its emails."""
    import sys

    print("About to fail.")
    print("Something is wrong.", file=sys.stderr)
    raise RuntimeError(message)


def sleep(seconds: float = 1.0) -> float:
    """Sleep, to see In Progress and the time limit (set Max Duration below it)."""
    time.sleep(seconds)
    return seconds


def whoami() -> str:
    """Return the user this task runs as (its Run As), to see Run As at work."""
    import frappe

    return frappe.session.user
