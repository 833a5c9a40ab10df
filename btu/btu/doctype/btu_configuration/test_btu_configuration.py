import frappe
from frappe.tests.utils import FrappeTestCase

test_ignore = ["Email Account"]


class TestBTUConfiguration(FrappeTestCase):
    def test_defaults_after_install(self):
        """Install leaves a default zone and queue in the configuration."""
        from btu.install import ensure_configuration

        ensure_configuration(first_time=False)
        config = frappe.get_single("BTU Configuration")
        self.assertEqual((True, "default"), (bool(config.default_time_zone), config.default_queue))

    def test_unknown_zone_is_refused(self):
        """An unknown default time zone is refused."""
        config = frappe.get_single("BTU Configuration")
        config.default_time_zone = "Atlantis/Capital"
        with self.assertRaisesRegex(frappe.ValidationError, "unknown time zone"):
            config.save()

    def test_negative_retention_is_refused(self):
        """Retention cannot be negative."""
        config = frappe.get_single("BTU Configuration")
        config.log_retention_days = -1
        with self.assertRaisesRegex(frappe.ValidationError, "cannot be negative"):
            config.save()

    def test_roles_exist(self):
        """BTU's three roles exist, the daemon's without Desk access."""
        from btu.install import ensure_roles

        ensure_roles()
        desk = {
            r: frappe.db.get_value("Role", r, "desk_access")
            for r in ("BTU Manager", "BTU User", "BTU Scheduler")
        }
        self.assertEqual({"BTU Manager": 1, "BTU User": 1, "BTU Scheduler": 0}, desk)


class TestExtraRunnableFunctions(FrappeTestCase):
    def tearDown(self):
        frappe.set_user("Administrator")
        frappe.db.set_single_value("BTU Configuration", "extra_runnable_functions", "")

    def test_system_manager_declares_a_full_path(self):
        """A System Manager's full path makes that function runnable."""
        from btu.services import config

        doc = frappe.get_single("BTU Configuration")
        path = "btu.core.callables.summary_of"  # not declared by BTU's hooks
        self.assertNotIn(path, config.runnable())
        doc.extra_runnable_functions = path
        doc.save()
        self.assertEqual("BTU Configuration", config.runnable().source_of(path))

    def test_prefixes_and_reexports_are_refused(self):
        """A prefix, a package outside the apps and a re-exported name are refused."""
        for text in ("btu.samples.*", "btu.", "os.system", "frappe.os.system", "frappe.db.sql"):
            doc = frappe.get_single("BTU Configuration")
            doc.extra_runnable_functions = text
            with self.subTest(text=text), self.assertRaises(frappe.ValidationError):
                doc.save()

    def test_btu_manager_cannot_declare(self):
        """Only a System Manager may change the list, even if given write permission."""
        from btu.testing import make_user

        manager = make_user("btu-test-manager@example.com", "BTU Manager")
        doc = frappe.get_single("BTU Configuration")
        doc.extra_runnable_functions = "frappe.client.delete"
        frappe.set_user(manager)
        doc.flags.ignore_permissions = True  # as if a Role Permission granted write
        with self.assertRaises(frappe.PermissionError):
            doc.save()


class TestWhoami(FrappeTestCase):
    """``btu.api.whoami``: the daemon's start-up check and ``btu-scheduler check``."""

    def tearDown(self):
        frappe.set_user("Administrator")

    def test_scheduler_user_learns_who_it_is_and_the_version(self):
        """The daemon's API user (BTU Scheduler) is answered its name and the app's version."""
        from btu import __version__, api
        from btu.testing import make_user

        daemon = make_user("btu-test-daemon@example.com", "BTU Scheduler")
        frappe.set_user(daemon)
        got = api.whoami()
        self.assertEqual(
            (daemon, ["BTU Scheduler"], __version__, True),
            (got["user"], got["roles"], got["version"], got["can_fire"]),
        )

    def test_user_without_the_scheduler_role_is_refused(self):
        """A BTU User may not call it (403), so a wrong key is found by `check`."""
        from btu import api
        from btu.testing import make_user

        frappe.set_user(make_user("btu-test-user@example.com", "BTU User"))
        with self.assertRaises(frappe.PermissionError):
            api.whoami()
