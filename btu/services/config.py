"""BTU Configuration values with their defaults, and the bench facts validation needs."""

import frappe
from frappe.utils import cint, get_system_timezone
from frappe.utils.background_jobs import get_queues_timeout

from btu.core.callables import HOOK, Registry, build_registry
from btu.services import rows

CONFIG = "BTU Configuration"
DEFAULT_RETENTION_DAYS = 30
DEFAULT_STALE_MINUTES = 10


def get(fieldname: str):
    # Uncached: a Single saved in this request must be seen at once.
    return frappe.db.get_single_value(CONFIG, fieldname, cache=False)


def default_time_zone() -> str:
    return get("default_time_zone") or get_system_timezone()


def default_queue() -> str:
    return get("default_queue") or "default"


def retention_days() -> int:
    """Days Task Logs are kept; 0 keeps them forever (set to 30 at install)."""
    return cint(get("log_retention_days"))


def stale_after_s() -> float:
    return 60.0 * (cint(get("stale_after_minutes")) or DEFAULT_STALE_MINUTES)


def get_text(fieldname: str) -> str | None:
    """A Data, Text or Link field as stored, read without loading the doctype's meta
    (``get`` does, and so imports Frappe's document model in every RQ work horse)."""
    return rows.single_text(CONFIG, fieldname)


def email_account() -> str | None:
    return get_text("email_account") or None


def known_queues() -> dict[str, int]:
    """This bench's RQ queues and their default timeouts (Frappe's own list)."""
    return dict(get_queues_timeout())


EXTRA_RUNNABLE = "extra_runnable_functions"


def runnable(extra_text: str | None = None) -> Registry:
    """The functions BTU may run: each installed app's ``btu_runnable`` hook plus BTU
    Configuration's Extra Runnable Functions (or ``extra_text`` when given)."""
    apps = frappe.get_installed_apps()
    hooks = {app: frappe.get_hooks(HOOK, app_name=app) or [] for app in apps}
    extra = get_text(EXTRA_RUNNABLE) if extra_text is None else extra_text
    return build_registry(hooks, extra, apps)


def late_fire_limit_ms() -> int:
    """How old a scheduled fire may be when it reaches the site (BTU Configuration)."""
    # Imported here: btu.core.firing brings the cron engine, which the runner (every RQ
    # work horse imports this module) does not need.
    from btu.core.firing import DEFAULT_LATE_LIMIT_S

    return 1000 * (cint(get("late_fire_limit_seconds")) or DEFAULT_LATE_LIMIT_S)
