"""BTU Configuration (Single): defaults, retention, email account, extra runnable functions."""

from frappe.model.document import Document

from btu.services import schedules, validation


class BTUConfiguration(Document):
    def validate(self):
        self.check_default_time_zone()
        self.check_default_queue()
        self.check_retention()
        self.check_extra_runnable_functions()

    def check_default_time_zone(self):
        if self.default_time_zone:
            self.default_time_zone = schedules.checked_time_zone(self.default_time_zone)

    def check_default_queue(self):
        validation.queue(self.default_queue, "Default Queue")

    def check_retention(self):
        validation.non_negative(self.log_retention_days, "Log Retention")
        validation.non_negative(self.stale_after_minutes, "Lost Job After")

    def check_extra_runnable_functions(self):
        validation.extra_runnable_functions(
            self.extra_runnable_functions, self.has_value_changed("extra_runnable_functions")
        )
        validation.non_negative(self.late_fire_limit_seconds, "Late Fire Limit")
