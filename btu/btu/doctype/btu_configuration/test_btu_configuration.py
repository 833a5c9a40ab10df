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
