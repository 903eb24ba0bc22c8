/* The worker app's service worker: keeps the app shell for offline use.
 *
 * It never stores personal data: API responses (no-store) pass through untouched, and the
 * offline copy of visits and the queue of check-ins live in IndexedDB, written by the app.
 * It does not send check-ins either (no Background Sync: missing in WebViews); the page
 * does, on 'online', on start and on a timer.
 *
 * The server replaces SHELL below with the shell's version and file list.
 */
const SHELL = {"version": "dev", "files": []};
const PREFIX = "tanfang-shell-";
const CACHE = PREFIX + SHELL.version;
const INDEX = "/app/";

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(SHELL.files.map((url) => new Request(url, { cache: "reload" })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  // Only the shell: the API and the staff pages go to the network, uncached.
  if (url.origin !== self.location.origin || !url.pathname.startsWith(INDEX)) return;
  if (request.mode === "navigate") {
    event.respondWith(fromShell(INDEX, request));
  } else {
    event.respondWith(fromShell(request, request));
  }
});

async function fromShell(key, request) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(key, { ignoreSearch: true });
  return hit || fetch(request);
}
