// IndexedDB: the app's own storage. Everything personal the app keeps lives here (and only
// here), so that logout can clear it in one place.
//   kv      the session (token, user), the offline copy of this month's visits
//   outbox  check-ins not yet acknowledged by the server, keyed by client_id
//   cards   elder cards seen, for offline use (without notes)

const NAME = "tanfang";
const VERSION = 1;
export const STORES = ["kv", "outbox", "cards"];

let opening = null;

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(NAME, VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains("kv")) db.createObjectStore("kv");
        if (!db.objectStoreNames.contains("outbox")) {
          db.createObjectStore("outbox", { keyPath: "client_id" });
        }
        if (!db.objectStoreNames.contains("cards")) db.createObjectStore("cards", { keyPath: "id" });
      };
      request.onsuccess = () => {
        const db = request.result;
        // Another tab with a newer version: step aside instead of blocking it.
        db.onversionchange = () => {
          db.close();
          opening = null;
        };
        resolve(db);
      };
      request.onerror = () => {
        opening = null;
        reject(request.error);
      };
      request.onblocked = () => console.warn("IndexedDB upgrade blocked by another tab");
    });
  }
  return opening;
}

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run(storeNames, mode, work) {
  const db = await open();
  const tx = db.transaction(storeNames, mode);
  const finished = new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
    tx.onerror = () => reject(tx.error);
  });
  let result;
  try {
    result = await work(tx);
  } catch (error) {
    finished.catch(() => {});
    try {
      tx.abort();
    } catch {
      // already finished
    }
    throw error;
  }
  await finished; // durable before we say so
  return result;
}

export function get(store, key) {
  return run([store], "readonly", (tx) => done(tx.objectStore(store).get(key)));
}

export function put(store, value, key) {
  return run([store], "readwrite", (tx) =>
    done(key === undefined ? tx.objectStore(store).put(value) : tx.objectStore(store).put(value, key)),
  );
}

export function remove(store, key) {
  return run([store], "readwrite", (tx) => done(tx.objectStore(store).delete(key)));
}

export function all(store) {
  return run([store], "readonly", (tx) => done(tx.objectStore(store).getAll()));
}

export function count(store) {
  return run([store], "readonly", (tx) => done(tx.objectStore(store).count()));
}

/** Read one record, change it, write it back, in one transaction (no lost updates). */
export function update(store, key, change) {
  return run([store], "readwrite", async (tx) => {
    const os = tx.objectStore(store);
    const current = await done(os.get(key));
    if (current === undefined) return undefined;
    const next = change(current);
    await done(os.put(next));
    return next;
  });
}

/** Empty every store: logout. */
export function clearAll() {
  return run(STORES, "readwrite", (tx) =>
    Promise.all(STORES.map((name) => done(tx.objectStore(name).clear()))),
  );
}
