app_name = "btu"
app_title = "BTU"
app_publisher = "BTU developers"
app_description = "Background Tasks Unleashed: Desk-managed background tasks and schedules"
app_email = "btu@example.com"
app_license = "MIT"
required_apps = ["frappe"]
