// BTU Run Later form: queue choices, Cancel while Pending, the scheduler's answer after
// a save.

(() => {
    frappe.ui.form.on("BTU Run Later", {
        refresh(frm) {
            frappe.xcall("btu.api.queue_names").then((queues) => {
                frm.fields_dict.queue.set_data(queues);
            });
            // The functions apps declared runnable, each with its arguments and summary.
            frappe.xcall("btu.api.runnable_functions").then((choices) => {
                frm.fields_dict.function_path.set_data(choices);
            });
            if (!frm.is_new() && frm.doc.status === "Pending") {
                frm.add_custom_button(__("Cancel"), () => {
                    frappe.confirm(__("Cancel this run? It will not run."), () => {
                        frappe
                            .xcall("btu.api.cancel_run_later", { name: frm.doc.name })
                            .then(() => frm.reload_doc());
                    });
                });
            }
            const colours = {
                Pending: "blue",
                "In Flight": "orange",
                Done: "green",
                Failed: "red",
                Cancelled: "gray",
            };
            if (!frm.is_new()) {
                frm.page.set_indicator(__(frm.doc.status), colours[frm.doc.status] || "gray");
            }
            if (!frm.is_new() && frm.doc.status !== "Pending") {
                // It already ran (or was cancelled): nothing is left to change.
                frm.disable_save();
            }
        },
        after_save(frm) {
            frappe
                .xcall("btu.api.confirm_item", { doctype: frm.doctype, name: frm.doc.name })
                .then((a) => {
                    frm.dashboard.clear_headline(); // show_message appends
                    frm.dashboard.set_headline_alert(frappe.utils.escape_html(a.message), a.indicator);
                    frappe.show_alert({ message: a.message, indicator: a.indicator }, 7);
                });
        },
    });
})();
