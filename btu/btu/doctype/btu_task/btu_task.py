"""BTU Task: a function, its arguments, its queue and limits, and who hears about runs."""

import frappe
from frappe.model.document import Document

from btu.services import publishing, validation

# What runs, and as whom: changing any of them is acting for the Run As user.
WHAT_RUNS = ("function_path", "arguments", "run_as")


class BTUTask(Document):
    def validate(self):
        self.check_run_as()
        self.check_arguments()
        self.check_function()
        self.check_queue()
        self.check_max_duration()
        self.check_recipients()

    def check_run_as(self):
        if not self.run_as:
            self.run_as = frappe.session.user
        if any(self.has_value_changed(f) for f in WHAT_RUNS):
            validation.may_choose_for(self.run_as, f"Task {self.title or self.name}")
        if not self.is_new() and self.has_value_changed("run_as"):
            validation.authored_arguments_fit(self.name, self.run_as)

    def check_arguments(self):
        self._args = validation.arguments(self.arguments, "Arguments")

    def check_function(self):
        validation.callable_with(self.function_path, self._args)

    def check_queue(self):
        validation.queue(self.queue, "Queue")

    def check_max_duration(self):
        validation.non_negative(self.max_duration, "Max Duration")

    def check_recipients(self):
        validation.recipients(self.notifications)

    def on_update(self):
        # Enabling or disabling a task arms or disarms all its schedules.
        if self.has_value_changed("enabled"):
            publishing.queue_task_items(self.name)

    def on_trash(self):
        # Its schedules and pending run-later items go with it (each publishes its own
        # delete after the commit); logs and finished items stay as history.
        for name in frappe.get_all("BTU Task Schedule", filters={"task": self.name}, pluck="name"):
            frappe.delete_doc("BTU Task Schedule", name, ignore_permissions=True)
        pending = {"task": self.name, "status": "Pending"}
        for name in frappe.get_all("BTU Run Later", filters=pending, pluck="name"):
            frappe.delete_doc("BTU Run Later", name, ignore_permissions=True)
