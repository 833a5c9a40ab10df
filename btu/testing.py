"""Helpers for BTU's FrappeTestCase tests (``bench run-tests --app btu``); not used at
run time. Redis-backed tests use keys under a throw-away site name and are skipped
when the bench's Redis is not reachable."""

import threading
import time
import unittest
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from unittest.mock import patch

import frappe
from frappe.utils import add_to_date, now_datetime

from btu.redis_conn import REDIS_ERRORS, get_redis
from streams.keys import Keys
from streams.messages import RpcReply, RpcRequest
from streams.redisio import xread
from streams.rpc import send_reply


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def make_task(**values):
    doc = frappe.get_doc(
        {
            "doctype": "BTU Task",
            "title": unique("_Test BTU Task"),
            "function_path": "btu.samples.add",
            "arguments": '{"a": 1, "b": 2}',
            **values,
        }
    )
    return doc.insert()


def make_schedule(task: str, **values):
    doc = frappe.get_doc(
        {
            "doctype": "BTU Task Schedule",
            "task": task,
            "frequency": "Daily",
            "time_of_day": "07:30:00",
            "time_zone": "Europe/Paris",
            **values,
        }
    )
    return doc.insert()


def make_run_later(**values):
    doc = frappe.get_doc(
        {
            "doctype": "BTU Run Later",
            "run_at": add_to_date(now_datetime(), hours=2),
            **values,
        }
    )
    return doc.insert()


def make_user(email: str, *roles: str) -> str:
    """A website-less test user holding exactly ``roles`` (created once, roles reset)."""
    if not frappe.db.exists("User", email):
        frappe.get_doc(
            {"doctype": "User", "email": email, "first_name": email.split("@")[0]}
        ).insert(ignore_permissions=True)
    user = frappe.get_doc("User", email)
    user.set("roles", [])
    user.add_roles(*roles)
    return email


@contextmanager
def acting_as(user: str) -> Iterator[None]:
    """Run the block as ``user``, then as Administrator again."""
    frappe.set_user(user)
    try:
        yield
    finally:
        frappe.set_user("Administrator")


def pending_publishes() -> set:
    return set(getattr(frappe.local, "btu_publish_pending", None) or set())


@contextmanager
def isolated_keys() -> Iterator[tuple]:
    """The app's Redis client and Keys of a throw-away site; keys are deleted after."""
    try:
        r = get_redis()
        r.ping()
    except REDIS_ERRORS as e:
        raise unittest.SkipTest(f"Redis not reachable: {e}") from e
    keys = Keys(f"_test-{uuid.uuid4().hex[:8]}.{frappe.local.site}")
    with ExitStack() as stack:
        for module in ("btu.services.publishing", "btu.services.desk"):
            stack.enter_context(patch(f"{module}.site_keys", return_value=keys))
        try:
            yield r, keys
        finally:
            found = list(r.scan_iter(match=f"{keys.prefix}*", count=500))
            if found:
                r.delete(*found)


@contextmanager
def fake_daemon(r, keys: Keys, answer: Callable[[RpcRequest], dict]) -> Iterator[None]:
    """A thread that answers control RPCs like the scheduler would."""
    stop = threading.Event()

    def serve() -> None:
        last = "0-0"
        while not stop.is_set():
            for _stream, entries in xread(r, {keys.rpc: last}, 100):
                for entry_id, fields in entries:
                    last = entry_id
                    request = RpcRequest.decode(fields)
                    reply = RpcReply(
                        rid=request.rid, ok=True, ts=int(time.time() * 1000), data=answer(request)
                    )
                    send_reply(r, keys, reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=2)
