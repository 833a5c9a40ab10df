"""Schedule overrides and run-later arguments saved before BTU recorded who set them ran
as Administrator (every task did): record Administrator as their author, so installed
sites keep working. A System Manager may review them: whoever sets them again becomes
their author, and they then run only while that user may act for the task's Run As."""

import frappe


def execute():
    for doctype, field in (
        ("BTU Task Schedule", "argument_overrides"),
        ("BTU Run Later", "arguments"),
    ):
        frappe.db.set_value(
            doctype,
            {field: ("is", "set"), "arguments_set_by": ("is", "not set")},
            "arguments_set_by",
            "Administrator",
        )
