"""BTU Task Schedule: when a task runs, as a cron expression in a time zone."""

import time

import frappe
from frappe.model.document import Document

from btu.core.frequency import FrequencySpec
from btu.core.schedules import ScheduleError, next_runs
from btu.services import config, naming, publishing, schedules, validation


class BTUTaskSchedule(Document):
    def validate(self):
        self.set_default_time_zone()
        self.apply_frequency()
        self.check_argument_overrides()
        self.check_function()
        self.check_queue_override()

    def set_default_time_zone(self):
        self.time_zone = (self.time_zone or "").strip() or config.default_time_zone()

    def apply_frequency(self):
        preview = schedules.checked_preview(self.frequency_spec(), self.time_zone)
        self.cron_expression = preview.cron
        self.time_zone = preview.time_zone
        self.description = preview.description_text

    def check_argument_overrides(self):
        self._overrides = validation.arguments(self.argument_overrides, "Argument Overrides")
        # Overrides change what the task runs as its Run As user: who sets them must be
        # able to act for that user, then and at every run (arguments_set_by).
        if not self._overrides:
            self.arguments_set_by = None
        elif self.has_value_changed("argument_overrides") or self.has_value_changed("task"):
            validation.may_choose_for(
                validation.task_run_as(self.task), f"Task {self.task} with argument overrides"
            )
            self.arguments_set_by = frappe.session.user

    def check_function(self):
        validation.task_callable(self.task, self._overrides)

    def check_queue_override(self):
        validation.queue(self.queue_override, "Queue Override")

    def on_update(self):
        publishing.queue_publish(self.doctype, self.name)

    def on_trash(self):
        publishing.queue_publish(self.doctype, self.name)

    def after_delete(self):
        naming.keep_series(self)

    def frequency_spec(self) -> FrequencySpec:
        return FrequencySpec(
            frequency=self.frequency,
            minute=self.minute or 0,
            time_of_day=self.time_of_day,
            weekday=self.weekday,
            day_of_month=self.day_of_month or 1,
            month=self.month,
            cron=self.cron_expression or "",
        )

    @property
    def next_runs(self) -> str:
        """Virtual field: the next five runs, computed when the form loads."""
        if not (self.cron_expression and self.time_zone):
            return ""
        try:
            runs = next_runs(self.cron_expression, self.time_zone, int(time.time() * 1000))
        except ScheduleError as e:
            return str(e)
        return "\n".join(runs)
