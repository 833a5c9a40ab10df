"""BTU Run Later: run a task (or a function) once, at an instant, with a unique key."""

import frappe
from frappe.model.document import Document

from btu.core.doctypes import PENDING
from btu.services import naming, publishing, run_later, validation


class BTURunLater(Document):
    def validate(self):
        self.check_target()
        self.check_arguments()
        self.check_run_as()
        self.check_function()
        self.check_run_at()
        self.check_unique_key()
        self.check_queue()
        self.check_max_duration()

    def check_target(self):
        run_later.check_target(self.task, self.function_path)
        if self.task:
            self.function_path = None

    def check_arguments(self):
        self._args = validation.arguments(self.arguments, "Arguments")

    def check_run_as(self):
        """A task's item runs as the task's Run As user (its own arguments change what
        runs); a function's item runs as its own Run As (by default, its creator)."""
        if self.task:
            self.run_as = None
            if not self._args:
                self.arguments_set_by = None
            elif self.has_value_changed("arguments") or self.has_value_changed("task"):
                validation.may_choose_for(
                    validation.task_run_as(self.task), f"Task {self.task} with arguments"
                )
                self.arguments_set_by = frappe.session.user
            return
        self.run_as = self.run_as or frappe.session.user
        if any(self.has_value_changed(f) for f in ("function_path", "arguments", "run_as")):
            validation.may_choose_for(self.run_as, f"Function {self.function_path}")
            self.arguments_set_by = frappe.session.user if self._args else None

    def check_function(self):
        if self.task:
            validation.task_callable(self.task, self._args)
        else:
            validation.callable_with(self.function_path, self._args)

    def check_run_at(self):
        if self.status == PENDING and (self.is_new() or self.has_value_changed("run_at")):
            run_later.check_future(self.run_at)

    def check_unique_key(self):
        run_later.check_unique_key(self.unique_key, self.name)

    def check_queue(self):
        validation.queue(self.queue, "Queue")

    def check_max_duration(self):
        validation.non_negative(self.max_duration, "Max Duration")

    def before_insert(self):
        self.status = PENDING
        self.task_log = None

    def on_update(self):
        publishing.queue_publish(self.doctype, self.name)

    def on_trash(self):
        publishing.queue_publish(self.doctype, self.name)

    def after_delete(self):
        naming.keep_series(self)
