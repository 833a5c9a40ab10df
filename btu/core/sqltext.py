"""SQL text for the runner's reads and writes of single rows by name, built from
constant doctype and field names with ``%s`` placeholders for every value.

Why not ``frappe.db.get_value``/``set_value``: each builds its query through
``frappe.qb.get_query``, whose first use in a process imports ``frappe.database.query``
and with it Frappe's document model, permissions, sharing, Notification Log, File and
PIL (about 70 ms). An RQ work horse is a fresh fork for every job, so every BTU run paid
that import; a bare ``frappe.enqueue("frappe.ping")`` job never does. Plain parameterized
SQL costs the same per query and imports nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Doctype names: letters, digits, spaces, underscores, hyphens (Frappe's own rule is
# close to this); field names: Frappe fieldnames (lower snake case).
_DOCTYPE = re.compile(r"^[A-Za-z][A-Za-z0-9 _-]*$")
_FIELD = re.compile(r"^[a-z_][a-z0-9_]*$")


class SqlTextError(ValueError):
    """A doctype or field name that cannot go into SQL text as an identifier."""


def table(doctype: str) -> str:
    if not _DOCTYPE.match(doctype or ""):
        raise SqlTextError(f"Not a doctype name: {doctype!r}")
    return f"`tab{doctype}`"


def column(field: str) -> str:
    if not _FIELD.match(field or ""):
        raise SqlTextError(f"Not a field name: {field!r}")
    return f"`{field}`"


def select_by_name(doctype: str, fields: Iterable[str] | str = "*") -> str:
    """``select <fields> from `tab<doctype>` where `name`=%s`` (one parameter: the name)."""
    if fields == "*":
        what = "*"
    else:
        names = [fields] if isinstance(fields, str) else list(fields)
        if not names:
            raise SqlTextError("No fields to select.")
        what = ", ".join(column(f) for f in names)
    return f"select {what} from {table(doctype)} where `name`=%s"


def select_by_names(doctype: str, fields: Iterable[str], count: int) -> str:
    """``select <fields> from `tab<doctype>` where `name` in (%s, ...)`` with ``count``
    placeholders (the names)."""
    if count < 1:
        raise SqlTextError("No names to select.")
    names = list(fields)
    if not names:
        raise SqlTextError("No fields to select.")
    what = ", ".join(column(f) for f in names)
    marks = ", ".join(["%s"] * count)
    return f"select {what} from {table(doctype)} where `name` in ({marks})"


def exists_by_name(doctype: str) -> str:
    return f"select `name` from {table(doctype)} where `name`=%s"


def update_by_name(doctype: str, fields: Iterable[str]) -> str:
    """``update `tab<doctype>` set `a`=%s, ... where `name`=%s``: the parameters are the
    values in ``fields`` order, then the name."""
    names = list(fields)
    if not names:
        raise SqlTextError("No fields to update.")
    sets = ", ".join(f"{column(f)}=%s" for f in names)
    return f"update {table(doctype)} set {sets} where `name`=%s"


def single_values(count: int) -> str:
    """Several Singles' fields in one query: ``count`` (doctype, field) pairs as
    parameters; rows of (doctype, field, value)."""
    if count < 1:
        raise SqlTextError("No fields to read.")
    pairs = ", ".join(["(%s, %s)"] * count)
    return (
        "select `doctype`, `field`, `value` from `tabSingles` "
        f"where (`doctype`, `field`) in ({pairs})"
    )


# The runner's first read: the log, its task's run fields, the task's Run As user and
# how many email recipients the task has, in one round trip (btu_task_* and btu_user_*
# are None when the task or user is missing).
LOG_WITH_TASK = (
    "select l.*, t.`name` as `btu_task_name`, t.`function_path` as `btu_task_function_path`,"
    " t.`arguments` as `btu_task_arguments`, t.`run_as` as `btu_task_run_as`,"
    " u.`name` as `btu_user_name`, u.`enabled` as `btu_user_enabled`,"
    " (select count(*) from `tabBTU Task Notification` n where n.`parent` = l.`task`"
    " and n.`parenttype` = 'BTU Task' and n.`parentfield` = 'notifications')"
    " as `btu_task_recipients`"
    " from `tabBTU Task Log` l"
    " left join `tabBTU Task` t on t.`name` = l.`task`"
    " left join `tabUser` u on u.`name` = t.`run_as`"
    " where l.`name`=%s"
)
JOINED = (
    "btu_task_name",
    "btu_task_function_path",
    "btu_task_arguments",
    "btu_task_run_as",
    "btu_user_name",
    "btu_user_enabled",
    "btu_task_recipients",
)


def single_value() -> str:
    """One field of a Single doctype, as stored (text): parameters doctype, field."""
    return "select `value` from `tabSingles` where `doctype`=%s and `field`=%s"
