"""BTU has no ``bench`` commands of its own; this module exists so that RQ work horses
start with BTU's runner already imported.

Frappe's CLI (``frappe.utils.bench_helper``) imports every installed app's ``commands``
module whenever a ``bench`` command starts, ``bench worker`` included. The worker then
forks a work horse per job: a module the worker imported is in every work horse for
free, one it did not is imported again by every job. ``btu.runner`` and what it imports
cost about 11 ms a job on a 2-vCPU machine, most of what a trivial BTU run cost beyond a
bare ``frappe.ping`` job; a run of a Run Later item also publishes the item's end to
the scheduler (``btu.services.publishing`` and the wire contract, ``streams``). Restart
the workers after updating BTU (``bench restart``), as for any app code they have loaded.
"""

# Imported for the work horses (see above), not used here. The runner asks for each
# installed app's hooks by app (``frappe.get_hooks(..., app_name=...)``), which imports
# the apps' ``hooks`` modules in every job that first asks.
import frappe.hooks  # noqa: F401
from frappe.utils import get_datetime

import btu.hooks
import btu.runner
import btu.services.publishing  # noqa: F401

# Frappe converts every Datetime column it reads with ``strptime``, whose first use in a
# process imports ``_strptime`` and compiles the format's pattern (~1 ms); a run reads
# its Task Log's, a bare ``frappe.ping`` job reads none.
get_datetime("2000-01-01 00:00:00.000000")

commands: list = []
