// HTTP calls to the gateway's own API, with the tab's token (if any) as a Bearer header.

const TOKEN_KEY = 'edge-gateway.token';

export class AuthError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

export class Api {
  constructor() {
    this.onAuthFailure = () => {};
  }

  /** The token lives in this tab's sessionStorage only: gone when the tab closes, never in a URL. */
  get token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  }

  headers(extra = {}) {
    const h = { Accept: 'application/json', ...extra };
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    return h;
  }

  /** GET or POST JSON. Resolves with {status, body}; a 401 also raises AuthError (after telling onAuthFailure). */
  async request(path, { method = 'GET', body, signal, timeoutMs = 10000 } = {}) {
    // Every request has a deadline: a hung request must not hold the page (or its chart history) forever.
    const deadline = AbortSignal.timeout(timeoutMs);
    const init = {
      method, headers: this.headers(body ? { 'Content-Type': 'application/json' } : {}), cache: 'no-store',
      signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
    };
    if (body) init.body = JSON.stringify(body);
    const response = await fetch(path, init);
    let json = null;
    try { json = await response.json(); } catch { json = null; }
    if (response.status === 401) {
      const message = (json && (json.error || json.message)) || 'the gateway needs a valid token';
      this.onAuthFailure(message);
      throw new AuthError(message, 401);
    }
    return { status: response.status, body: json };
  }

  async get(path, options) { return this.request(path, options); }

  async execute(action, parameters = {}, droneId = null, timeoutMs = 10000) {
    const body = { action, parameters };
    if (droneId) body.drone_id = droneId;
    return this.request('/api/drone/execute', { method: 'POST', body, timeoutMs });
  }
}
