"""Data of the script reports; the aggregation is :mod:`btu.core.stats`."""

import time
from collections.abc import Mapping
from typing import Any

import frappe
from frappe import _
from frappe.utils import add_days, getdate, nowdate

from btu.core.stats import schedule_overview, task_log_statistics
from streams import cron
from streams.errors import CronError

LOG = "BTU Task Log"
LOG_FIELDS = ["task", "schedule", "status", "duration", "started", "creation"]


def _log_filters(filters: dict) -> dict:
    start = getdate(filters.get("from_date") or add_days(nowdate(), -30))
    end = getdate(filters.get("to_date") or nowdate())
    out: dict = {"creation": ["between", [f"{start} 00:00:00", f"{end} 23:59:59.999999"]]}
    if filters.get("task"):
        out["task"] = filters["task"]
    return out


def _next_run(row: Mapping[str, Any], tasks: dict[str, bool], now_ms: int) -> str:
    if not row.get("enabled") or not tasks.get(row.get("task") or "", False):
        return _("Disabled")
    try:
        due = cron.compile_schedule(row["cron_expression"], row["time_zone"]).next_after(now_ms)
    except CronError as e:
        return _("Invalid: {0}").format(e)
    return cron.iso_local(due, row["time_zone"]).replace("T", " ") if due else _("Never")


def schedule_overview_report(filters: dict) -> tuple[list, list]:
    schedule_filters: dict = {}
    if filters.get("task"):
        schedule_filters["task"] = filters["task"]
    if filters.get("enabled") in ("Yes", "No"):
        schedule_filters["enabled"] = int(filters["enabled"] == "Yes")
    schedules = frappe.get_all(
        "BTU Task Schedule",
        filters=schedule_filters,
        fields=[
            "name",
            "task",
            "enabled",
            "cron_expression",
            "time_zone",
            "description",
            "last_run",
            "last_outcome",
        ],
        order_by="task asc, name asc",
    )
    tasks = {
        t.name: bool(t.enabled) for t in frappe.get_all("BTU Task", fields=["name", "enabled"])
    }
    log_filters = {**_log_filters(filters), "schedule": ["is", "set"]}
    logs = frappe.get_all(LOG, filters=log_filters, fields=LOG_FIELDS)
    now_ms = int(time.time() * 1000)
    rows = schedule_overview(schedules, logs, lambda row: _next_run(row, tasks, now_ms))
    columns = [
        {
            "label": _("Schedule"),
            "fieldname": "schedule",
            "fieldtype": "Link",
            "options": "BTU Task Schedule",
            "width": 110,
        },
        {
            "label": _("Task"),
            "fieldname": "task",
            "fieldtype": "Link",
            "options": "BTU Task",
            "width": 180,
        },
        {"label": _("Enabled"), "fieldname": "enabled", "fieldtype": "Check", "width": 70},
        {"label": _("Description"), "fieldname": "description", "fieldtype": "Data", "width": 220},
        {"label": _("Time Zone"), "fieldname": "time_zone", "fieldtype": "Data", "width": 130},
        {"label": _("Next Run"), "fieldname": "next_run", "fieldtype": "Data", "width": 200},
        {"label": _("Last Run"), "fieldname": "last_run", "fieldtype": "Datetime", "width": 160},
        {
            "label": _("Last Outcome"),
            "fieldname": "last_outcome",
            "fieldtype": "Data",
            "width": 100,
        },
        {"label": _("Runs"), "fieldname": "runs", "fieldtype": "Int", "width": 70},
        {"label": _("Failures"), "fieldname": "failures", "fieldtype": "Int", "width": 80},
        {
            "label": _("Avg Duration (s)"),
            "fieldname": "avg_duration",
            "fieldtype": "Float",
            "precision": 3,
            "width": 120,
        },
        {"label": _("Cron"), "fieldname": "cron_expression", "fieldtype": "Data", "width": 120},
    ]
    return columns, rows


def task_log_statistics_report(filters: dict) -> tuple[list, list, None, dict]:
    logs = frappe.get_all(LOG, filters=_log_filters(filters), fields=LOG_FIELDS)
    rows = task_log_statistics(logs)
    columns = [
        {
            "label": _("Task"),
            "fieldname": "task",
            "fieldtype": "Link",
            "options": "BTU Task",
            "width": 200,
        },
        {"label": _("Runs"), "fieldname": "runs", "fieldtype": "Int", "width": 70},
        {"label": _("Success"), "fieldname": "success", "fieldtype": "Int", "width": 80},
        {"label": _("Failed"), "fieldname": "failed", "fieldtype": "Int", "width": 70},
        {"label": _("Timeout"), "fieldname": "timeout", "fieldtype": "Int", "width": 80},
        {"label": _("Cancelled"), "fieldname": "cancelled", "fieldtype": "Int", "width": 80},
        {
            "label": _("Queued / Running"),
            "fieldname": "in_flight",
            "fieldtype": "Int",
            "width": 120,
        },
        {
            "label": _("Success Rate (%)"),
            "fieldname": "success_rate",
            "fieldtype": "Percent",
            "width": 120,
        },
        {
            "label": _("Avg Duration (s)"),
            "fieldname": "avg_duration",
            "fieldtype": "Float",
            "precision": 3,
            "width": 120,
        },
        {
            "label": _("P95 Duration (s)"),
            "fieldname": "p95_duration",
            "fieldtype": "Float",
            "precision": 3,
            "width": 120,
        },
        {
            "label": _("Max Duration (s)"),
            "fieldname": "max_duration",
            "fieldtype": "Float",
            "precision": 3,
            "width": 120,
        },
        {"label": _("Last Run"), "fieldname": "last_run", "fieldtype": "Datetime", "width": 160},
        {
            "label": _("Last Outcome"),
            "fieldname": "last_outcome",
            "fieldtype": "Data",
            "width": 100,
        },
    ]
    chart = {
        "data": {
            "labels": [r["task"] for r in rows],
            "datasets": [
                {"name": _("Success"), "values": [r["success"] for r in rows]},
                {"name": _("Failed"), "values": [r["failed"] for r in rows]},
                {"name": _("Timeout"), "values": [r["timeout"] for r in rows]},
            ],
        },
        "type": "bar",
        "barOptions": {"stacked": 1},
        "colors": ["#29CD42", "#E24C4C", "#ECAD4B"],
    }
    return columns, rows, None, chart
