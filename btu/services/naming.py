"""Keeping BTU's name series from reusing a deleted document's number."""

import frappe

from btu.core.naming import series_counter


def keep_series(doc) -> None:
    """Put the series counter back to at least ``doc``'s number (call in after_delete)."""
    counter = series_counter(doc.meta.autoname or "", doc.name)
    if counter is None:
        return
    prefix, number = counter
    frappe.db.sql(
        "update `tabSeries` set `current` = greatest(`current`, %s) where `name` = %s",
        (number, prefix),
    )
