"""The site's wall clock for the runner, without loading System Settings as a Document.

Frappe's ``now_datetime`` asks ``get_system_timezone``, which unpickles the cached
System Settings *Document*: in a fresh RQ work horse that imports Frappe's document
model (``frappe.model.document`` and what it brings, ~60 ms), which a bare
``frappe.ping`` job never needs. Here the zone is read with plain SQL: the runner reads
it once per run along with its other settings and keeps it for that run only
(:func:`remember_time_zone`, :func:`forget_time_zone`); other callers read it when they
ask.
"""

from __future__ import annotations

import datetime as dt

import frappe
from frappe.utils import now_datetime
from frappe.utils.data import convert_utc_to_timezone

from btu.services import rows

_ZONE = "btu_system_time_zone"
SYSTEM_SETTINGS = "System Settings"
TIME_ZONE = "time_zone"


def remember_time_zone(stored: str | None) -> None:
    """Use ``stored`` (System Settings' time zone, read by the caller along with other
    values) until :func:`forget_time_zone`, instead of reading it again."""
    setattr(frappe.local, _ZONE, stored or None)


def forget_time_zone() -> None:
    if hasattr(frappe.local, _ZONE):
        delattr(frappe.local, _ZONE)


def system_time_zone() -> str | None:
    """System Settings' time zone as stored; None when unset (Frappe then has its own
    fallback, which ``now`` leaves to it)."""
    settings = getattr(frappe.local, "system_settings", None)
    if settings is not None:  # Frappe already loaded it in this process: same answer
        return settings.get("time_zone") or None
    if hasattr(frappe.local, _ZONE):
        return getattr(frappe.local, _ZONE)
    return rows.single_text(SYSTEM_SETTINGS, TIME_ZONE) or None


def now() -> dt.datetime:
    """``frappe.utils.now_datetime()``: the naive wall time in the system time zone."""
    tz = system_time_zone()
    if not tz:
        return now_datetime()
    # Frappe's own conversion (pytz), as now_datetime does it; an unknown zone gives UTC
    # there too.
    return convert_utc_to_timezone(dt.datetime.now(dt.timezone.utc), tz).replace(tzinfo=None)
