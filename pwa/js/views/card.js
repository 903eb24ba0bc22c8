// The elder card: who, where, a big button to call, the last visit and its note, open cases,
// and the button that starts a check-in.
import { NetworkError } from "../api.js";
import { SignInNeeded, Superseded, cachedCard, cachedVisits, fetchCard } from "../data.js";
import { face, fill, h } from "../dom.js";
import { formatDate, formatPhone, formatTime, t } from "../i18n.js";
import * as outbox from "../outbox.js";
import { isOpen, shownStatus } from "./visits.js";

export async function cardView(app, visitId) {
  const copy = await cachedVisits(app.user().id);
  const visit = copy && copy.visits.find((v) => v.id === visitId);
  if (!visit) return app.notFound();
  const queued = await outbox.items();
  const status = shownStatus(visit, queued);
  let card = await cachedCard(visit.elder.id);
  let live = false;
  let offline = false;
  const root = h("section", { class: "card-view" });
  app.mount(root);

  function paint() {
    const elder = { ...visit.elder, ...(card || {}) };
    fill(root, 
      h("a", { class: "back", href: "#/visits" }, `‹ ${t("card.back")}`),
      h("h1", { class: "elder-name" }, elder.name),
      h(
        "p",
        { class: "chips" },
        h("span", { class: "code" }, `${t("card.code")} ${elder.code}`),
        card && card.risk_tier ? h("span", { class: `tier ${card.risk_tier}` }, t(`tier.${card.risk_tier}`)) : null,
        card && card.lives_alone ? h("span", { class: "tier" }, t("card.lives_alone")) : null,
        h("span", { class: `status ${status}` }, t(`status.${status}`)),
      ),
      elder.address ? h("p", { class: "address" }, elder.address) : null,
      h("p", { class: "due" }, t("visits.due", { date: formatDate(visit.due_date) })),
      elder.phone
        ? h("a", { class: "button call", href: `tel:${elder.phone}`, id: "call" }, `☎ ${t("card.call")} ${formatPhone(elder.phone)}`)
        : h("p", { class: "muted", id: "no-phone" }, t("card.no_phone")),
      isOpen(status)
        ? h("a", { class: "button primary", href: `#/checkin/${visit.id}`, id: "start-checkin" }, t("card.checkin"))
        : null,
      offline ? h("p", { class: "notice" }, t("card.offline")) : null,
      h("h2", {}, t("card.last_visit")),
      lastVisit(card && card.last_visit),
      h("h2", {}, t("card.cases")),
      cases(card ? card.open_cases : null),
    );
  }

  function lastVisit(last) {
    if (!card) return h("p", { class: "muted" }, offline ? t("card.offline") : t("visits.loading"));
    if (!last) return h("p", { class: "muted" }, t("card.no_last_visit"));
    return h(
      "div",
      { class: "last-visit" },
      h(
        "p",
        {},
        h("strong", {}, formatTime(last.occurred_at)),
        " · ",
        t(`outcome.${last.outcome}`),
        last.by_me ? ` · ${t("card.by_me")}` : "",
      ),
      last.mood ? h("p", { class: "mood-line" }, face(last.mood), t(`mood.${last.mood}`)) : null,
      last.note
        ? h("p", { class: "note" }, last.note)
        : !live && last.has_note
          ? h("p", { class: "muted" }, t("card.note_online_only"))
          : null,
    );
  }

  function cases(list) {
    if (!list) return h("p", { class: "muted" }, "…");
    if (!list.length) return h("p", { class: "muted" }, t("card.no_cases"));
    return h(
      "ul",
      { class: "cases" },
      list.map((c) =>
        h(
          "li",
          { class: `case ${c.priority}` },
          h("strong", {}, t(`case.${c.kind}`)),
          ` · ${t(`priority.${c.priority}`)} · ${t(`case_status.${c.status}`)}`,
        ),
      ),
    );
  }

  paint();
  try {
    card = await fetchCard(visit.elder.id);
    live = true;
  } catch (error) {
    if (error instanceof Superseded) return;
    if (error instanceof SignInNeeded) return app.needSignIn();
    offline = true;
    if (!(error instanceof NetworkError)) console.error(error);
  }
  if (root.isConnected) paint();
}
