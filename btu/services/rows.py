"""Single-row reads and writes by name with parameterized SQL (see
:mod:`btu.core.sqltext` for why the runner does not use ``frappe.db.get_value`` and
``set_value``): what every RQ work horse needs to run a BTU job."""

from __future__ import annotations

from typing import Any

import frappe

from btu.core import sqltext


def get(doctype: str, name: str | None, fields: list[str] | str = "*"):
    """The row of ``doctype`` named ``name`` as a ``frappe._dict`` (``fields`` or all
    columns), or None when there is none."""
    if not name:
        return None
    rows = frappe.db.sql(sqltext.select_by_name(doctype, fields), (name,), as_dict=True)
    return rows[0] if rows else None


def get_many(doctype: str, names: list[str], fields: list[str]) -> list:
    """The rows of ``doctype`` among ``names`` (``fields`` of each, as ``frappe._dict``),
    in no particular order; what ``frappe.get_all`` with a name filter returns, without
    importing Frappe's query layer."""
    if not names:
        return []
    return frappe.db.sql(sqltext.select_by_names(doctype, fields, len(names)), names, as_dict=True)


def value(doctype: str, name: str | None, field: str) -> Any:
    row = get(doctype, name, [field])
    return row[field] if row else None


def exists(doctype: str, name: str | None) -> bool:
    if not name:
        return False
    return bool(frappe.db.sql(sqltext.exists_by_name(doctype), (name,)))


def update(doctype: str, name: str, values: dict[str, Any]) -> None:
    """Set ``values`` on the row, as given (``modified`` only when it is among them),
    without document hooks, like ``frappe.db.set_value``: the document cache of that row
    is cleared too. Nothing happens when the row is gone."""
    fields = list(values)
    params = [values[f] for f in fields]
    params.append(name)
    frappe.db.sql(sqltext.update_by_name(doctype, fields), params)
    frappe.clear_document_cache(doctype, name)


def singles_text(pairs: list[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
    """Several Singles' fields as stored, in one query: {(doctype, field): value}
    (fields never saved are absent)."""
    if not pairs:
        return {}
    params = [x for pair in pairs for x in pair]
    found = frappe.db.sql(sqltext.single_values(len(pairs)), params)
    return {(doctype, field): value for doctype, field, value in found}


def log_with_task(name: str):
    """The Task Log row named ``name`` and, in one query, its task's run fields and the
    task's Run As user: ``(log, joined)`` with ``joined`` keyed as
    :data:`btu.core.sqltext.JOINED`; ``(None, {})`` when the log is gone."""
    found = frappe.db.sql(sqltext.LOG_WITH_TASK, (name,), as_dict=True)
    if not found:
        return None, {}
    log = found[0]
    joined = {key: log.pop(key, None) for key in sqltext.JOINED}
    return log, joined


def single_text(doctype: str, field: str) -> str | None:
    """A Single's field as stored (for Data, Text and Link fields, what
    ``frappe.db.get_single_value`` returns, without loading the doctype's meta)."""
    rows = frappe.db.sql(sqltext.single_value(), (doctype, field))
    return rows[0][0] if rows else None
