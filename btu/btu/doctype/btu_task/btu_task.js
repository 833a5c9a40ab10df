// BTU Task form: queue choices from the bench, "Run now", and shortcuts to schedule it.

(() => {
    frappe.ui.form.on("BTU Task", {
        refresh(frm) {
            load_queue_choices(frm, ["queue"]);
            load_function_choices(frm, "function_path");
            if (frm.is_new()) {
                return;
            }
            // Run now needs write permission on the task: the server refuses others.
            if (frm.doc.enabled && frm.perm[0] && frm.perm[0].write) {
                frm.add_custom_button(__("Run now"), () => run_now(frm));
            }
            if (frappe.model.can_create("BTU Task Schedule")) {
                frm.add_custom_button(
                    __("Schedule"),
                    () => frappe.new_doc("BTU Task Schedule", { task: frm.doc.name }),
                    __("Create")
                );
            }
            if (frappe.model.can_create("BTU Run Later")) {
                frm.add_custom_button(
                    __("Run Later"),
                    () => frappe.new_doc("BTU Run Later", { task: frm.doc.name }),
                    __("Create")
                );
            }
            if (frm.doc.last_outcome) {
                const colour = frm.doc.last_outcome === "Success" ? "green" : "orange";
                frm.dashboard.set_headline_alert(
                    __("Last run {0}: {1}", [
                        frappe.datetime.prettyDate(frm.doc.last_run),
                        __(frm.doc.last_outcome),
                    ]),
                    colour
                );
            }
        },
    });

    // The functions apps declared runnable, each with its arguments and summary.
    function load_function_choices(frm, fieldname) {
        frappe.xcall("btu.api.runnable_functions").then((choices) => {
            frm.fields_dict[fieldname] && frm.fields_dict[fieldname].set_data(choices);
        });
    }

    function load_queue_choices(frm, fieldnames) {
        frappe.xcall("btu.api.queue_names").then((queues) => {
            fieldnames.forEach((f) => frm.fields_dict[f] && frm.fields_dict[f].set_data(queues));
        });
    }

    function run_now(frm) {
        if (frm.is_dirty()) {
            frappe.msgprint(__("Save the task first."));
            return;
        }
        frappe
            .call({ method: "btu.api.run_task_now", args: { task: frm.doc.name }, freeze: true })
            .then((r) => {
                const log = r.message.task_log;
                const link = `<a href="/app/btu-task-log/${encodeURIComponent(log)}">${log}</a>`;
                frappe.show_alert({ message: __("Queued: {0}", [link]), indicator: "green" }, 10);
            });
    }
})();
