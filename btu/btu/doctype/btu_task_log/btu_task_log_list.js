frappe.listview_settings["BTU Task Log"] = {
    add_fields: ["status", "task", "duration"],
    get_indicator(doc) {
        const colours = {
            Queued: "gray",
            "In Progress": "orange",
            Success: "green",
            Failed: "red",
            Timeout: "red",
            Cancelled: "gray",
        };
        return [__(doc.status), colours[doc.status] || "gray", "status,=," + doc.status];
    },
};
