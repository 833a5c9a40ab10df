// BTU Task Log form: status colour, and links to what produced the run.

(() => {
    frappe.ui.form.on("BTU Task Log", {
        refresh(frm) {
            // A log is a record: nothing in it is edited (Administrator would see Save).
            frm.disable_save();
            const colours = {
                Queued: "gray",
                "In Progress": "orange",
                Success: "green",
                Failed: "red",
                Timeout: "red",
                Cancelled: "gray",
            };
            frm.page.set_indicator(__(frm.doc.status), colours[frm.doc.status] || "gray");
            if (frm.doc.error) {
                frm.dashboard.set_headline_alert(frappe.utils.escape_html(frm.doc.error), "red");
            }
        },
    });
})();
