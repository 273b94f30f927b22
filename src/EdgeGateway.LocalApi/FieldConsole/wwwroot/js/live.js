// The live connection: one WebSocket to /ws, re-opened with back-off when it drops, never faster than the
// back-off allows and not at all after the gateway refused the token (no retry storm). The token travels as a
// WebSocket subprotocol ("edge-gateway.bearer.<base64url>"), because a browser cannot set headers on a WebSocket
// and a token in the URL would end up in logs and history.
//
// A half-open socket (the phone roamed to another access point) can look open for minutes, so the connection
// watches itself: with an application ping every few seconds, a socket that brings nothing for a while is
// declared dead and replaced.

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;
const STABLE_MS = 10000;        // the back-off resets only after a connection stayed up this long
const CONNECT_TIMEOUT_MS = 10000;

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
    this.watchTimer = null;
    this.connectTimer = null;
    this.stableTimer = null;
    this.nextRetryAt = 0;
    this.stopped = true;
    this.authRefused = false;
    this.pending = new Map();
    this.nextRequest = 1;
    this.info = null; // the connection_established frame
    this.lastMessageAt = 0;
    this.pingIntervalMs = 5000;
    addEventListener('online', () => this.retryNow());
  }

  get isOpen() { return this.socket !== null && this.socket.readyState === WebSocket.OPEN && this.info !== null; }

  /** Milliseconds since the gateway last sent anything on this connection (Infinity when closed). */
  get silenceMs() { return this.isOpen ? Date.now() - this.lastMessageAt : Infinity; }

  /** The app ping keeps a pilot present for the failsafe; a third of its silence limit, at most 5 s. */
  setPilotSilence(seconds) {
    if (!Number.isFinite(seconds) || seconds <= 0) return;
    const interval = Math.max(300, Math.min(5000, (seconds * 1000) / 3));
    if (interval === this.pingIntervalMs) return;
    this.pingIntervalMs = interval;
    if (this.isOpen) {
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.send({ type: 'ping', timestamp: Date.now() }), this.pingIntervalMs);
    }
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.authRefused = false;
    this.attempt = 0;
    this.open();
  }

  /** Closes and forgets; used when the token changes (then start() again). */
  stop() {
    this.stopped = true;
    this.clearTimers();
    clearTimeout(this.retryTimer);
    this.detach(1000, 'console closed');
    this.failPending('connection closed');
  }

  retryNow() {
    if (this.stopped || this.authRefused) return;
    if (this.socket !== null) return; // open, or still connecting: one connection at a time
    clearTimeout(this.retryTimer);
    this.open();
  }

  clearTimers() {
    clearInterval(this.pingTimer);
    clearInterval(this.watchTimer);
    clearTimeout(this.connectTimer);
    clearTimeout(this.stableTimer);
  }

  /** Drops the current socket without letting its late events touch this object. */
  detach(code, reason) {
    const socket = this.socket;
    this.socket = null;
    this.info = null;
    if (!socket) return;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = null;
    try { socket.close(code, reason); } catch { /* already closing */ }
  }

  open() {
    clearTimeout(this.retryTimer);
    this.detach(1000, 'replaced');
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
    this.connectTimer = setTimeout(() => {
      if (this.socket === socket && this.info === null) this.lost(socket, 'no answer from the gateway');
    }, CONNECT_TIMEOUT_MS);
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      this.lastMessageAt = Date.now();
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      if (message.type === 'connection_established') {
        clearTimeout(this.connectTimer);
        this.info = message;
        this.stableTimer = setTimeout(() => { this.attempt = 0; }, STABLE_MS);
        this.dispatchEvent(new CustomEvent('open', { detail: message }));
        clearInterval(this.pingTimer);
        this.pingTimer = setInterval(() => this.send({ type: 'ping', timestamp: Date.now() }), this.pingIntervalMs);
        clearInterval(this.watchTimer);
        this.watchTimer = setInterval(() => {
          // Nothing at all (not even the pong) for two pings and a bit: the socket is dead even if it looks open.
          if (this.socket === socket && Date.now() - this.lastMessageAt > this.pingIntervalMs * 2 + 3000) this.lost(socket, 'the gateway stopped answering');
        }, 1000);
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
      }
      this.dispatchEvent(new CustomEvent('message', { detail: message }));
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      const wasOpen = this.info !== null;
      this.clearTimers();
      this.socket = null;
      this.info = null;
      this.failPending('connection lost before the reply');
      if (refusedByAuth || (event.code === 1008 && !wasOpen)) {
        this.authRefused = true;
        this.dispatchEvent(new CustomEvent('down', { detail: { auth: true, code: event.code } }));
        return; // waits for a new token: no retry storm
      }
      if (this.stopped) return;
      this.scheduleRetry(`closed (${event.code})`);
    };
  }

  /** The socket is dead though the browser has not noticed: drop it and reconnect with back-off. */
  lost(socket, why) {
    if (this.socket !== socket) return;
    this.clearTimers();
    this.detach(4000, why);
    this.failPending(why);
    if (!this.stopped) this.scheduleRetry(why);
  }

  scheduleRetry(why) {
    clearTimeout(this.retryTimer);
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
