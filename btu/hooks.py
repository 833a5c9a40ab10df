app_name = "btu"
app_title = "BTU"
app_publisher = "BTU developers"
app_description = "Background Tasks Unleashed: Desk-managed background tasks and schedules"
app_email = "btu@example.com"
app_license = "MIT"

# Functions BTU may run: an app declares its own, by full dotted path (see
# docs/developer-guide.md). Nothing else is runnable unless a System Manager adds it in
# BTU Configuration.
btu_runnable = [
    "btu.samples.hello",
    "btu.samples.add",
    "btu.samples.fail",
    "btu.samples.sleep",
    "btu.samples.whoami",
    # BTU Report Delivery's tasks (it checks that it runs as the delivery's Run As).
    "btu.services.delivery.deliver",
]

after_install = "btu.install.after_install"
after_migrate = "btu.install.after_migrate"
before_uninstall = "btu.install.before_uninstall"
# Signed, time-limited requests from a daemon serving discovered sites (bench secret
# btu_scheduler_secret; docs/decisions/0012). Acts only on BTU's daemon endpoints.
auth_hooks = ["btu.auth.authenticate_signed"]
# Another app installed or removed: sync the tasks the installed apps ship (btu_tasks).
after_app_install = "btu.services.shipped.after_app_change"
after_app_uninstall = "btu.services.shipped.after_app_change"

scheduler_events = {
    "cron": {
        # Close Task Logs left Queued or In Progress by a killed worker or a lost job.
        "*/5 * * * *": ["btu.services.housekeeping.sweep_stale_logs"],
    },
    # Safety net: republish what the Redis state hash lost (e.g. a restart without
    # persistence) or never received (Redis down during a save).
    "hourly": ["btu.services.publishing.heal_state"],
    # Task Log retention (BTU Configuration > Log Retention).
    "daily": ["btu.services.housekeeping.purge_old_logs"],
}

# Task Logs and finished Run Later items are history: deleting a task or schedule keeps
# them instead of refusing the deletion.
ignore_links_on_delete = ["BTU Task Log", "BTU Run Later"]
