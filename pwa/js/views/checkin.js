// The check-in form: outcome, mood as faces, the two PHQ-2 questions in plain words, needs,
// services, a note; the position and its accuracy are taken while the form is open.
// Saving writes to the phone first (the outbox) and then sends.
import { cachedVisits } from "../data.js";
import { face, h } from "../dom.js";
import { FAR_FROM_HOME_M, distanceM, watch } from "../geo.js";
import { formatDistance, t } from "../i18n.js";
import * as outbox from "../outbox.js";

const OUTCOMES = ["seen", "not_home", "refused", "hospitalized", "moved", "deceased"];
const NEEDS = [
  "hardship",
  "psychological",
  "emotional",
  "family_mediation",
  "daily_care",
  "medical",
  "policy",
  "errand",
];
const SERVICES = ["visit", "policy_advice", "daily_care", "errand", "health_check", "companionship"];

function choices(name, type, values, label, { checked = [], extra = () => null } = {}) {
  return values.map((value) =>
    h(
      "label",
      { class: `choice ${name}` },
      h("input", {
        type,
        name,
        value: String(value),
        checked: checked.includes(value),
      }),
      extra(value),
      h("span", {}, label(value)),
    ),
  );
}

function group(title, id, body, { hidden = false, cls = "" } = {}) {
  return h("fieldset", { id, class: `group ${cls}`, hidden }, h("legend", {}, title), body);
}

export async function checkinView(app, visitId) {
  const user = app.user();
  const copy = await cachedVisits(user.id);
  const visit = copy && copy.visits.find((v) => v.id === visitId);
  if (!visit) return app.notFound();
  const elder = visit.elder;
  let fix = null;
  let geoError = null;
  let saving = false;

  const geoLine = h("p", { class: "geo", id: "geo", role: "status" }, t("geo.locating"));
  const error = h("p", { class: "form-error", role: "alert", id: "form-error" });
  const seenOnly = [
    group(
      t("checkin.mood"),
      "mood",
      h("div", { class: "faces" }, choices("mood", "radio", [1, 2, 3, 4, 5], (m) => t(`mood.${m}`), { extra: face })),
      { hidden: true },
    ),
    group(
      t("checkin.phq2_intro"),
      "phq2",
      [1, 2].map((q) =>
        h(
          "div",
          { class: "question" },
          h("p", { class: "question-text" }, t(`phq2.q${q}`)),
          h("div", { class: "answers" }, choices(`phq2_${q}`, "radio", [0, 1, 2, 3], (a) => t(`phq2.a${a}`))),
        ),
      ),
      { hidden: true },
    ),
  ];
  const form = h(
    "form",
    { class: "checkin", novalidate: true },
    h("a", { class: "back", href: `#/visit/${visit.id}` }, `‹ ${t("card.back")}`),
    h("h1", {}, t("checkin.title")),
    h("p", { class: "who" }, h("strong", {}, elder.name), ` · ${elder.code}`),
    geoLine,
    group(t("checkin.outcome"), "outcome", h("div", { class: "outcomes" }, choices("outcome", "radio", OUTCOMES, (o) => t(`outcome.${o}`)))),
    seenOnly,
    group(t("checkin.needs"), "needs", h("div", { class: "chips-grid" }, choices("needs", "checkbox", NEEDS, (n) => t(`need.${n}`)))),
    group(
      t("checkin.services"),
      "services",
      h("div", { class: "chips-grid" }, choices("services", "checkbox", SERVICES, (v) => t(`service.${v}`), { checked: ["visit"] })),
    ),
    h(
      "label",
      { class: "field" },
      h("span", {}, t("checkin.note")),
      h("textarea", { name: "note", rows: 3, maxlength: 2000, placeholder: t("checkin.note_hint") }),
    ),
    error,
    h("button", { type: "submit", class: "primary sticky", id: "save" }, t("checkin.save")),
  );
  app.mount(form);

  form.addEventListener("change", (event) => {
    if (event.target.name === "outcome") {
      const seen = event.target.value === "seen";
      for (const node of seenOnly) node.hidden = !seen;
      error.textContent = "";
    }
  });

  function paintGeo() {
    if (fix) {
      const parts = [t("geo.fix", { accuracy: Math.round(fix.accuracy) })];
      let far = false;
      if (elder.lat != null && elder.lon != null) {
        const metres = distanceM(fix, { lat: elder.lat, lon: elder.lon });
        far = metres > FAR_FROM_HOME_M;
        parts.push(t(far ? "geo.far" : "geo.near", { distance: formatDistance(metres) }));
      }
      geoLine.textContent = parts.join(" · ");
      geoLine.className = far ? "geo far" : "geo ok";
    } else if (geoError) {
      geoLine.textContent = t(geoError === "denied" ? "geo.denied" : "geo.none");
      geoLine.className = "geo none";
    }
  }
  app.onLeave(
    watch(
      (position) => {
        fix = position;
        geoError = null;
        paintGeo();
      },
      (reason) => {
        geoError = reason;
        if (!fix) paintGeo();
      },
    ),
  );

  /** Say what is wrong where the worker is looking: under the question it is about (which
   * is scrolled into view), or else just above the Save button. */
  function complain(message, groupSelector = null) {
    for (const marked of form.querySelectorAll(".group.invalid")) marked.classList.remove("invalid");
    error.textContent = message;
    const where = groupSelector && form.querySelector(groupSelector);
    if (where) {
      where.classList.add("invalid");
      where.querySelector("legend").after(error);
    } else {
      form.querySelector("#save").before(error);
    }
    (where || error).scrollIntoView({ block: where ? "start" : "center" });
  }
  form.addEventListener("change", () => {
    if (!error.textContent) return;
    error.textContent = "";
    for (const marked of form.querySelectorAll(".group.invalid")) marked.classList.remove("invalid");
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (saving) return; // one tap, one check-in
    const data = new FormData(form);
    const outcome = data.get("outcome");
    if (!outcome) return complain(t("checkin.pick_outcome"), "#outcome");
    const seen = outcome === "seen";
    const a = data.get("phq2_1");
    const b = data.get("phq2_2");
    if (seen && (a === null) !== (b === null)) return complain(t("checkin.phq2_both"), "#phq2");
    const note = String(data.get("note") || "").trim();
    const payload = {
      client_id: outbox.newClientId(),
      occurred_at: new Date().toISOString(),
      lat: fix ? fix.lat : null,
      lon: fix ? fix.lon : null,
      accuracy_m: fix ? Math.round(fix.accuracy * 10) / 10 : null,
      outcome,
      mood: seen && data.get("mood") ? Number(data.get("mood")) : null,
      phq2: seen && a !== null && b !== null ? [Number(a), Number(b)] : null,
      needs: data.getAll("needs"),
      services: data.getAll("services"),
      note: note || null,
    };
    saving = true;
    form.querySelector("#save").disabled = true;
    try {
      await outbox.enqueue(visit, payload, user.id);
    } catch (failure) {
      saving = false;
      form.querySelector("#save").disabled = false;
      complain(t("checkin.not_saved"));
      console.error(failure);
      return;
    }
    app.saved(payload);
  });
}
