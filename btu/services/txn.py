"""Explicit commits where a record must be durable before something outside the database
happens (a job enqueued, an email queued, a task run). FrappeTestCase tests keep their
transaction open and roll it back, so nothing is committed under ``frappe.flags.in_test``."""

import frappe


def commit() -> None:
    if not frappe.flags.in_test:
        frappe.db.commit()
