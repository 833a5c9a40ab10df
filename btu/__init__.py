"""BTU (Background Tasks Unleashed): the Frappe app, system of record for Tasks,
Schedules, Run Later items and Task Logs."""

__version__ = "0.1.0"
