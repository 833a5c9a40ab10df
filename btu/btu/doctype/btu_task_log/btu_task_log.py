"""BTU Task Log: the durable record of one fire (unique ``fire_id``) and of its run.

Written only by BTU (``btu.services.firing``, ``btu.runner``, the sweep); read-only in
the Desk.
"""

from frappe.model.document import Document

from btu.services import naming


class BTUTaskLog(Document):
    def after_delete(self):
        naming.keep_series(self)
