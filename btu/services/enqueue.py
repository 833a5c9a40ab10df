"""The Python API for app developers (``btu.enqueue_at``, ``btu.enqueue_in``,
``btu.cancel``, ``btu.get_item``): thin Frappe glue over :mod:`btu.core.enqueue`.

Each call inserts a BTU Run Later item, visible in the Desk, validated like one saved in
the form (declared function, arguments, Run As, queue); it reaches the scheduler after
the caller's transaction commits, published together with everything else the
transaction changed (:func:`btu.services.publishing.queue_publish`). Code calls it, so
the caller's DocType permissions are not asked for (as with ``frappe.enqueue``); the Run
As rules are: an item runs as the calling user unless ``run_as`` names another user,
which only that user or a System Manager may choose.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import frappe
from frappe import _
from frappe.utils import get_system_timezone, now_datetime

from btu.core.doctypes import CANCELLED, PENDING, RUN_LATER
from btu.core.enqueue import OPTIONS, EnqueueError, Request, build_request, delay, wall_time
from btu.core.runas import GUEST

ITEM_FIELDS = ("name", "status", "run_at", "function_path", "task", "unique_key", "task_log")


def _fail(error: Exception) -> None:
    frappe.throw(str(error), exc=frappe.ValidationError, title=_("BTU enqueue"))


def _request(method: Any, run_at: dt.datetime, options: dict[str, Any]) -> Request:
    try:
        return build_request(method, run_at, **options)
    except EnqueueError as e:
        _fail(e)
        raise  # unreachable: frappe.throw raises


def _split(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    options = {k: kwargs.pop(k) for k in OPTIONS if k in kwargs}
    return options, kwargs


def _existing(unique_key: str | None, latest: bool = False) -> str | None:
    """The item holding ``unique_key``; ``latest`` reads past the transaction's snapshot
    (a locking read), to see an item another transaction has just committed."""
    if not unique_key:
        return None
    return frappe.db.get_value(RUN_LATER, {"unique_key": unique_key}, "name", for_update=latest)


def _insert(request: Request) -> str:
    found = _existing(request.unique_key)
    if found:
        return found
    run_as = request.run_as or frappe.session.user
    if run_as == GUEST:
        frappe.throw(
            _("A BTU item cannot run as Guest: pass run_as= a user with the permissions it needs."),
            title=_("BTU enqueue"),
        )
    doc = frappe.new_doc(RUN_LATER)
    doc.update(
        {
            "function_path": request.function_path,
            "run_at": request.run_at,
            "arguments": request.arguments_json(),
            "queue": request.queue,
            "max_duration": request.timeout,
            "run_as": run_as,
            "unique_key": request.unique_key,
        }
    )
    try:
        doc.insert(ignore_permissions=True)
    except frappe.UniqueValidationError:
        # Another transaction took the key between our look-up and the insert (the
        # unique index made our insert wait for its commit).
        found = _existing(request.unique_key, latest=True)
        if found:
            return found
        raise
    return doc.name


def enqueue_at(method: str | Callable[..., Any], at: dt.datetime | str, **kwargs: Any) -> str:
    """Run ``method`` once at ``at``; returns the BTU Run Later item's name.

    ``at``: an aware datetime, or a naive one / ``"YYYY-MM-DD HH:MM:SS"`` in the site's
    system time zone. Options: ``queue``, ``timeout`` (seconds), ``run_as``,
    ``unique_key`` (a second call with the same key returns the first item) and
    ``kwargs`` (a dict of arguments, for names that clash with an option); every other
    keyword argument is passed to ``method``."""
    options, arguments = _split(kwargs)
    try:
        run_at = wall_time(at, get_system_timezone())
    except EnqueueError as e:
        _fail(e)
    return _insert(_request(method, run_at, {**options, "arguments": arguments}))


def enqueue_in(
    delta: dt.timedelta | int | float, method: str | Callable[..., Any], **kwargs: Any
) -> str:
    """Run ``method`` once, ``delta`` (a timedelta or seconds) from now; as
    :func:`enqueue_at` otherwise."""
    options, arguments = _split(kwargs)
    try:
        run_at = (now_datetime() + delay(delta)).replace(microsecond=0)
    except EnqueueError as e:
        _fail(e)
    return _insert(_request(method, run_at, {**options, "arguments": arguments}))


def _find(name_or_unique_key: str) -> str | None:
    if not name_or_unique_key:
        return None
    if frappe.db.exists(RUN_LATER, name_or_unique_key):
        return name_or_unique_key
    return _existing(name_or_unique_key)


def get_item(name_or_unique_key: str) -> dict[str, Any] | None:
    """The item (name, status, run_at, function_path, task, unique_key, task_log) by its
    name or unique key, or None."""
    name = _find(name_or_unique_key)
    if not name:
        return None
    return frappe.db.get_value(RUN_LATER, name, list(ITEM_FIELDS), as_dict=True)


def cancel(name_or_unique_key: str) -> bool:
    """Cancel a Pending item found by name or unique key: True when it was cancelled now,
    False when it was no longer Pending (already cancelled, running or finished).
    Raises :class:`frappe.DoesNotExistError` when nothing has that name or key."""
    name = _find(name_or_unique_key)
    if not name:
        raise frappe.DoesNotExistError(
            _("No BTU Run Later item is named or keyed {0}.").format(repr(name_or_unique_key))
        )
    doc = frappe.get_doc(RUN_LATER, name)
    if doc.status != PENDING:
        return False
    doc.status = CANCELLED
    doc.save(ignore_permissions=True)
    return True
