// The JSON API under /api/v1, with a bearer token and a timeout (a hanging request on a
// weak signal must not hold the queue forever).

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "error";
    this.fields = error.fields || {};
    this.retryAfter = retryAfter ? Number(retryAfter) : null;
  }
}

/** No answer from the server: offline, timed out, or the connection dropped. */
export class NetworkError extends Error {}

export async function api(path, { method = "GET", body, token, timeout = 15000 } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
      cache: "no-store",
      credentials: "omit",
      redirect: "error",
    });
  } catch (error) {
    throw new NetworkError(String(error && error.message));
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data, response.headers.get("Retry-After"));
  return { status: response.status, data };
}
