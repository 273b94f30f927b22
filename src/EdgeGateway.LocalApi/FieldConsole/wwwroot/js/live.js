// The live connection: one WebSocket to /ws, re-opened with back-off when it drops, never faster than the
// back-off allows and not at all after the gateway refused the token (no retry storm). The token travels as a
// WebSocket subprotocol ("edge-gateway.bearer.<base64url>"), because a browser cannot set headers on a WebSocket
// and a token in the URL would end up in logs and history.

const PING_INTERVAL_MS = 5000;   // keeps a pilot "present" for the failsafe, and detects a dead link
const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;

function base64url(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export class LiveConnection extends EventTarget {
  /** @param {() => string} tokenProvider */
  constructor(tokenProvider) {
    super();
    this.tokenProvider = tokenProvider;
    this.socket = null;
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.nextRetryAt = 0;
    this.stopped = false;
    this.authRefused = false;
    this.pending = new Map();
    this.nextRequest = 1;
    this.info = null; // the connection_established frame
    addEventListener('online', () => this.retryNow());
  }

  get isOpen() { return this.socket !== null && this.socket.readyState === WebSocket.OPEN && this.info !== null; }

  start() {
    this.stopped = false;
    this.authRefused = false;
    this.attempt = 0;
    this.open();
  }

  /** Closes and forgets; used when the token changes (then start() again). */
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (this.socket) {
      this.socket.onclose = null;
      this.socket.close(1000, 'console closed');
      this.socket = null;
    }
    this.failPending('connection closed');
    this.info = null;
  }

  retryNow() {
    if (this.stopped || this.authRefused || this.isOpen) return;
    clearTimeout(this.retryTimer);
    this.open();
  }

  open() {
    clearTimeout(this.retryTimer);
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const protocols = ['edge-gateway'];
    const token = this.tokenProvider();
    if (token) protocols.push(`edge-gateway.bearer.${base64url(token)}`);
    let socket;
    try {
      socket = new WebSocket(`${scheme}//${location.host}/ws`, protocols);
    } catch (e) {
      this.scheduleRetry(String(e));
      return;
    }
    this.socket = socket;
    this.info = null;
    let refusedByAuth = false;
    socket.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      if (message.type === 'connection_established') {
        this.info = message;
        this.attempt = 0;
        this.dispatchEvent(new CustomEvent('open', { detail: message }));
        clearInterval(this.pingTimer);
        this.pingTimer = setInterval(() => this.send({ type: 'ping', timestamp: Date.now() }), PING_INTERVAL_MS);
        return;
      }
      if (message.type === 'error' && message.code === 'unauthorized' && this.info === null) {
        refusedByAuth = true;
        this.dispatchEvent(new CustomEvent('auth', { detail: message.message || 'the token was refused' }));
        return;
      }
      if (message.request_id !== undefined && this.pending.has(message.request_id)) {
        const { resolve } = this.pending.get(message.request_id);
        this.pending.delete(message.request_id);
        resolve(message);
        // Replies are also shown as messages (e.g. control_granted updates the panel).
      }
      this.dispatchEvent(new CustomEvent('message', { detail: message }));
    };
    socket.onclose = (event) => {
      clearInterval(this.pingTimer);
      const wasOpen = this.info !== null;
      this.info = null;
      this.socket = null;
      this.failPending('connection lost before the reply');
      if (refusedByAuth || event.code === 1008 && !wasOpen) {
        this.authRefused = true;
        this.dispatchEvent(new CustomEvent('down', { detail: { auth: true, code: event.code } }));
        return; // waits for a new token: no retry storm
      }
      if (this.stopped) return;
      this.scheduleRetry(`closed (${event.code})`);
    };
  }

  scheduleRetry(why) {
    this.attempt += 1;
    const base = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** Math.min(this.attempt - 1, 10));
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.nextRetryAt = Date.now() + delay;
    this.dispatchEvent(new CustomEvent('down', { detail: { auth: false, why, attempt: this.attempt, retryAt: this.nextRetryAt } }));
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  send(message) {
    if (!this.isOpen) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /** Sends a frame with a request_id and resolves with the reply carrying it (or rejects when the link drops). */
  request(message, timeoutMs = 30000) {
    return new Promise((resolve, reject) => {
      if (!this.isOpen) { reject(new Error('not connected to the gateway')); return; }
      const id = `c-${this.nextRequest++}`;
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) reject(new Error('no reply from the gateway in time'));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (reply) => { clearTimeout(timer); resolve(reply); },
        reject: (error) => { clearTimeout(timer); reject(error); },
      });
      this.send({ ...message, request_id: id });
    });
  }

  failPending(why) {
    for (const { reject } of this.pending.values()) reject(new Error(why));
    this.pending.clear();
  }
}
