// BTU Report Delivery form: a rendered preview of the mail, and "Send now to me".

(() => {
    const escape = (text) => frappe.utils.escape_html(String(text ?? ""));

    function show_preview(frm, data) {
        const files = (data.attachments || [])
            .map((a) => `${escape(a.name)} (${Math.ceil(a.size / 1024)} KB)`)
            .join(", ");
        const more = data.truncated ? __(" (row limit reached)") : "";
        frm.fields_dict.preview_html.$wrapper.html(`
            <div class="text-muted small">
                <div><b>${__("Subject")}:</b> ${escape(data.subject)}</div>
                <div><b>${__("To")}:</b> ${escape((data.recipients || []).join(", "))}</div>
                <div><b>${__("Rows")}:</b> ${data.rows}${more}</div>
                ${files ? `<div><b>${__("Attachments")}:</b> ${files}</div>` : ""}
            </div>
            <hr>
            <iframe class="btu-delivery-preview" style="width:100%;height:360px;border:1px solid var(--border-color)"></iframe>
            ${data.table ? `<div class="text-muted small" style="margin-top:8px"><b>${__("In the attachment")}:</b></div>
            <iframe class="btu-delivery-table" style="width:100%;height:360px;border:1px solid var(--border-color)"></iframe>` : ""}
        `);
        // The mail's own HTML in sandboxed frames: it cannot touch the Desk.
        const frames = frm.fields_dict.preview_html.$wrapper.find("iframe");
        // The mail client gets Frappe's email styles inlined; a plain frame needs a few.
        const style =
            "<style>body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse}" +
            "th,td{border:1px solid #d1d8dd;padding:4px 8px;text-align:left}</style>";
        const html = [style + data.message, style + data.table];
        frames.each((i, frame) => {
            frame.setAttribute("sandbox", "");
            frame.srcdoc = html[i];
        });
    }

    frappe.ui.form.on("BTU Report Delivery", {
        refresh(frm) {
            frm.fields_dict.preview_html.$wrapper.empty();
            if (frm.is_new()) {
                return;
            }
            frm.add_custom_button(__("Preview"), () => {
                frm.call("preview").then((r) => {
                    frm.scroll_to_field("preview_html");
                    show_preview(frm, r.message);
                });
            });
            frm.add_custom_button(__("Send now to me"), () => {
                frm.call("send_now_to_me").then((r) => {
                    const out = r.message;
                    frappe.show_alert({
                        message: out.skipped
                            ? __("Not sent: {0}", [out.skipped])
                            : __("Sent to you: {0} row(s). Task Log {1}.", [out.rows, out.task_log]),
                        indicator: out.skipped ? "orange" : "green",
                    });
                });
            });
            if (frm.doc.task) {
                frm.add_custom_button(__("Deliveries"), () => {
                    frappe.set_route("List", "BTU Task Log", { task: frm.doc.task });
                });
            }
        },
    });
})();
