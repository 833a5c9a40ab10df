"""Install and migrate hooks: BTU's roles, the configuration's defaults, and the tasks
apps ship in their hooks.py (``btu_tasks``).

BTU Manager and BTU User are also created by Frappe when it syncs the DocTypes whose
permissions name them; BTU Scheduler appears in no DocType permission (the daemon's
user needs none), so it is created here, without Desk access.
"""

import frappe
from frappe.utils import get_system_timezone

from btu.core.roles import ROLES, SCHEDULER
from btu.core.signed_auth import DAEMON_USER, DAEMON_USER_FIRST_NAME
from btu.services.config import CONFIG, DEFAULT_RETENTION_DAYS, DEFAULT_STALE_MINUTES
from btu.services.discovery import register_site, unregister_site
from btu.services.shipped import sync_shipped


def ensure_roles() -> None:
    for role, desk_access in ROLES:
        if not frappe.db.exists("Role", role):
            doc = frappe.new_doc("Role")
            doc.role_name = role
            doc.desk_access = int(desk_access)
            doc.insert(ignore_permissions=True)


def ensure_daemon_user() -> None:
    """The user signed daemon requests run as (docs/decisions/0012): role BTU Scheduler
    only, no password, no API keys; a Website User (Frappe derives that from its only
    role having no Desk access). Created enabled; on every migrate its roles are reset to
    BTU Scheduler alone. Whether it is enabled is left to the operator: disabling it
    refuses every signed request of the site."""
    if frappe.db.exists("User", DAEMON_USER):
        doc = frappe.get_doc("User", DAEMON_USER)
        if {row.role for row in doc.roles} == {SCHEDULER}:
            return
        doc.set("roles", [])
        doc.append("roles", {"role": SCHEDULER})
        doc.flags.ignore_permissions = True
        doc.save()
        return
    doc = frappe.new_doc("User")
    doc.email = DAEMON_USER
    doc.first_name = DAEMON_USER_FIRST_NAME
    doc.enabled = 1
    doc.send_welcome_email = 0
    doc.flags.no_welcome_mail = True
    doc.append("roles", {"role": SCHEDULER})
    doc.flags.ignore_permissions = True
    doc.insert()


def ensure_configuration(first_time: bool) -> None:
    doc = frappe.get_single(CONFIG)
    changed = False
    defaults = {
        "default_time_zone": get_system_timezone(),
        "default_queue": "default",
        "stale_after_minutes": DEFAULT_STALE_MINUTES,
    }
    if first_time:
        defaults["log_retention_days"] = DEFAULT_RETENTION_DAYS
    for field, value in defaults.items():
        if not doc.get(field):
            doc.set(field, value)
            changed = True
    if changed:
        doc.flags.ignore_permissions = True
        doc.save()


def after_install() -> None:
    ensure_roles()
    ensure_configuration(first_time=True)
    ensure_daemon_user()
    sync_shipped()
    register_site()


def after_migrate() -> None:
    ensure_roles()
    ensure_configuration(first_time=False)
    # Tasks and schedules apps ship in hooks.py (btu_tasks): created, updated, withdrawn.
    sync_shipped()
    ensure_daemon_user()
    # Discovery (btu:sites): a daemon configured to discover finds the site here.
    register_site()


def before_uninstall() -> None:
    unregister_site()
