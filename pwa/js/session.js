// Who is signed in. The bearer token is kept in this origin's IndexedDB: only scripts of
// this origin can read it, and the CSP lets no other script run here (no inline script, no
// other origin). A cookie would need CSRF protection the API does not have.
import { api } from "./api.js";
import { get, put, remove } from "./store.js";

let current = null; // {token, expires_at, user} or null
let loaded = false;

export async function loadSession() {
  if (!loaded) {
    current = (await get("kv", "session")) || null;
    loaded = true;
  }
  return current;
}

export function session() {
  return current;
}

/** The signed-in user, or the last one whose sign-in expired (to greet them and keep the
 * queue theirs). */
export async function lastUser() {
  return (current && current.user) || (await get("kv", "last_user")) || null;
}

export async function signIn(phone, secret, kind) {
  const body = kind === "otp" ? { phone, otp: secret } : { phone, pin: secret };
  const { data } = await api("/auth/token", { method: "POST", body });
  current = { token: data.token, expires_at: data.expires_at, user: data.user };
  await put("kv", current, "session");
  await put("kv", data.user, "last_user");
  return current;
}

export async function requestCode(phone) {
  await api("/auth/otp", { method: "POST", body: { phone } });
}

/** The server refused the token (expired or revoked): forget it, keep everything else. */
export async function expire() {
  if (current) await put("kv", current.user, "last_user");
  current = null;
  await remove("kv", "session");
}

export function forget() {
  current = null;
  loaded = true;
}
