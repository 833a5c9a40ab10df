"""Tasks and function run-later items saved before Run As was required ran as
Administrator: say so, so that installed sites keep working (issue 7)."""

import frappe


def execute():
    frappe.db.set_value("BTU Task", {"run_as": ("is", "not set")}, "run_as", "Administrator")
    frappe.db.set_value(
        "BTU Run Later",
        {"run_as": ("is", "not set"), "task": ("is", "not set")},
        "run_as",
        "Administrator",
    )
