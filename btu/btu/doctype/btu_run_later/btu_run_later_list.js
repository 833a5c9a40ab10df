frappe.listview_settings["BTU Run Later"] = {
    add_fields: ["status"],
    get_indicator(doc) {
        const colours = {
            Pending: "blue",
            "In Flight": "orange",
            Done: "green",
            Failed: "red",
            Cancelled: "gray",
        };
        return [__(doc.status), colours[doc.status] || "gray", "status,=," + doc.status];
    },
};
