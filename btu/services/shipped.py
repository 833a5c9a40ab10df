"""Syncing the tasks and schedules apps ship in ``hooks.py`` (``btu_tasks``) into the
site, on install and on every ``bench migrate``: thin glue over :mod:`btu.core.shipped`.

Each task is synced in its own savepoint: a task that cannot be saved (undeclared
function, bad cron, a same-named task the app did not create) is reported and skipped,
and the rest of the migrate goes on.
"""

from __future__ import annotations

from typing import Any

import frappe

from btu.core.shipped import (
    HOOK,
    Merge,
    ShippedTask,
    dump_last,
    load_last,
    merge,
    parse_hook,
    withdraw,
)

TASK = "BTU Task"
SCHEDULE = "BTU Task Schedule"
TASK_FIELDS = ("function_path", "arguments", "queue", "description", "enabled")
SCHEDULE_FIELDS = ("cron_expression", "time_zone", "enabled")


def logger():
    return frappe.logger("btu", allow_site=True)


def _report(problems: list[str], actions: list[str]) -> None:
    for line in actions:
        print(f"BTU: {line}")
    for line in problems:
        print(f"BTU: skipped: {line}")
        logger().error(f"btu: shipped tasks: {line}")


def shipped_tasks(apps: list[str]) -> tuple[list[ShippedTask], list[str]]:
    tasks: list[ShippedTask] = []
    problems: list[str] = []
    for app in apps:
        entries = frappe.get_hooks(HOOK, app_name=app) or []
        found, bad = parse_hook(app, entries)
        tasks.extend(found)
        problems.extend(bad)
    return tasks, problems


def _for_doc(changes: dict[str, Any]) -> dict[str, Any]:
    """Changes as the form shows them: arguments as indented JSON."""
    if changes.get("arguments"):
        return {**changes, "arguments": frappe.as_json(frappe.parse_json(changes["arguments"]))}
    return changes


def _save(doc, result: Merge) -> None:
    doc.update(_for_doc(result.changes))
    doc.shipped_values = dump_last(result.last)
    doc.flags.ignore_permissions = True
    doc.save()


def _current(doc, fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: doc.get(f) for f in fields}


def _sync_task(task: ShippedTask, actions: list[str]) -> None:
    name = frappe.db.get_value(TASK, task.title, ["name", "source_app"], as_dict=True)
    if name and name.source_app != task.app:
        raise ValueError(
            f"{task.app}: a task named {task.title!r} already exists and was not created by "
            f"{task.app} (Source App: {name.source_app or 'none'}); rename one of them."
        )
    if name:
        doc = frappe.get_doc(TASK, task.title)
        result = merge(_current(doc, TASK_FIELDS), load_last(doc.shipped_values), task.values)
        if result.changes or result.last != load_last(doc.shipped_values):
            _save(doc, result)
            if result.changes:
                actions.append(f"updated task {task.title!r}: {', '.join(sorted(result.changes))}")
    else:
        doc = frappe.new_doc(TASK)
        doc.title = task.title
        doc.source_app = task.app
        doc.run_as = "Administrator"
        result = merge(None, {}, task.values)
        doc.update(_for_doc(result.changes))
        doc.shipped_values = dump_last(result.last)
        doc.insert(ignore_permissions=True)
        actions.append(f"created task {task.title!r} ({task.app})")
    wanted = {task.schedule_key(s): s for s in task.schedules}
    existing = {
        row.source_key: row.name
        for row in frappe.get_all(
            SCHEDULE,
            filters={"source_app": task.app, "task": doc.name},
            fields=["name", "source_key"],
        )
    }
    for key, schedule in wanted.items():
        if key in existing:
            sdoc = frappe.get_doc(SCHEDULE, existing[key])
            last = load_last(sdoc.shipped_values)
            result = merge(_current(sdoc, SCHEDULE_FIELDS), last, schedule.values)
            if "cron_expression" in result.changes:
                sdoc.frequency = "Cron"
            if result.changes or result.last != last:
                _save(sdoc, result)
                if result.changes:
                    actions.append(f"updated schedule {key!r}: {', '.join(sorted(result.changes))}")
        else:
            sdoc = frappe.new_doc(SCHEDULE)
            sdoc.update(
                {"task": doc.name, "source_app": task.app, "source_key": key, "frequency": "Cron"}
            )
            result = merge(None, {}, schedule.values)
            sdoc.update(result.changes)
            sdoc.shipped_values = dump_last(result.last)
            sdoc.insert(ignore_permissions=True)
            actions.append(f"created schedule {key!r}")
    for key, name in existing.items():
        if key not in wanted:
            _withdraw(SCHEDULE, name, SCHEDULE_FIELDS, actions, f"schedule {key!r}")


def _withdraw(doctype: str, name: str, fields, actions: list[str], label: str) -> None:
    doc = frappe.get_doc(doctype, name)
    last = load_last(doc.shipped_values)
    result = withdraw(_current(doc, fields), last)
    if result.last != last:
        _save(doc, result)
        actions.append(f"{label} is no longer shipped by {doc.source_app}: disabled")


def sync_shipped(apps: list[str] | None = None) -> dict[str, list[str]]:
    """Create, update or withdraw what the installed apps ship; returns what was done
    and what was skipped (also printed, and logged as errors)."""
    installed = list(apps if apps is not None else frappe.get_installed_apps())
    tasks, problems = shipped_tasks(installed)
    actions: list[str] = []
    for task in tasks:
        savepoint = f"btu_shipped_{frappe.generate_hash(length=8)}"
        frappe.db.savepoint(savepoint)
        try:
            _sync_task(task, actions)
        except Exception as e:  # one bad task must not stop the migrate
            frappe.db.rollback(save_point=savepoint)
            frappe.clear_last_message()
            problems.append(f"{task.app} task {task.title!r}: {_text(e)}")
        else:
            frappe.db.release_savepoint(savepoint)
    shipped = {(t.app, t.title) for t in tasks}
    for row in frappe.get_all(
        TASK, filters={"source_app": ["is", "set"]}, fields=["name", "source_app"]
    ):
        if (row.source_app, row.name) not in shipped:
            # Withdrawn: the task (so none of its schedules fires) and its shipped
            # schedules (so shipping it again re-enables only what the app ships).
            _withdraw(TASK, row.name, TASK_FIELDS, actions, f"task {row.name!r}")
            for sname in frappe.get_all(
                SCHEDULE,
                filters={"task": row.name, "source_app": row.source_app},
                pluck="name",
            ):
                _withdraw(SCHEDULE, sname, SCHEDULE_FIELDS, actions, f"schedule {sname}")
    _report(problems, actions)
    return {"actions": actions, "problems": problems}


def _text(error: Exception) -> str:
    message = str(error) or type(error).__name__
    return frappe.utils.strip_html(message).replace("\n", " ")


def after_app_change(app_name: str | None = None) -> None:
    """``after_app_install`` / ``after_app_uninstall``: sync what the apps now ship."""
    if "btu" in frappe.get_installed_apps():
        sync_shipped()
