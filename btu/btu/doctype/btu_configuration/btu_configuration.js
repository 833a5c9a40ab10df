// BTU Configuration: scheduler status panel (RPC ping/status, instances, recent fires),
// Ping and Republish buttons, and the panel of BTU's failed RQ jobs.

(() => {
    const esc = (v) => frappe.utils.escape_html(v === undefined || v === null ? "" : String(v));

    frappe.ui.form.on("BTU Configuration", {
        refresh(frm) {
            frappe.xcall("btu.api.queue_names").then((q) => frm.fields_dict.default_queue.set_data(q));
            frappe.xcall("frappe.core.doctype.user.user.get_timezones").then((r) => {
                frm.fields_dict.default_time_zone.set_data(r.timezones);
            });
            frm.add_custom_button(__("Ping scheduler"), () => ping(frm), __("Scheduler"));
            frm.add_custom_button(__("Republish all schedules"), () => republish(frm), __("Scheduler"));
            frm.add_custom_button(__("Refresh status"), () => render_status(frm), __("Scheduler"));
            render_status(frm);
            render_failed_jobs(frm);
        },
    });

    function ping(frm) {
        frappe.xcall("btu.api.ping_scheduler").then((r) => {
            frappe.show_alert({ message: esc(r.message), indicator: r.ok ? "green" : "orange" }, 8);
            render_status(frm);
        });
    }

    function republish(frm) {
        frappe.confirm(
            __("Publish every schedule and run-later item to the scheduler again?"),
            () => {
                frappe.call({ method: "btu.api.republish_all", freeze: true }).then((r) => {
                    frappe.show_alert(
                        {
                            message: __("Republished {0} item(s), removed {1}.", [
                                r.message.upserts,
                                r.message.deletes,
                            ]),
                            indicator: "green",
                        },
                        8
                    );
                    render_status(frm);
                });
            }
        );
    }

    function table(rows, columns) {
        if (!rows || !rows.length) {
            return `<p class="text-muted">${__("None")}</p>`;
        }
        const head = columns.map((c) => `<th>${esc(c[1])}</th>`).join("");
        const body = rows
            .map((r) => "<tr>" + columns.map((c) => `<td>${esc(r[c[0]])}</td>`).join("") + "</tr>")
            .join("");
        return `<div style="overflow-x: auto"><table class="table table-bordered table-sm"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
    }

    function answer(part, label) {
        if (!part) {
            return "";
        }
        if (!part.ok) {
            return `<p><b>${esc(label)}:</b> <span class="text-warning">${esc(part.error)}</span></p>`;
        }
        return `<h5>${esc(label)}</h5>` + table(part.rows, [
            ["name", __("What")],
            ["value", __("Value")],
        ]);
    }

    function render_status(frm) {
        const wrapper = frm.fields_dict.scheduler_status_html.$wrapper;
        wrapper.html(`<p class="text-muted">${__("Asking the scheduler...")}</p>`);
        frappe.xcall("btu.api.scheduler_status").then((s) => {
            let html = "";
            if (s.redis && !s.redis.ok) {
                html += `<p class="text-danger">${esc(s.redis.error)}</p>`;
            } else if (s.redis) {
                html += `<p>${__("Redis: {0} (from {1}); items in the state hash: {2}; leader: {3}", [
                    __("reachable"),
                    esc(s.redis.source),
                    esc(s.state_items),
                    esc(s.leader || __("none")),
                ])}</p>`;
            }
            html += answer(s.ping, __("Ping"));
            html += answer(s.status, __("Counters"));
            html += `<h5>${__("Instances")}</h5>`;
            const inst = s.instances || [];
            const cols = inst.length
                ? Object.keys(inst[0]).map((k) => [k, k])
                : [["instance", __("Instance")]];
            html += table(inst, cols);
            html += `<h5>${__("Recent fires")}</h5>`;
            html += table(s.fires, [
                ["due", __("Due")],
                ["id", __("Item")],
                ["outcome", __("Outcome")],
                ["lag_ms", __("Lag (ms)")],
                ["http", __("HTTP")],
                ["attempt", __("Attempt")],
                ["job", __("Job")],
                ["instance", __("Instance")],
            ]);
            wrapper.html(html);
        });
    }

    function render_failed_jobs(frm) {
        const wrapper = frm.fields_dict.failed_jobs_html.$wrapper;
        if (!frappe.user.has_role(["BTU Manager", "System Manager"])) {
            wrapper.html("");
            return;
        }
        frappe.xcall("btu.api.failed_jobs").then((rows) => {
            const body = rows
                .map(
                    (r) => `<tr>
                        <td><input type="checkbox" data-job="${esc(r.job_id)}"></td>
                        <td>${esc(r.failed_at)}</td><td>${esc(r.queue)}</td>
                        <td>${r.task_log ? `<a href="/app/btu-task-log/${encodeURIComponent(r.task_log)}">${esc(r.task_log)}</a>` : ""}</td>
                        <td>${esc(r.error)}</td></tr>`
                )
                .join("");
            const html = `
                <div class="mb-2">
                    <button class="btn btn-xs btn-default btu-requeue">${__("Requeue selected")}</button>
                    <button class="btn btn-xs btn-default btu-delete">${__("Delete by date range")}</button>
                    <button class="btn btn-xs btn-default btu-reload">${__("Reload")}</button>
                </div>
                ${
                    rows.length
                        ? `<table class="table table-bordered table-sm"><thead><tr><th></th>
                            <th>${__("Failed at (UTC)")}</th><th>${__("Queue")}</th>
                            <th>${__("Task Log")}</th><th>${__("Error")}</th></tr></thead>
                            <tbody>${body}</tbody></table>`
                        : `<p class="text-muted">${__("No failed BTU jobs.")}</p>`
                }`;
            wrapper.html(html);
            wrapper.find(".btu-reload").on("click", () => render_failed_jobs(frm));
            wrapper.find(".btu-requeue").on("click", () => {
                const ids = wrapper
                    .find("input[data-job]:checked")
                    .map((i, el) => $(el).attr("data-job"))
                    .get();
                if (!ids.length) {
                    frappe.msgprint(__("Select the jobs to requeue."));
                    return;
                }
                frappe.xcall("btu.api.requeue_failed_jobs", { job_ids: ids }).then((r) => {
                    frappe.show_alert(
                        { message: __("Requeued {0} job(s).", [r.requeued.length]), indicator: "green" },
                        8
                    );
                    render_failed_jobs(frm);
                });
            });
            wrapper.find(".btu-delete").on("click", () => delete_range(frm));
        });
    }

    function delete_range(frm) {
        const d = new frappe.ui.Dialog({
            title: __("Delete failed BTU jobs"),
            fields: [
                { fieldname: "from_date", fieldtype: "Date", label: __("From"), reqd: 1 },
                { fieldname: "to_date", fieldtype: "Date", label: __("To"), reqd: 1 },
            ],
            primary_action_label: __("Delete"),
            primary_action(values) {
                frappe.xcall("btu.api.delete_failed_jobs", values).then((r) => {
                    d.hide();
                    frappe.show_alert(
                        { message: __("Deleted {0} job(s).", [r.deleted]), indicator: "green" },
                        8
                    );
                    render_failed_jobs(frm);
                });
            },
        });
        d.show();
    }
})();
