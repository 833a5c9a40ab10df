"""Writing a Task Log's run fields (status, timing, output) cheaply."""

import frappe

from btu.services import clock, rows


def write(log, values: dict) -> None:
    """Set ``values`` on the Task Log ``log`` and in the database, with ``modified``, in
    one UPDATE and without document hooks: a Task Log has none that apply, and
    ``db_set`` would load the document again and evaluate Notifications (importing
    Frappe's Notification module), webhooks and server scripts on every status change
    of every run. Plain SQL, not ``frappe.db.set_value``: see :mod:`btu.core.sqltext`."""
    now = clock.now()
    user = frappe.session.user
    log.update({**values, "modified": now, "modified_by": user})
    rows.update(log.doctype, log.name, {**values, "modified": now, "modified_by": user})
