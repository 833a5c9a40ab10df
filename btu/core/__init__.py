"""BTU's logic as plain modules: no Frappe, no globals, arguments in and values out.

Everything in this package runs (and is tested) without a Frappe site: argument
parsing and merging, dotted-path checks, the frequency helper, wire payloads, task-run
capture, notification selection, house-keeping decisions, state-hash repair and the
texts the Desk shows. The Frappe side (controllers, ``btu.api``, ``btu.services``,
``btu.runner``) gathers the facts from the database and calls these functions.

Rule: nothing under ``btu.core`` imports ``frappe``, directly or through another
module of the app (``tests/test_app_core_imports.py`` enforces it).
"""
