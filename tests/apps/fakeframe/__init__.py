"""A stand-in for ``frappe``: re-exports ``os`` and ``subprocess`` and has a ``db`` object
with ``sql``, as the real one does (``frappe.os.system``, ``frappe.db.sql``)."""

import os  # noqa: F401
import subprocess  # noqa: F401


class _Database:
    def sql(self, query: str) -> list[object]:
        return []


db = _Database()


def whitelisted_helper() -> str:
    """Defined here: runnable only when declared."""
    return "ok"
