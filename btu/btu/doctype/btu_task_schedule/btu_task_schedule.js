// BTU Task Schedule form: the frequency helper previews the cron expression, its
// description and next runs as you type; after a save the scheduler's answer is shown.

(() => {
    const BTU_SCHEDULE_FIELDS = [
        "frequency",
        "minute",
        "time_of_day",
        "weekday",
        "day_of_month",
        "month",
        "cron_expression",
        "time_zone",
    ];

    frappe.ui.form.on("BTU Task Schedule", {
        refresh(frm) {
            load_time_zones(frm);
            preview_schedule(frm);
            frappe.xcall("btu.api.queue_names").then((queues) => {
                frm.fields_dict.queue_override.set_data(queues);
            });
            // Run now needs write permission on the task: the server refuses others.
            if (!frm.is_new() && frappe.model.can_write("BTU Task")) {
                frm.add_custom_button(__("Run now"), () => {
                    frappe
                        .call({
                            method: "btu.api.run_task_now",
                            args: { task: frm.doc.task, schedule: frm.doc.name },
                            freeze: true,
                        })
                        .then((r) => {
                            frappe.show_alert(
                                { message: __("Queued: {0}", [r.message.task_log]), indicator: "green" },
                                10
                            );
                        });
                });
            }
        },
        after_save(frm) {
            confirm_with_scheduler(frm);
        },
    });

    BTU_SCHEDULE_FIELDS.forEach((field) => {
        frappe.ui.form.on("BTU Task Schedule", field, (frm) => preview_schedule(frm));
    });

    function load_time_zones(frm) {
        const apply = () => frm.fields_dict.time_zone.set_data(frappe.all_timezones);
        if (frappe.all_timezones) {
            apply();
            return;
        }
        frappe.xcall("frappe.core.doctype.user.user.get_timezones").then((r) => {
            frappe.all_timezones = r.timezones;
            apply();
        });
    }

    function preview_schedule(frm) {
        clearTimeout(frm.__btu_preview);
        frm.__btu_preview = setTimeout(() => {
            const d = frm.doc;
            if (!d.frequency || (d.frequency === "Cron" && !d.cron_expression)) {
                return;
            }
            frappe
                .xcall("btu.api.preview_schedule", {
                    frequency: d.frequency,
                    time_zone: d.time_zone || "",
                    minute: cint(d.minute),
                    time_of_day: d.time_of_day || "",
                    weekday: d.weekday || "",
                    day_of_month: cint(d.day_of_month) || 1,
                    month: d.month || "",
                    cron_expression: d.cron_expression || "",
                })
                .then((p) => show_preview(frm, p));
        }, 300);
    }

    // The headline shows, in this order: the preview's error while the form is being
    // edited, else the scheduler's answer to the last save (until the form is edited).
    function show_headline(frm) {
        // Frappe's show_message appends: clear first, or the answer shows twice.
        frm.dashboard.clear_headline();
        if (frm.__btu_preview_error) {
            frm.dashboard.set_headline_alert(frappe.utils.escape_html(frm.__btu_preview_error), "red");
        } else if (frm.__btu_answer && !frm.is_dirty()) {
            frm.dashboard.set_headline_alert(frm.__btu_answer.html, frm.__btu_answer.indicator);
        }
    }

    function show_preview(frm, p) {
        frm.__btu_preview_error = p.ok ? null : p.error;
        show_headline(frm);
        if (!p.ok) {
            return;
        }
        if (!frm.doc.time_zone) {
            frm.set_value("time_zone", p.time_zone);
        }
        if (frm.doc.frequency !== "Cron" && frm.doc.cron_expression !== p.cron) {
            frm.set_value("cron_expression", p.cron);
        }
        frm.doc.description = p.description;
        frm.doc.next_runs = p.next_runs.join("\n");
        frm.refresh_fields(["description", "next_runs"]);
    }

    function confirm_with_scheduler(frm) {
        frappe
            .xcall("btu.api.confirm_item", { doctype: frm.doctype, name: frm.doc.name })
            .then((a) => {
                let html = frappe.utils.escape_html(a.message);
                if (a.next_runs && a.next_runs.length > 1) {
                    const later = a.next_runs.slice(1).map(frappe.utils.escape_html);
                    html += "<br>" + __("Then:") + "<br>" + later.join("<br>");
                }
                frm.__btu_answer = { html: html, indicator: a.indicator };
                show_headline(frm);
                frappe.show_alert({ message: a.message, indicator: a.indicator }, 7);
            });
    }
})();
