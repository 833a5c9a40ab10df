"""Example task functions the demo's RQ worker runs (as a site's BTU Tasks would)."""

from __future__ import annotations

import time
from datetime import datetime, timezone


def say_hello(name: str = "world") -> str:
    """Greets; the cheapest possible task."""
    return f"hello, {name}, at {datetime.now(timezone.utc).isoformat(timespec='milliseconds')}"


def sum_numbers(count: int = 100_000) -> int:
    """A little CPU work."""
    return sum(range(count))


def nap(seconds: float = 0.2) -> str:
    """A task that takes a while."""
    time.sleep(seconds)
    return f"slept {seconds} s"


# task name (as published in the `task` field) -> dotted path of the function
DEMO_TASKS = {
    "Say Hello": "btu_scheduler.demo.tasks.say_hello",
    "Sum Numbers": "btu_scheduler.demo.tasks.sum_numbers",
    "Nap": "btu_scheduler.demo.tasks.nap",
}
