frappe.query_reports["Schedule Overview"] = {
    filters: [
        { fieldname: "task", label: __("Task"), fieldtype: "Link", options: "BTU Task" },
        {
            fieldname: "enabled",
            label: __("Enabled"),
            fieldtype: "Select",
            options: ["", "Yes", "No"],
        },
        {
            fieldname: "from_date",
            label: __("Runs From"),
            fieldtype: "Date",
            default: frappe.datetime.add_days(frappe.datetime.get_today(), -30),
        },
        {
            fieldname: "to_date",
            label: __("Runs To"),
            fieldtype: "Date",
            default: frappe.datetime.get_today(),
        },
    ],
    formatter(value, row, column, data, default_formatter) {
        value = default_formatter(value, row, column, data);
        if (column.fieldname === "last_outcome" && data && data.last_outcome) {
            const colour = data.last_outcome === "Success" ? "green" : "red";
            value = `<span class="indicator-pill ${colour}">${value}</span>`;
        }
        return value;
    },
};
