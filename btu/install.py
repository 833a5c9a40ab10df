"""Install and migrate hooks: BTU's roles, the configuration's defaults, and the tasks
apps ship in their hooks.py (``btu_tasks``).

BTU Manager and BTU User are also created by Frappe when it syncs the DocTypes whose
permissions name them; BTU Scheduler appears in no DocType permission (the daemon's
user needs none), so it is created here, without Desk access.
"""

import frappe
from frappe.utils import get_system_timezone

from btu.core.roles import ROLES
from btu.services.config import CONFIG, DEFAULT_RETENTION_DAYS, DEFAULT_STALE_MINUTES
from btu.services.shipped import sync_shipped


def ensure_roles() -> None:
    for role, desk_access in ROLES:
        if not frappe.db.exists("Role", role):
            doc = frappe.new_doc("Role")
            doc.role_name = role
            doc.desk_access = int(desk_access)
            doc.insert(ignore_permissions=True)


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
    sync_shipped()


def after_migrate() -> None:
    ensure_roles()
    ensure_configuration(first_time=False)
    # Tasks and schedules apps ship in hooks.py (btu_tasks): created, updated, withdrawn.
    sync_shipped()
