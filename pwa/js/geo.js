// The phone's position. Never required: a check-in without a position is still saved.

export function supported() {
  return "geolocation" in navigator;
}

/** Whether the worker already allowed or refused location ('granted', 'denied', 'prompt'). */
export async function permission() {
  try {
    const status = await navigator.permissions.query({ name: "geolocation" });
    return status.state;
  } catch {
    return "prompt";
  }
}

function fix(position) {
  return {
    lat: position.coords.latitude,
    lon: position.coords.longitude,
    accuracy: position.coords.accuracy,
    at: position.timestamp,
  };
}

/** One position, or {error: 'denied'|'unavailable'} after `timeout` ms. */
export function currentPosition({ timeout = 10000, maximumAge = 60000, high = false } = {}) {
  if (!supported()) return Promise.resolve({ error: "unavailable" });
  return new Promise((resolve) => {
    navigator.geolocation.getCurrentPosition(
      (position) => resolve(fix(position)),
      (error) => resolve({ error: error.code === 1 ? "denied" : "unavailable" }),
      { enableHighAccuracy: high, timeout, maximumAge },
    );
  });
}

/** Follow the position while a form is open; returns a function that stops. */
export function watch(onFix, onError) {
  if (!supported()) {
    onError("unavailable");
    return () => {};
  }
  const id = navigator.geolocation.watchPosition(
    (position) => onFix(fix(position)),
    (error) => onError(error.code === 1 ? "denied" : "unavailable"),
    { enableHighAccuracy: true, timeout: 20000, maximumAge: 30000 },
  );
  return () => navigator.geolocation.clearWatch(id);
}

/** Great-circle distance in metres (good enough to sort and to warn; the server decides). */
export function distanceM(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h =
    Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.min(1, Math.sqrt(h)));
}

export const FAR_FROM_HOME_M = 300;
