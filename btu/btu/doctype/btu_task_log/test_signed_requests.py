"""Signed daemon requests on a real site (docs/decisions/0012): the ``auth_hooks`` hook
runs a well-signed request to a daemon endpoint as the daemon user and keeps its
arguments, refuses a bad one with 401, and leaves every other request alone; the daemon
user and the discovery entry are in place after install/migrate."""

import json
import time
from unittest.mock import patch

import frappe
from frappe.tests.utils import FrappeTestCase
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from btu import api
from btu.auth import authenticate_signed
from btu.core.roles import SCHEDULER
from btu.core.signed_auth import DAEMON_USER
from btu.install import ensure_daemon_user
from btu.redis_conn import get_redis
from btu.services.discovery import register_site
from streams import signing
from streams.keys import ENQUEUE_BATCH_PATH, SITES_REGISTRY, WHOAMI_PATH
from streams.sites import SiteEntry

SECRET = "test-secret-" + "0123456789" * 4


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class TestSignedRequests(FrappeTestCase):
    def setUp(self):
        conf = patch.dict(frappe.local.conf, {signing.SECRET_SETTING: SECRET})
        conf.start()
        self.addCleanup(conf.stop)
        ensure_daemon_user()
        frappe.set_user("Guest")
        self.addCleanup(frappe.set_user, "Administrator")
        self.addCleanup(self._forget_request)

    def _forget_request(self):
        frappe.local.request = None

    def use_request(self, path, body=b"", method="POST", headers=None, query=""):
        """Make ``frappe.local.request`` (and form_dict) what Frappe's init_request
        would for this request."""
        environ = EnvironBuilder(
            path=path,
            method=method,
            data=body,
            query_string=query or None,
            headers=headers or {},
            content_type="application/json" if body else None,
        ).get_environ()
        frappe.local.request = Request(environ)
        frappe.local.form_dict = frappe._dict(json.loads(body) if body else {})

    def signed(self, path, body=b"", method="POST", secret=SECRET, ts=None):
        return signing.sign(secret, frappe.local.site, method, path, body, ts or now_ms())

    def test_signed_request_runs_as_the_daemon_user_with_its_arguments(self):
        body = json.dumps({"fires": []}).encode()
        self.use_request(ENQUEUE_BATCH_PATH, body, headers=self.signed(ENQUEUE_BATCH_PATH, body))
        authenticate_signed()
        self.assertEqual(DAEMON_USER, frappe.session.user)
        self.assertEqual({"fires": []}, dict(frappe.local.form_dict))
        self.assertEqual({"results": []}, api.enqueue_batch(**frappe.local.form_dict))

    def test_whoami_as_the_daemon_user(self):
        self.use_request(WHOAMI_PATH, method="GET", headers=self.signed(WHOAMI_PATH, method="GET"))
        authenticate_signed()
        answer = api.whoami()
        self.assertEqual(DAEMON_USER, answer["user"])
        self.assertEqual([SCHEDULER], answer["roles"])
        self.assertTrue(answer["can_fire"])

    def test_bad_signatures_are_refused_with_401(self):
        body = b'{"fires": []}'
        cases = {
            "wrong secret": self.signed(ENQUEUE_BATCH_PATH, body, secret="x" * 40),
            "stale": self.signed(ENQUEUE_BATCH_PATH, body, ts=now_ms() - 120_000),
            "other body": self.signed(ENQUEUE_BATCH_PATH, b'{"fires": [1]}'),
            "other path": self.signed(WHOAMI_PATH, body),
        }
        for case, headers in cases.items():
            with self.subTest(case):
                self.use_request(ENQUEUE_BATCH_PATH, body, headers=headers)
                with self.assertRaises(frappe.AuthenticationError) as info:
                    authenticate_signed()
                self.assertNotIn(SECRET, str(info.exception))
                self.assertEqual("Guest", frappe.session.user)
                frappe.clear_messages()

    def test_no_secret_on_the_site_refuses_signed_requests(self):
        with patch.dict(frappe.local.conf, {signing.SECRET_SETTING: ""}):
            self.use_request(WHOAMI_PATH, headers=self.signed(WHOAMI_PATH))
            with self.assertRaises(frappe.AuthenticationError):
                authenticate_signed()
        frappe.clear_messages()

    def test_signed_requests_to_other_endpoints_stay_guest(self):
        for path in ("/api/method/frappe.client.get_list", "/api/resource/User"):
            with self.subTest(path):
                self.use_request(path, method="GET", headers=self.signed(path, method="GET"))
                authenticate_signed()
                self.assertEqual("Guest", frappe.session.user)

    def test_unsigned_requests_are_left_alone(self):
        self.use_request(WHOAMI_PATH, method="GET")
        authenticate_signed()
        self.assertEqual("Guest", frappe.session.user)

    def test_disabled_daemon_user_refuses_signed_requests(self):
        frappe.db.set_value("User", DAEMON_USER, "enabled", 0)
        self.addCleanup(frappe.db.set_value, "User", DAEMON_USER, "enabled", 1)
        self.use_request(WHOAMI_PATH, headers=self.signed(WHOAMI_PATH))
        with self.assertRaises(frappe.AuthenticationError):
            authenticate_signed()
        frappe.clear_messages()


class TestDaemonUserAndRegistry(FrappeTestCase):
    def test_daemon_user_is_a_website_user_with_only_the_scheduler_role(self):
        ensure_daemon_user()
        user = frappe.get_doc("User", DAEMON_USER)
        self.assertEqual("Website User", user.user_type)
        self.assertEqual({SCHEDULER}, {row.role for row in user.roles})
        self.assertFalse(user.api_key)

    def test_migrate_resets_extra_roles(self):
        ensure_daemon_user()
        frappe.get_doc("User", DAEMON_USER).add_roles("System Manager")
        ensure_daemon_user()
        user = frappe.get_doc("User", DAEMON_USER)
        self.assertEqual({SCHEDULER}, {row.role for row in user.roles})
        self.assertEqual("Website User", user.user_type)

    def test_register_site_writes_the_discovery_entry(self):
        site = frappe.local.site
        before = now_ms()
        self.assertTrue(register_site())
        entry = SiteEntry.decode(site, get_redis().hget(SITES_REGISTRY, site))
        self.assertEqual(site, entry.host_header)
        self.assertGreaterEqual(entry.registered_ms, before)

    def test_redis_down_is_a_warning_not_a_failure(self):
        with patch.dict(frappe.local.conf, {"btu_redis_url": "redis://127.0.0.1:1/0"}):
            self.assertFalse(register_site())
