// The queue of check-ins waiting for the server (IndexedDB store `outbox`).
//
// Every check-in goes through here, online or not: it is written to IndexedDB first (so a
// reload, a closed browser or a dead battery cannot lose it) and then sent. The server
// de-duplicates by client_id, so sending again after an unanswered request is safe.
//
// Sending is tried on 'online', at start, when the app becomes visible, after each new
// check-in and on a timer with exponential backoff. Background Sync is not used (missing in
// WebViews), and nothing expires: an item leaves the queue only when the server has it, or
// when the worker deletes it after seeing why the server refused it.
//
// Answers: 200/201 done; 401 sign in again (queue kept); 408, 429, 5xx and no answer at all
// retry later; any other 4xx marks the item "needs attention" and keeps it, visible.
import { ApiError, NetworkError, api } from "./api.js";
import { expire, session } from "./session.js";
import { all, put, remove, update } from "./store.js";

const BASE_DELAY_MS = 5000;
const MAX_DELAY_MS = 5 * 60 * 1000;
const HEARTBEAT_MS = 60 * 1000;
const EARLY_MS = 50;
const RETRY_LATER = new Set([408, 429]);

const listeners = new Set();
let running = null;
let again = false;
let timer = null;
let failures = 0;
let retryAt = 0;

/** What the last attempt learned: reachable (true/false/null) and whether to sign in. */
export const status = { reachable: null, needsSignIn: false, lastSentAt: null };

export function onChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function changed(event) {
  for (const listener of [...listeners]) {
    try {
      listener(event);
    } catch (error) {
      console.error(error);
    }
  }
}

export function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((n) => n.toString(16).padStart(2, "0")).join("");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** Keep a check-in on the phone, then try to send it. */
export async function enqueue(visit, payload, workerId) {
  const item = {
    client_id: payload.client_id,
    visit_id: visit.id,
    elder_id: visit.elder.id,
    elder_code: visit.elder.code,
    elder_name: visit.elder.name,
    worker_id: workerId,
    payload,
    created_at: Date.now(),
    state: "waiting",
    attempts: 0,
    last_status: null,
    last_error: null,
  };
  await put("outbox", item);
  changed({ type: "queued", item });
  flush({ force: true });
  return item;
}

export async function items() {
  const list = await all("outbox");
  return list.sort((a, b) => a.created_at - b.created_at);
}

/** Send what is waiting. `force` ignores the backoff (the network may just have returned). */
export function flush({ force = false } = {}) {
  if (force) {
    retryAt = 0;
  }
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    do {
      again = false;
      if (Date.now() + EARLY_MS < retryAt) break; // backing off (timers may fire a little early)
      await exclusively(round);
    } while (again);
  })()
    .catch((error) => console.error("outbox", error))
    .finally(() => {
      running = null;
      schedule();
      changed({ type: "flushed" });
    });
  return running;
}

/** One tab at a time sends (the server would de-duplicate anyway). */
function exclusively(work) {
  if (navigator.locks && navigator.locks.request) {
    return navigator.locks.request("tanfang-outbox", work);
  }
  return work();
}

async function round() {
  const signedIn = session();
  if (!signedIn) return;
  const waiting = (await items()).filter(
    (item) => item.state === "waiting" && item.worker_id === signedIn.user.id,
  );
  let later = null; // {retryAfter} when something must be tried again later
  for (const item of waiting) {
    const { next, stop = false, retryAfter = null } = await send(item, signedIn.token);
    if (next === "later") later = { retryAfter: Math.max(retryAfter || 0, later?.retryAfter || 0) };
    if (stop) break;
  }
  if (later) backoff(later.retryAfter); // once per round, however many items failed
}

async function send(item, token) {
  changed({ type: "sending", item });
  try {
    const { data } = await api(`/visits/${item.visit_id}/checkins`, {
      method: "POST",
      body: item.payload,
      token,
    });
    await remove("outbox", item.client_id);
    failures = 0;
    retryAt = 0;
    Object.assign(status, { reachable: true, needsSignIn: false, lastSentAt: Date.now() });
    changed({ type: "sent", item, checkin: data && data.checkin });
    return { next: "next" };
  } catch (error) {
    if (error instanceof NetworkError) {
      // No answer: the others would not get one either.
      status.reachable = false;
      await note(item, null, { code: "network" });
      return { next: "later", stop: true };
    }
    if (!(error instanceof ApiError)) throw error;
    status.reachable = true;
    if (error.status === 401) {
      status.needsSignIn = true;
      await expire();
      changed({ type: "signin" });
      return { next: "stop", stop: true };
    }
    const detail = { code: error.code, message: error.message, fields: error.fields };
    if (error.status >= 500) {
      // This item may be what the server trips on: try the others, this one later.
      await note(item, error.status, detail);
      return { next: "later" };
    }
    if (RETRY_LATER.has(error.status)) {
      await note(item, error.status, detail);
      return { next: "later", stop: true, retryAfter: error.retryAfter };
    }
    await update("outbox", item.client_id, (stored) => ({
      ...stored,
      state: "attention",
      attempts: stored.attempts + 1,
      last_status: error.status,
      last_error: detail,
    }));
    changed({ type: "attention", item });
    return { next: "next" };
  }
}

function note(item, httpStatus, detail) {
  return update("outbox", item.client_id, (stored) => ({
    ...stored,
    attempts: stored.attempts + 1,
    last_status: httpStatus,
    last_error: detail,
    last_try_at: Date.now(),
  }));
}

function backoff(retryAfterSeconds) {
  failures += 1;
  const exponential = Math.min(BASE_DELAY_MS * 2 ** (failures - 1), MAX_DELAY_MS);
  let delay = exponential * (0.8 + Math.random() * 0.4);
  if (retryAfterSeconds) delay = Math.max(delay, retryAfterSeconds * 1000);
  retryAt = Date.now() + delay;
}

let scheduling = 0;

async function schedule() {
  const mine = ++scheduling;
  clearTimeout(timer);
  timer = null;
  const signedIn = session();
  if (!signedIn) return;
  const waiting = (await items()).some(
    (item) => item.state === "waiting" && item.worker_id === signedIn.user.id,
  );
  if (!waiting || mine !== scheduling) return; // nothing to do, or a later call decides
  // Backing off: try again when the delay is over; otherwise look again now and then.
  const wait = retryAt ? Math.max(0, retryAt - Date.now()) + EARLY_MS : HEARTBEAT_MS;
  timer = setTimeout(() => flush(), Math.min(wait, MAX_DELAY_MS));
}

/** Start sending: now, whenever the connection returns and whenever the app is shown. */
export function start() {
  window.addEventListener("online", () => {
    failures = 0;
    flush({ force: true });
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") flush({ force: true });
  });
  window.addEventListener("pageshow", () => flush({ force: true }));
  flush({ force: true });
}

/** The worker asks to send an item the server refused once more. */
export async function retry(clientId) {
  await update("outbox", clientId, (stored) => ({ ...stored, state: "waiting" }));
  changed({ type: "retry" });
  return flush({ force: true });
}

/** The worker deletes an item after seeing why the server refused it. */
export async function discard(clientId) {
  await remove("outbox", clientId);
  changed({ type: "discarded" });
}
