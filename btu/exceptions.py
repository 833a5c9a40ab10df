"""Exceptions the app raises through Frappe; ``http_status_code`` is what the caller of a
whitelisted method (the daemon) sees."""

import frappe


class ItemNotFound(frappe.DoesNotExistError):
    """The fired item does not exist (404: the daemon does not retry)."""

    http_status_code = 404


class ItemDisabled(frappe.ValidationError):
    """The fired item or its task is disabled (409: the daemon does not retry)."""

    http_status_code = 409


class BadFireRequest(frappe.ValidationError):
    """A malformed fire request (400: the daemon does not retry)."""

    http_status_code = 400


class QueueUnavailable(frappe.ValidationError):
    """RQ's Redis did not take the job (503: the daemon retries with backoff)."""

    http_status_code = 503


class TaskFailed(Exception):
    """Raised by the runner after recording a failed run, so RQ marks the job failed."""
