// Thin JSON client for the Sesh HTTP API. Every failure becomes an ApiError with the
// server's error code, so pages can show a human message for it (see messages.js).

/** An error answered by the API (or a network failure, code "network"). */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0 when the request never got an answer)
   * @param {string} code machine code from `{"error":{"code"}}`
   * @param {string} message server's message, for the log and as a fallback
   * @param {number|null} retryAfterS seconds to wait (rate limits), when known
   */
  constructor(status, code, message, retryAfterS = null) {
    super(message || code);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfterS = retryAfterS;
  }
}

/** Maps an HTTP status to a code when the body carried none (e.g. a proxy error page). */
function codeForStatus(status) {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'server_error';
  return 'bad_request';
}

function parseRetryAfter(header, body) {
  const fromBody = body?.error?.retry_after_s ?? body?.error?.retry_after ?? body?.retry_after_s;
  if (Number.isFinite(Number(fromBody)) && fromBody !== null) return Math.max(0, Math.ceil(Number(fromBody)));
  if (header && /^\d+$/.test(header.trim())) return Number(header.trim());
  return null;
}

/**
 * Sends one request. POSTs always carry a JSON body (`{}` when none is given): the browser
 * adds the `Origin` header the server checks against CSRF.
 * @returns {Promise<any>} the parsed JSON body (null for 204 or an empty body)
 */
export async function request(method, path, body) {
  // X-Requested-With: a header no cross-site <img> or form can send; the invite preview
  // requires it, so other sites cannot spend a party's invite budget (docs/http-api.md).
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json', 'X-Requested-With': 'sesh' } };
  if (method !== 'GET' && method !== 'HEAD') {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body ?? {});
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (cause) {
    throw new ApiError(0, 'network', `network error: ${cause?.message ?? cause}`);
  }
  const text = await response.text().catch(() => '');
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const code = data?.error?.code ?? codeForStatus(response.status);
    const message = data?.error?.message ?? `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, code, message, parseRetryAfter(response.headers.get('Retry-After'), data));
  }
  return data;
}

export const getJson = (path) => request('GET', path);
export const postJson = (path, body) => request('POST', path, body);
export const patchJson = (path, body) => request('PATCH', path, body);
export const deleteJson = (path) => request('DELETE', path);

/**
 * The signed-in user, or null when logged out. Asks `/api/me/login`, which answers 200 either
 * way: a logged-out visit logs no failed request. A spectator (no Spotify login, a name only)
 * counts as signed in for the session they watch: `spectating` is that session's id and
 * `loggedIn` (a Spotify login) is false. `owner`: the operator of this Sesh.
 * @returns {Promise<{id: string, display_name: string, needs_reauth: boolean, loggedIn: boolean,
 *   spectating: string|null, owner: boolean}|null>}
 */
export async function currentUser() {
  const status = await getJson('/api/me/login');
  const spectating = typeof status?.spectating === 'string' && status.spectating ? status.spectating : null;
  if (!status?.logged_in && !spectating) return null;
  return {
    id: status.id,
    display_name: status.display_name,
    needs_reauth: Boolean(status.needs_reauth),
    // The server says `logged_in` for a spectator too; only a Spotify login has no `spectating`.
    loggedIn: Boolean(status.logged_in) && !spectating,
    spectating,
    owner: status.owner === true,
  };
}

/** Whether `me` watches without a Spotify login (a spectator, and nothing more). */
export function isSpectatorOnly(me) {
  return Boolean(me?.spectating);
}

/** The login URL that brings the user back to `path` afterwards. */
export function loginUrl(path = location.pathname) {
  return `/auth/login?next=${encodeURIComponent(path)}`;
}
