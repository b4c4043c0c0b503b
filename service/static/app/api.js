// @ts-check
// The JSON API as the page calls it: the session cookie travels by itself; every write
// carries the session's CSRF token. Errors keep the field the server named.

/** @type {{csrf: string|null}} */
const session = { csrf: null };

/** @param {string|null} token */
export function setCsrf(token) { session.csrf = token; }

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {any} body
   */
  constructor(status, body) {
    super((body && body.detail) || `The server answered ${status}.`);
    this.status = status;
    this.field = body && body.field ? String(body.field) : null;
    /** @type {{field: string, message: string}[]} */
    this.errors = (body && body.errors) || (this.field ? [{ field: this.field, message: this.message }] : []);
    this.clashes = (body && body.clashes) || [];
  }
}

/**
 * @param {string} method
 * @param {string} path
 * @param {any} [body] sent as JSON, or as it is when ``type`` is given
 * @param {string} [type] the body's content type (e.g. "text/csv")
 * @returns {Promise<any>}
 */
export async function api(method, path, body, type) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  if (method !== "GET" && session.csrf) headers["X-CSRF-Token"] = session.csrf;
  /** @type {RequestInit} */
  const opts = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = type || "application/json";
    opts.body = type ? body : JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(path, opts);
  } catch {
    throw new ApiError(0, { detail: "The service cannot be reached. Check your connection and try again." });
  }
  if (r.status === 204) return null;
  const json = (r.headers.get("content-type") || "").includes("json");
  const data = json ? await r.json() : await r.text();
  if (r.status === 401 && session.csrf && !path.startsWith("/api/auth/")) {
    // The sign-in ended (expired, signed out elsewhere): sign in again, not a raw error.
    session.csrf = null;
    location.assign("/signin?ended=1");
  }
  if (!r.ok) throw new ApiError(r.status, json ? data : { detail: `The server answered ${r.status}.` });
  return data;
}

/** @param {string} pid */
export const programPath = (pid) => `/api/programs/${encodeURIComponent(pid)}`;
