"""Role checks for whitelisted endpoints (the first thing each endpoint does)."""

from collections.abc import Collection

import frappe
from frappe import _

from btu.core.roles import allowed


def require_roles(required: Collection[str]) -> None:
    """Raise ``frappe.PermissionError`` (403) unless the user holds one of ``required``."""
    user = frappe.session.user
    if allowed(user, frappe.get_roles(user), required):
        return
    frappe.throw(
        _("This action needs one of these roles: {0}.").format(", ".join(required)),
        frappe.PermissionError,
        title=_("Not permitted"),
    )


def require_doc_permission(doctype: str, name: str, ptype: str = "read") -> None:
    """Raise ``frappe.PermissionError`` unless the user may ``ptype`` the document."""
    frappe.has_permission(doctype, ptype, doc=name, throw=True)
