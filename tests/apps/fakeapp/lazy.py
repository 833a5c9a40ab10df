"""A module whose ``__getattr__`` would hand out anything (PEP 562)."""

import os


def __getattr__(name: str) -> object:
    return os.system
