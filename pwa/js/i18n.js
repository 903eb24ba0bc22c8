// Strings in zh_CN and en, one JSON file per locale served with the app (and cached by the
// service worker, so they work offline). The worker's locale comes from their account.

export const LOCALES = ["zh_CN", "en"];
let strings = {};
let current = "zh_CN";

export function guessLocale() {
  for (const tag of navigator.languages || [navigator.language || ""]) {
    const lower = tag.toLowerCase();
    if (lower.startsWith("zh")) return "zh_CN";
    if (lower.startsWith("en")) return "en";
  }
  return "zh_CN";
}

export async function setLocale(locale) {
  const wanted = LOCALES.includes(locale) ? locale : "zh_CN";
  if (wanted === current && Object.keys(strings).length) return;
  const response = await fetch(`/app/i18n/${wanted}.json`);
  strings = await response.json();
  current = wanted;
  document.documentElement.lang = wanted === "en" ? "en" : "zh-CN";
  document.title = t("app.title");
}

export function locale() {
  return current;
}

export function bcp47() {
  return current === "en" ? "en-GB" : "zh-CN";
}

/** The string for `key`, with `{name}` replaced from `params`. */
export function t(key, params = {}) {
  const text = strings[key];
  if (text === undefined) return key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** A count: `key.one` for 1 when the locale has it, else `key.other`. */
export function tn(key, n, params = {}) {
  const one = `${key}.one`;
  const chosen = n === 1 && strings[one] !== undefined ? one : `${key}.other`;
  return t(chosen, { n, ...params });
}

export function formatDate(isoDate) {
  if (!isoDate) return "";
  const [y, m, d] = isoDate.slice(0, 10).split("-").map(Number);
  return new Intl.DateTimeFormat(bcp47(), { month: "short", day: "numeric", timeZone: "UTC" }).format(
    new Date(Date.UTC(y, m - 1, d)),
  );
}

export function formatTime(isoOrMs) {
  if (!isoOrMs) return "";
  return new Intl.DateTimeFormat(bcp47(), {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  }).format(new Date(isoOrMs));
}

export function formatDistance(metres) {
  if (metres === null || metres === undefined) return "";
  if (metres < 1000) return t("distance.m", { n: Math.round(metres) });
  return t("distance.km", { n: (metres / 1000).toFixed(metres < 10000 ? 1 : 0) });
}

/** A phone number as people read it: +8613912345678 -> 139 1234 5678. */
export function formatPhone(phone) {
  const mainland = /^\+86(1\d{2})(\d{4})(\d{4})$/.exec(phone || "");
  return mainland ? `${mainland[1]} ${mainland[2]} ${mainland[3]}` : phone || "";
}
