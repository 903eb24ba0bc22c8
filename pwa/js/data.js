// The worker's data as the app keeps it: this month's visits (the deliberate offline copy,
// in IndexedDB) and the elder cards they opened. API answers are no-store; this is the one
// copy, and logout clears it.
import { ApiError, api } from "./api.js";
import { expire, session } from "./session.js";
import { get, put, update } from "./store.js";

export class SignInNeeded extends Error {}
/** The answer came for a sign-in that has since ended: there is nothing to do with it. */
export class Superseded extends Error {}

/** A GET for the signed-in worker: `{data, signedIn}`. An answer that arrives after they
 * signed out (or someone else signed in) is dropped (Superseded), so that nothing is
 * written back onto the phone once logout has cleared it. */
async function call(path) {
  const signedIn = session();
  if (!signedIn) throw new SignInNeeded();
  let data;
  try {
    data = (await api(path, { token: signedIn.token })).data;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      if (session() !== signedIn) throw new Superseded();
      await expire();
      throw new SignInNeeded();
    }
    throw error;
  }
  if (session() !== signedIn) throw new Superseded();
  return { data, signedIn };
}

export async function cachedVisits(userId) {
  const copy = await get("kv", "visits");
  return copy && copy.user_id === userId ? copy : null;
}

/** This month's visits from the server (the server's month), saved as the offline copy.
 * A visit moved to someone else is simply no longer in the list. */
export async function fetchVisits() {
  const { data, signedIn } = await call("/visits?status=all");
  const copy = {
    user_id: signedIn.user.id,
    month: data.month,
    fetched_at: Date.now(),
    visits: data.visits,
  };
  await put("kv", copy, "visits");
  return copy;
}

/** After the server took a check-in: the offline copy says so until the next refresh. */
export function markCheckedIn(visitId, payload) {
  return update("kv", "visits", (copy) => ({
    ...copy,
    visits: copy.visits.map((visit) =>
      visit.id === visitId && visit.status === "planned"
        ? {
            ...visit,
            outcome: payload.outcome,
            status: payload.outcome === "seen" ? "done" : visit.status,
            done_at: payload.outcome === "seen" ? payload.occurred_at : visit.done_at,
          }
        : visit,
    ),
  }));
}

/** The elder card. Its offline copy leaves the last visit's note out: notes can hold
 * health details, and the phone keeps only what a visit needs when there is no signal. */
export async function fetchCard(elderId) {
  const { card } = (await call(`/elders/${elderId}/card`)).data;
  const last = card.last_visit;
  await put("cards", {
    ...card,
    last_visit: last ? { ...last, note: null, has_note: Boolean(last.note) } : null,
    saved_at: Date.now(),
  });
  return card;
}

export function cachedCard(elderId) {
  return get("cards", elderId);
}
