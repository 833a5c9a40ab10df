"""The checks controllers run in ``validate()``: each calls :mod:`btu.core` and turns
its error into a message on the form (``frappe.throw``)."""

from typing import Any

import frappe
from frappe import _

from btu.core import runas
from btu.core.arguments import ArgumentsError, merge_arguments, parse_arguments
from btu.core.callables import CallableError, Registry, parse_extra, resolve, validate_call
from btu.core.notify import invalid_addresses
from btu.core.roles import SYSTEM_MANAGER
from btu.services import config


def arguments(text: str | None, label: str) -> dict[str, Any]:
    try:
        return parse_arguments(text, label)
    except ArgumentsError as e:
        frappe.throw(e.message, title=_("Invalid arguments"))
    return {}


def callable_with(path: str | None, args: dict[str, Any]) -> None:
    try:
        validate_call(path or "", args, config.runnable())
    except CallableError as e:
        frappe.throw(str(e), title=_("Function cannot run"))


def task_run_as(task: str | None) -> str | None:
    return frappe.db.get_value("BTU Task", task, "run_as") if task else None


def may_choose_for(run_as: str | None, what: str) -> None:
    """Refuse (403) unless the user may choose ``what`` runs as ``run_as``."""
    user = frappe.session.user
    try:
        runas.check_may_act_as(user, frappe.get_roles(user), run_as or user, what)
    except runas.RunAsError as e:
        frappe.throw(str(e), frappe.PermissionError, title=_("Run As"))


def authored_arguments(task: str) -> list[tuple[str | None, str]]:
    """``(who set them, what)`` for the argument overrides of ``task``'s schedules and the
    arguments of its pending run-later items: what its runs take besides its own."""
    rows = [
        (r.arguments_set_by, f"The argument overrides of schedule {r.name}")
        for r in frappe.get_all(
            "BTU Task Schedule",
            filters={"task": task, "argument_overrides": ("is", "set")},
            fields=["name", "arguments_set_by"],
        )
    ]
    rows += [
        (r.arguments_set_by, f"The arguments of run-later item {r.name}")
        for r in frappe.get_all(
            "BTU Run Later",
            filters={"task": task, "status": "Pending", "arguments": ("is", "set")},
            fields=["name", "arguments_set_by"],
        )
    ]
    return rows


def authored_arguments_fit(task: str, run_as: str | None) -> None:
    """Refuse (403) a new Run As that arguments set by others could not run as."""
    problems = []
    for author, what in authored_arguments(task):
        try:
            runas.check_author(
                author, frappe.get_roles(author) if author else [], run_as or "", what
            )
        except runas.RunAsError as e:
            problems.append(str(e))
    if problems:
        frappe.throw(
            "<br>".join(frappe.utils.escape_html(p) for p in problems),
            frappe.PermissionError,
            title=_("Run As"),
        )


def extra_runnable_functions(text: str | None, changed: bool) -> None:
    """Extra Runnable Functions: System Managers only; each line a function of an
    installed app, defined in the module the line names."""
    if not changed:
        return
    user = frappe.session.user
    if user != "Administrator" and SYSTEM_MANAGER not in frappe.get_roles(user):
        frappe.throw(
            _("Only a System Manager may change Extra Runnable Functions."),
            frappe.PermissionError,
        )
    apps = frappe.get_installed_apps()
    paths, problems = parse_extra(text, apps)
    registry = Registry(declared=dict.fromkeys(paths, "BTU Configuration"))
    for path in paths:
        try:
            resolve(path, registry)
        except CallableError as e:
            problems.append(str(e))
    if problems:
        frappe.throw(
            "<br>".join(frappe.utils.escape_html(p) for p in problems),
            title=_("Extra Runnable Functions"),
        )


def task_callable(task: str, overrides: dict[str, Any]) -> None:
    """The task's function with the task's arguments merged under ``overrides``."""
    path, text = frappe.db.get_value("BTU Task", task, ["function_path", "arguments"]) or (
        None,
        None,
    )
    base = parse_arguments(text) if text else {}
    callable_with(path, merge_arguments(base, overrides))


def queue(name: str | None, label: str) -> None:
    if not name:
        return
    queues = config.known_queues()
    if name not in queues:
        frappe.throw(
            _("{0} '{1}' is not one of this bench's queues: {2}.").format(
                label, name, ", ".join(sorted(queues))
            ),
            title=_("Unknown queue"),
        )


def non_negative(value: Any, label: str) -> None:
    if value is not None and float(value) < 0:
        frappe.throw(_("{0} cannot be negative.").format(label))


def recipients(rows: list) -> None:
    bad = invalid_addresses([row.as_dict() if hasattr(row, "as_dict") else row for row in rows])
    if bad:
        frappe.throw(
            _("These are not email addresses: {0}.").format(", ".join(bad)),
            title=_("Notification recipients"),
        )
