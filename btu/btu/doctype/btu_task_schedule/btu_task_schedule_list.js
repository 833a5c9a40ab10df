frappe.listview_settings["BTU Task Schedule"] = {
    add_fields: ["enabled", "last_outcome"],
    get_indicator(doc) {
        return doc.enabled
            ? [__("Enabled"), "green", "enabled,=,1"]
            : [__("Disabled"), "gray", "enabled,=,0"];
    },
};
