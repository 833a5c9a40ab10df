"""Task functions of the stand-in app, and names that must never run although they can be
reached from this module."""

import os  # noqa: F401  (reachable as fakeapp.tasks.os)
import subprocess  # noqa: F401
from functools import partial
from subprocess import run  # noqa: F401  (a re-export: defined in subprocess)

from fakeapp.helpers import shared_helper  # noqa: F401  (defined in fakeapp.helpers)


def digest(to: str, days: int = 7) -> str:
    """Send the digest of the last days.

    More text that the form does not show.
    """
    return f"{to}:{days}"


def undocumented() -> None:
    return None


def _private() -> None:
    return None


class Thing:
    """A class: calling it builds an object, it is not a task function."""

    def method(self) -> None:
        return None


ANSWER = 42
bound = partial(digest, "someone")
