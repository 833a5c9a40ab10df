"""Frappe's ``auth_hooks`` entry for signed daemon requests (docs/decisions/0012).

Frappe v15 calls every ``auth_hooks`` function from ``frappe.auth.validate_auth`` on each
request, after sessions and API keys. This one only acts on requests that carry
``X-BTU-Signature`` and go to a daemon endpoint (``btu.core.signed_auth``); the checks
themselves live there, without Frappe.
"""

import time

import frappe
from frappe import _

from btu.core import signed_auth


def _request() -> signed_auth.Request:
    request = frappe.request
    return signed_auth.Request(
        method=request.method,
        path=request.path,
        query_string=request.query_string.decode("latin-1"),
        headers=dict(request.headers.items()),
        body=request.get_data(cache=True),
    )


def authenticate_signed() -> None:
    """Run a signed request to a daemon endpoint as the daemon user, or refuse it (401)."""
    http_request = getattr(frappe.local, "request", None)
    if not http_request or http_request.path not in signed_auth.DAEMON_PATHS:
        return  # the common case: not a daemon endpoint, nothing read
    request = _request()
    if not signed_auth.handles(request):
        return
    try:
        user = signed_auth.authenticate(
            frappe.local.site, frappe.local.conf, request, time.time_ns() // 1_000_000
        )
    except signed_auth.Refused as e:
        frappe.flags.disable_traceback = True
        frappe.throw(str(e), frappe.AuthenticationError, title=_("Not authenticated"))
    if not frappe.db.get_value("User", user, "enabled"):
        frappe.flags.disable_traceback = True
        frappe.throw(
            _(
                "BTU signed request refused: the daemon user {0} is missing or disabled; run "
                "`bench --site {1} migrate` to create it."
            ).format(user, frappe.local.site),
            frappe.AuthenticationError,
            title=_("Not authenticated"),
        )
    # frappe.set_user clears form_dict (the request's arguments): keep them, as Frappe's
    # own API-key authentication does.
    form_dict = frappe.local.form_dict
    frappe.set_user(user)
    frappe.local.form_dict = form_dict
