// This month's visits: open first, by due date, then by distance from the phone when the
// worker allows location. Shown at once from the offline copy, then refreshed.
import { NetworkError } from "../api.js";
import { SignInNeeded, Superseded, cachedVisits, fetchVisits } from "../data.js";
import { fill, h } from "../dom.js";
import { currentPosition, distanceM, permission } from "../geo.js";
import { formatDate, formatDistance, formatTime, t } from "../i18n.js";
import * as outbox from "../outbox.js";

/** The status a worker should see: a check-in still on the phone counts. */
export function shownStatus(visit, queued) {
  const mine = queued.filter((item) => item.visit_id === visit.id);
  if (visit.status === "planned" && mine.some((item) => item.payload.outcome === "seen")) {
    return "queued";
  }
  if (visit.status === "planned" && (mine.length || visit.outcome)) return "attempted";
  return visit.status;
}

export function isOpen(status) {
  return status === "planned" || status === "attempted";
}

export function sortVisits(visits, queued, position) {
  const distance = (visit) =>
    position && visit.elder.lat != null && visit.elder.lon != null
      ? distanceM(position, { lat: visit.elder.lat, lon: visit.elder.lon })
      : Infinity;
  return visits
    .map((visit) => ({ visit, status: shownStatus(visit, queued), distance: distance(visit) }))
    .sort(
      (a, b) =>
        Number(isOpen(b.status)) - Number(isOpen(a.status)) ||
        a.visit.due_date.localeCompare(b.visit.due_date) ||
        a.distance - b.distance ||
        a.visit.id - b.visit.id,
    );
}

export async function visitsView(app) {
  const user = app.user();
  let copy = await cachedVisits(user.id);
  let queued = await outbox.items();
  let position = null;
  let state = copy ? "loading" : "first";
  const root = h("section", { class: "visits", "aria-labelledby": "visits-title" });
  app.mount(root);

  function paint() {
    const rows = copy ? sortVisits(copy.visits, queued, position) : [];
    const open = rows.filter((row) => isOpen(row.status)).length;
    const freshness =
      state === "fresh"
        ? t("visits.updated", { time: formatTime(copy.fetched_at) })
        : state === "offline" && copy
          ? t("visits.offline_copy", { time: formatTime(copy.fetched_at) })
          : state === "offline"
            ? t("visits.no_copy")
            : t("visits.loading");
    fill(root, 
      h("p", { class: "hello" }, t("hello", { name: user.name })),
      h("h1", { id: "visits-title" }, t("visits.title")),
      copy
        ? h("p", { class: "summary", id: "visits-summary" }, t("visits.summary", { open, total: rows.length }))
        : null,
      h(
        "p",
        { class: `freshness ${state}`, id: "freshness" },
        freshness,
        h("button", { type: "button", class: "link", onclick: refresh }, t("visits.refresh")),
      ),
      position ? h("p", { class: "hint" }, t("visits.sorted_by_distance")) : null,
      copy && !rows.length ? h("p", { class: "empty" }, t("visits.none")) : null,
      h("ol", { class: "visit-list" }, rows.map(row)),
    );
  }

  function row({ visit, status, distance }) {
    return h(
      "li",
      {},
      h(
        "a",
        {
          class: `visit ${status}`,
          href: `#/visit/${visit.id}`,
          dataset: { visitId: visit.id, status },
        },
        h(
          "span",
          { class: "line1" },
          h("strong", { class: "name" }, visit.elder.name),
          h("span", { class: "code" }, visit.elder.code),
        ),
        visit.elder.address ? h("span", { class: "address" }, visit.elder.address) : null,
        h(
          "span",
          { class: "line3" },
          h("span", { class: `status ${status}` }, t(`status.${status}`)),
          h("span", {}, t("visits.due", { date: formatDate(visit.due_date) })),
          Number.isFinite(distance) ? h("span", { class: "distance" }, formatDistance(distance)) : null,
        ),
      ),
    );
  }

  async function refresh() {
    state = copy ? "loading" : "first";
    paint();
    try {
      copy = await fetchVisits();
      state = "fresh";
    } catch (error) {
      if (error instanceof Superseded) return;
      if (error instanceof SignInNeeded) return app.needSignIn();
      state = "offline";
      if (!(error instanceof NetworkError)) console.error(error);
    }
    paint();
  }

  async function locate() {
    if ((await permission()) === "denied") return;
    const fix = await currentPosition({ timeout: 10000, maximumAge: 120000 });
    if (!fix.error && root.isConnected) {
      position = fix;
      paint();
    }
  }

  paint();
  refresh();
  locate();
  let sentSinceRefresh = false;
  app.onLeave(
    outbox.onChange(async (event) => {
      if (event.type === "sent") sentSinceRefresh = true;
      if (event.type === "flushed" && sentSinceRefresh) {
        // The server now knows more (a visit done): take its list, in place.
        sentSinceRefresh = false;
        if (root.isConnected) refresh();
        return;
      }
      if (!["queued", "sent", "attention", "discarded"].includes(event.type)) return;
      queued = await outbox.items();
      if (event.type === "sent") copy = (await cachedVisits(user.id)) || copy;
      if (root.isConnected) paint();
    }),
  );
  const online = () => root.isConnected && refresh();
  window.addEventListener("online", online);
  app.onLeave(() => window.removeEventListener("online", online));
}
