// What is still on the phone: every check-in not yet taken by the server, and why.
import { ask, fill, h } from "../dom.js";
import { formatTime, t, tn } from "../i18n.js";
import * as outbox from "../outbox.js";

const REASONS = { 403: "reason.forbidden", 404: "reason.not_found", 409: "reason.conflict" };

function reason(item) {
  const error = item.last_error || {};
  if (item.state === "attention") {
    if (REASONS[item.last_status]) return t(REASONS[item.last_status]);
    if (error.fields && error.fields.visit && /cancel/.test(error.fields.visit)) {
      return t("reason.cancelled");
    }
    const fields = Object.entries(error.fields || {}).map(([k, v]) => `${k}: ${v}`);
    return t("reason.invalid", { detail: fields.join("; ") || error.message || item.last_status });
  }
  if (!item.attempts) return t("queue.state_new");
  if (error.code === "network") return tn("queue.state_network", item.attempts);
  return tn("queue.state_server", item.attempts);
}

export async function queueView(app) {
  const user = app.user();
  const root = h("section", { class: "queue", "aria-labelledby": "queue-title" });
  app.mount(root);

  async function paint() {
    const list = await outbox.items();
    if (!root.isConnected) return;
    fill(root, 
      h("a", { class: "back", href: "#/visits" }, `‹ ${t("card.back")}`),
      h("h1", { id: "queue-title" }, t("queue.title")),
      h("p", { class: "summary" }, list.length ? tn("queue.pill", list.length) : t("queue.empty")),
      list.length
        ? h("button", { type: "button", class: "primary", id: "send-now", onclick: () => outbox.flush({ force: true }) }, t("queue.send_now"))
        : null,
      h("ol", { class: "queue-list" }, list.map((item) => row(item))),
      h(
        "p",
        { class: app.persisted() ? "hint ok" : "hint warn", id: "storage" },
        t(app.persisted() ? "queue.storage_persisted" : "queue.storage_not_persisted"),
      ),
    );
  }

  function row(item) {
    const other = item.worker_id !== user.id;
    const attention = item.state === "attention";
    return h(
      "li",
      { class: `queued ${attention ? "attention" : other ? "other" : "waiting"}`, dataset: { clientId: item.client_id } },
      h("p", {}, h("strong", {}, item.elder_name), ` · ${item.elder_code}`),
      h("p", { class: "muted" }, `${formatTime(item.payload.occurred_at)} · ${t(`outcome.${item.payload.outcome}`)}`),
      h("p", { class: "reason" }, other ? t("queue.state_other_user") : reason(item)),
      attention
        ? h(
            "div",
            { class: "actions" },
            h("button", { type: "button", class: "secondary", onclick: () => outbox.retry(item.client_id) }, t("queue.retry")),
            h(
              "button",
              {
                type: "button",
                class: "danger",
                onclick: async () => {
                  const answer = await ask(t("queue.discard_confirm"), [
                    { value: "keep", label: t("dialog.cancel"), kind: "secondary" },
                    { value: "discard", label: t("queue.discard"), kind: "danger" },
                  ]);
                  if (answer === "discard") await outbox.discard(item.client_id);
                },
              },
              t("queue.discard"),
            ),
          )
        : null,
    );
  }

  await paint();
  app.onLeave(outbox.onChange(() => paint()));
}
