"""BTU Task Notification: one email address of a task and the events it hears about."""

from frappe.model.document import Document


class BTUTaskNotification(Document):
    pass
