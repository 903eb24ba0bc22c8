// The worker app: start-up, the header (with the count of check-ins waiting), the router
// (ids only in the address: #/visit/12, never a name or phone) and sign-out.
import { api } from "./api.js";
import { markCheckedIn } from "./data.js";
import { ask, banner, h, hideBanner } from "./dom.js";
import { guessLocale, setLocale, t, tn } from "./i18n.js";
import * as outbox from "./outbox.js";
import { forget, lastUser, loadSession, session } from "./session.js";
import { clearAll } from "./store.js";
import { cardView } from "./views/card.js";
import { checkinView } from "./views/checkin.js";
import { loginView } from "./views/login.js";
import { queueView } from "./views/queue.js";
import { visitsView } from "./views/visits.js";

const SHELL_CACHE_PREFIX = "tanfang-shell-";
const main = document.getElementById("view");
let leaving = [];
let routeToken = 0;
let persisted = false;

const app = {
  user: () => session().user,
  persisted: () => persisted,
  chrome,
  signedIn,
  needSignIn,
  saved,
  notFound() {
    this.mount(h("section", {}, h("p", {}, t("error.not_found")), h("a", { class: "button", href: "#/visits" }, t("card.back"))));
  },
};

/** A view's handle on the page: mounting is ignored once the worker has moved on. */
function context(token) {
  return Object.assign(Object.create(app), {
    mount(node) {
      if (token !== routeToken) return;
      main.replaceChildren(node);
      main.focus({ preventScroll: true });
      window.scrollTo(0, 0);
    },
    onLeave(stop) {
      if (token !== routeToken) stop();
      else leaving.push(stop);
    },
  });
}

async function route() {
  for (const stop of leaving.splice(0)) stop();
  const token = ++routeToken;
  const ctx = context(token);
  chrome();
  if (!session()) {
    const user = await lastUser();
    return loginView(ctx, { expired: outbox.status.needsSignIn, phone: user ? user.phone : "" });
  }
  const [name, id] = location.hash.replace(/^#\/?/, "").split("/");
  const number = Number(id);
  try {
    if (name === "visit" && number) return await cardView(ctx, number);
    if (name === "checkin" && number) return await checkinView(ctx, number);
    if (name === "queue") return await queueView(ctx);
    return await visitsView(ctx);
  } catch (error) {
    console.error(error);
    banner(t("error.generic"), { kind: "error" });
  }
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

/** Header: brand, the count of check-ins waiting (always shown), sign-out. */
async function chrome() {
  document.getElementById("brand").textContent = t("app.name");
  const logout = document.getElementById("logout");
  logout.textContent = t("logout");
  logout.hidden = !session();
  const list = await outbox.items();
  const attention = list.filter((item) => item.state === "attention").length;
  const pill = document.getElementById("queue-pill");
  pill.dataset.count = String(list.length);
  pill.dataset.attention = String(attention);
  pill.classList.toggle("zero", list.length === 0);
  pill.classList.toggle("attention", attention > 0);
  pill.classList.toggle("offline", outbox.status.reachable === false);
  document.getElementById("queue-count").textContent = attention
    ? `${tn("queue.pill", list.length)} · ${tn("queue.attention", attention)}`
    : list.length
      ? tn("queue.pill", list.length)
      : t("queue.none");
  pill.setAttribute("aria-label", tn("queue.pill", list.length));
}

async function signedIn() {
  const user = session().user;
  outbox.status.needsSignIn = false;
  await setLocale(user.locale);
  hideBanner();
  askForPersistentStorage();
  outbox.flush({ force: true });
  go("#/visits");
}

function needSignIn() {
  outbox.status.needsSignIn = true;
  // Never throw away a form being filled in: it can still be saved to the phone.
  if (main.querySelector("form.checkin")) {
    banner(t("login.expired"), {
      kind: "warn",
      sticky: true,
      action: { label: t("login.submit"), run: () => go("#/visits") },
    });
    return;
  }
  route();
}

function saved() {
  banner(t("saved.queued"), { kind: "info" });
  go("#/visits");
}

async function askForPersistentStorage() {
  try {
    if (navigator.storage && navigator.storage.persist) {
      persisted = (await navigator.storage.persisted()) || (await navigator.storage.persist());
    }
  } catch {
    persisted = false;
  }
}

/** Sign out: first send what is waiting; what cannot be sent is deleted only if the worker
 * says so. Then every personal record on the phone goes: IndexedDB, and any Cache Storage
 * entry that is not the (impersonal) app shell. */
async function logout() {
  let left = await outbox.items();
  if (left.length && session()) {
    await outbox.flush({ force: true });
    left = await outbox.items();
  }
  if (left.length) {
    const answer = await ask(tn("logout.unsent", left.length), [
      { value: "keep", label: t("logout.keep"), kind: "primary" },
      { value: "drop", label: t("logout.anyway"), kind: "danger" },
    ]);
    if (answer !== "drop") {
      go("#/queue");
      return;
    }
  }
  const signedInNow = session();
  if (signedInNow) {
    try {
      await api("/auth/logout", { method: "POST", token: signedInNow.token, timeout: 5000 });
    } catch {
      // offline: the token is forgotten here and expires on the server
    }
  }
  await wipe();
  outbox.status.needsSignIn = false;
  history.replaceState(null, "", "/app/");
  route();
}

async function wipe() {
  forget();
  await clearAll();
  if ("caches" in window) {
    for (const name of await caches.keys()) {
      if (!name.startsWith(SHELL_CACHE_PREFIX)) {
        await caches.delete(name);
        continue;
      }
      const cache = await caches.open(name);
      for (const request of await cache.keys()) {
        if (!new URL(request.url).pathname.startsWith("/app/")) await cache.delete(request);
      }
    }
  }
}

function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  const hadController = Boolean(navigator.serviceWorker.controller);
  navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch((error) => {
    console.warn("service worker", error);
  });
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (!hadController) return; // the first install, not an update
    banner(t("update.ready"), {
      sticky: true,
      action: { label: t("update.reload"), run: () => location.reload() },
    });
  });
}

outbox.onChange(async (event) => {
  chrome();
  if (event.type === "sent") {
    await markCheckedIn(event.item.visit_id, event.item.payload).catch(() => null);
    const far = event.checkin && event.checkin.far_from_home;
    banner(far ? t("saved.sent_far") : t("saved.sent", { name: event.item.elder_name }), {
      kind: far ? "warn" : "ok",
    });
  } else if (event.type === "attention") {
    banner(t("queue.needs_attention"), {
      kind: "warn",
      action: { label: t("queue.open"), run: () => go("#/queue") },
    });
  } else if (event.type === "signin") {
    needSignIn();
  }
});

async function start() {
  registerServiceWorker();
  await loadSession();
  const user = await lastUser();
  await setLocale(user ? user.locale : guessLocale());
  document.getElementById("queue-pill").addEventListener("click", () => go("#/queue"));
  document.getElementById("logout").addEventListener("click", logout);
  window.addEventListener("hashchange", route);
  if (session()) askForPersistentStorage();
  outbox.start();
  await route();
}

start();
