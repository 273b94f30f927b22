// The field console: wires the API, the live connection, the store and the views. docs/console.md describes it.
import { $, el, fill, isoToMicros } from './dom.js';
import { Api, AuthError } from './api.js';
import { LiveConnection } from './live.js';
import { Store, KEEP_SECONDS } from './store.js';
import { DroneView } from './views/drone.js';
import { PilotView } from './views/pilot.js';
import { ChartsView } from './views/charts.js';
import { SensorsView } from './views/sensors.js';
import { GatewayView } from './views/gateway.js';
import { EventsView, fromLive, fromRecord } from './views/events.js';

const FULL_RESOLUTION_S = 120;   // the last 2 minutes of history come at full rate, older at chart resolution
const THINNED_EVERY_MS = 450;    // 15 min over ~2000 points
const RENDER_MS = 100;           // cards and panels redraw at most 10 times a second
const VIEWS = ['overview', 'charts', 'sensors', 'gateway', 'events'];

const api = new Api();
const store = new Store();
const live = new LiveConnection(() => api.token);
const views = {
  drone: new DroneView(store),
  pilot: new PilotView(store, live, api),
  charts: new ChartsView(store),
  sensors: new SensorsView(store),
  gateway: new GatewayView(store),
  events: new EventsView(store),
};
let currentView = 'overview';
let authBlocked = false;
let renderTimer = null;
let firstLive = false;

// ---- theme ----
const THEME_KEY = 'edge-gateway.theme';
function applyTheme(high) {
  document.documentElement.classList.toggle('high-contrast', high);
  $('theme-toggle').setAttribute('aria-pressed', String(high));
}
applyTheme(localStorage.getItem(THEME_KEY) === 'high');
$('theme-toggle').addEventListener('click', () => {
  const high = !document.documentElement.classList.contains('high-contrast');
  localStorage.setItem(THEME_KEY, high ? 'high' : 'normal');
  applyTheme(high);
  scheduleRender();
});

// ---- views ----
function showView(name) {
  if (!VIEWS.includes(name)) name = 'overview';
  currentView = name;
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== name;
  for (const tab of document.querySelectorAll('.tab')) tab.setAttribute('aria-selected', String(tab.dataset.view === name));
  views.charts.setVisible(name === 'charts');
  if (location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`);
  if (name === 'gateway') pollGateway();
  scheduleRender();
}
for (const tab of document.querySelectorAll('.tab')) tab.addEventListener('click', () => showView(tab.dataset.view));

// ---- rendering ----
function scheduleRender() {
  if (renderTimer !== null) return;
  renderTimer = setTimeout(() => { renderTimer = null; render(); }, RENDER_MS);
}

function render() {
  views.pilot.render();
  renderEmergencyBar();
  if (document.hidden) return;
  if (currentView === 'overview') { views.drone.renderSwitcher(); views.drone.render(); }
  if (currentView === 'sensors') views.sensors.render();
  if (currentView === 'gateway') views.gateway.render();
  if (currentView === 'events') views.events.render();
}

/** One emergency button per flying drone, named; rebuilt only when the set of flying drones changes. */
let flyingKey = '';
function renderEmergencyBar() {
  const flying = [...store.drones.values()].filter((d) => d.status?.is_flying).map((d) => d.id);
  $('emergency-bar').hidden = flying.length === 0;
  const key = flying.join('\n');
  if (key !== flyingKey) {
    flyingKey = key;
    fill($('emergency-buttons'), flying.map((id, i) => el('button', {
      type: 'button', class: 'emergency', id: i === 0 ? 'emergency' : undefined, 'data-drone': id, 'aria-keyshortcuts': 'X',
      onclick: () => views.pilot.emergency(id),
    }, flying.length === 1 ? 'EMERGENCY — stop motors ' : `EMERGENCY — stop ${id} `, el('kbd', { text: 'X' }))));
  }
  for (const button of document.querySelectorAll('#emergency-buttons button')) {
    const why = views.pilot.reasonFor('emergency', button.dataset.drone);
    button.disabled = why !== null;
    button.title = why ?? `Stops the motors of ${button.dataset.drone} at once: it falls.`;
  }
}

/** X: the selected drone if it flies, else the only flying one; with several flying and none selected, ask to click. */
function emergencyKey() {
  const flying = [...store.drones.values()].filter((d) => d.status?.is_flying).map((d) => d.id);
  const target = flying.includes(store.selected) ? store.selected : flying.length === 1 ? flying[0] : null;
  if (target) { views.pilot.emergency(target); return; }
  if (flying.length > 1) $('emergency-reason').textContent = 'Several drones are flying: click the one to stop.';
  else views.pilot.emergency(store.selected); // nothing known to fly: still send it to the selected drone
}

// ---- connection state in the header ----
function setConn(text, cls) {
  const pill = $('conn');
  pill.textContent = text;
  pill.className = `pill ${cls}`;
}

function setWho() {
  const role = store.role ?? store.gateway?.you?.role ?? '–';
  const via = store.gateway?.you?.via;
  $('who').textContent = `role: ${role}${via ? ` (${via.replace('_', ' ')})` : ''}`;
}

function showAuthProblem(message) {
  authBlocked = true;
  live.stop(); // no retries until a new token is entered
  clearInterval(countdown);
  const box = $('auth-message');
  box.hidden = false;
  box.textContent = api.token
    ? `The gateway refused this token: ${message}. Check it and enter it again (Token button).`
    : `This gateway needs a token: ${message}. Enter it with the Token button.`;
  setConn('not signed in', 'bad');
  $('reconnect-banner').hidden = true;
}
api.onAuthFailure = (message) => showAuthProblem(message);

let countdown = null;
live.addEventListener('down', (e) => {
  for (const d of store.drones.values()) d.controlFetchedAt = 0;
  scheduleRender();
  if (e.detail.auth) { showAuthProblem('the live connection was refused'); return; }
  setConn('reconnecting', 'warn');
  const banner = $('reconnect-banner');
  banner.hidden = false;
  clearInterval(countdown);
  const tick = () => {
    const left = Math.max(0, Math.ceil((e.detail.retryAt - Date.now()) / 1000));
    $('reconnect-text').textContent = `Connection to the gateway lost (${e.detail.why}). Reconnecting in ${left} s (attempt ${e.detail.attempt})…`;
  };
  tick();
  countdown = setInterval(tick, 500);
});
$('reconnect-now').addEventListener('click', () => live.retryNow());

live.addEventListener('open', async (e) => {
  const info = e.detail;
  clearInterval(countdown);
  $('reconnect-banner').hidden = true;
  $('auth-message').hidden = true;
  authBlocked = false;
  store.role = info.role;
  store.identity = info.identity;
  store.clockOffsetMs = info.server_time * 1000 - Date.now();
  store.openedAt = info.server_time;
  for (const id of info.drone_ids) store.drone(id);
  views.events.renderDroneOptions();
  setConn('live', 'ok');
  setWho();
  live.setPilotSilence(store.gateway?.failsafe?.pilot_silence_s);
  // Hold live chart points until the history up to now is in, then append them: no gap, no duplicate.
  const generation = store.hold();
  live.send({ type: 'subscribe', channel: 'status_updates', drone_id: '*' });
  live.send({ type: 'subscribe', channel: 'events', drone_id: '*' });
  live.send({ type: 'subscribe', channel: 'sensors', max_hz: 10 });
  try {
    await Promise.all([loadGateway(), refreshDrones(), refreshSensors()]);
    live.setPilotSilence(store.gateway?.failsafe?.pilot_silence_s);
    // Let the records received just before the subscription reach the store (group commit, 20 ms by default).
    await sleep(250);
    if (generation !== store.generation) return;
    await loadHistory(info.server_time);
    await closeHistoryGaps(generation);
  } catch (err) {
    if (!(err instanceof AuthError)) console.warn('loading history failed', err);
  } finally {
    store.release(generation);
    scheduleRender();
  }
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A state received just before the subscription may be committed only after the history was read. While the
 * newest stored state is older than the first held live one, read again (a few times, briefly); a real pause
 * in the drone's state (link lost) ends this at the first read that brings nothing.
 */
async function closeHistoryGaps(generation) {
  for (const d of store.drones.values()) {
    for (let round = 0; round < 4 && generation === store.generation; round++) {
      const firstHeld = store.firstHeldTime(d.id);
      if (!Number.isFinite(firstHeld) || d.ring.lastTime >= firstHeld - 0.0005) break;
      const since = Number.isFinite(d.ring.lastTime) ? d.ring.lastTime * 1000 - 1 : store.now() - KEEP_SECONDS * 1000;
      const added = await readStream(`drone/${d.id}/state`, since, (r) => store.applyStateRecord(d.id, r));
      if (added === 0 && round > 0) break;
      await sleep(300);
    }
  }
}

live.addEventListener('auth', (e) => showAuthProblem(e.detail));

live.addEventListener('message', (e) => {
  const m = e.detail;
  switch (m.type) {
    case 'status_update':
      if (!firstLive) { firstLive = true; performance.mark('edge:first-live'); } // read by the console benchmark
      store.applyStatus(m.drone_id, m.data);
      scheduleRender();
      break;
    case 'sensor_update':
      store.applySensor(m.data);
      if (currentView === 'sensors') scheduleRender();
      break;
    case 'event':
      if (store.addEvent(fromLive(m)) && currentView === 'events') scheduleRender();
      if (m.event === 'control_changed' || m.event === 'failsafe') refreshDrones().catch(() => {});
      break;
    case 'control_granted':
    case 'control_released':
      refreshDrones().catch(() => {});
      break;
    default:
      break;
  }
});

// ---- loading from the API ----
async function loadGateway() {
  const { status, body } = await api.get('/api/gateway');
  if (status === 200 && body) {
    store.gateway = { ...body, fetchedAt: Date.now() };
    store.clockOffsetMs = body.server_time * 1000 - Date.now();
    setWho();
  }
}

async function refreshDrones() {
  const { status, body } = await api.get('/api/drones');
  if (status !== 200 || !body) return;
  for (const item of body.drones) {
    const d = store.drone(item.drone_id);
    d.address = item.address;
    d.control = item.control ?? { holder: item.controlled_by };
    d.controlFetchedAt = Date.now();
    d.failsafeActive = item.failsafe_active;
    store.applyStatus(item.drone_id, item.status, false);
  }
  scheduleRender();
}

async function refreshSensors() {
  const { status, body } = await api.get('/api/sensors');
  if (status !== 200 || !body) return;
  for (const entry of body.sensors) store.applySensor(entry, false);
}

/** Reads one stream's history since `sinceMs`: thinned before the last two minutes, every record after. */
async function readStream(stream, sinceMs, apply) {
  const fullFrom = store.now() - FULL_RESOLUTION_S * 1000;
  let after = 0;
  let count = 0;
  if (sinceMs < fullFrom) {
    let url = `/api/telemetry?stream=${encodeURIComponent(stream)}&since_ms=${Math.floor(sinceMs)}&every_ms=${THINNED_EVERY_MS}&limit=1000`;
    for (let page = 0; page < 20; page++) {
      const { status, body } = await api.get(url);
      if (status !== 200 || !body) return count;
      let reached = false;
      for (const r of body.records) {
        if (Date.parse(r.wall_clock) >= fullFrom) { reached = true; break; }
        apply(r);
        count++;
      }
      if (reached || !body.more) break;
      after = body.next_after_seq;
      url = `/api/telemetry?stream=${encodeURIComponent(stream)}&after_seq=${after}&every_ms=${THINNED_EVERY_MS}&limit=1000`;
    }
  }
  let url = `/api/telemetry?stream=${encodeURIComponent(stream)}&since_ms=${Math.floor(Math.max(sinceMs, fullFrom))}&limit=1000`;
  for (let page = 0; page < 200; page++) {
    const { status, body } = await api.get(url);
    if (status !== 200 || !body) return count;
    for (const r of body.records) { apply(r); count++; }
    if (!body.more) break;
    url = `/api/telemetry?stream=${encodeURIComponent(stream)}&after_seq=${body.next_after_seq}&limit=1000`;
  }
  return count;
}

/**
 * History from the buffer: on first load the last 15 minutes, after a reconnect the gap since the last point.
 * Events: each stream from where its history last ended, up to the moment this connection opened (`openedAt`,
 * server time); everything after that arrives live.
 */
async function loadHistory(openedAt) {
  const keepFrom = store.now() - KEEP_SECONDS * 1000;
  const jobs = [];
  for (const d of store.drones.values()) {
    const last = d.ring.lastTime;
    const since = Number.isFinite(last) ? Math.max(keepFrom, last * 1000 - 1) : keepFrom;
    jobs.push(readStream(`drone/${d.id}/state`, since, (r) => store.applyStateRecord(d.id, r)));
    for (const kind of ['events', 'commands']) jobs.push(readEvents(`drone/${d.id}/${kind}`, keepFrom, openedAt));
  }
  for (const id of store.sensors.keys()) {
    const ring = [...store.sensorRings.entries()].find(([k]) => k.startsWith(`${id}.`))?.[1];
    const last = ring?.lastTime;
    const since = Number.isFinite(last) ? Math.max(keepFrom, last * 1000 - 1) : keepFrom;
    jobs.push(readStream(`sensor/${id}`, since, (r) => {
      if (r.payload) store.applyReading(id, r.payload, isoToMicros(r.wall_clock) / 1e6);
    }));
  }
  await Promise.all(jobs);
}

const eventCursors = new Map(); // stream → next after_seq: each stored event is read once, whatever the reconnects

async function readEvents(stream, keepFromMs, untilS) {
  let url = eventCursors.has(stream)
    ? `/api/telemetry?stream=${encodeURIComponent(stream)}&after_seq=${eventCursors.get(stream)}&limit=500`
    : `/api/telemetry?stream=${encodeURIComponent(stream)}&since_ms=${Math.floor(keepFromMs)}&limit=500`;
  for (let page = 0; page < 20; page++) {
    const { status, body } = await api.get(url);
    if (status !== 200 || !body) return;
    for (const r of body.records) {
      if (Date.parse(r.wall_clock) / 1000 >= untilS) return; // from here on the live stream has it
      store.addEvent(fromRecord(r));
      eventCursors.set(stream, r.seq);
    }
    if (!body.more) return;
    url = `/api/telemetry?stream=${encodeURIComponent(stream)}&after_seq=${body.next_after_seq}&limit=500`;
  }
}

// ---- polling what has no live channel ----
let gatewayPoll = null;
async function pollGateway() {
  if (authBlocked) return;
  const tasks = [
    api.get('/healthz').then(({ status, body }) => {
      store.health = body && typeof body === 'object' && body.status ? body : { error: `GET /healthz answered ${status}` };
    }),
    api.get('/api/buffer').then(({ status, body }) => {
      store.buffer = status === 200 ? { ...body, fetchedAt: Date.now() } : { error: body?.error ?? `GET /api/buffer answered ${status}` };
    }),
    api.get('/api/upstream/dead-letters?limit=50').then(({ status, body }) => {
      store.deadLetters = status === 200 ? body : { error: body?.error ?? `GET /api/upstream/dead-letters answered ${status}` };
    }),
    loadGateway(),
  ];
  await Promise.allSettled(tasks);
  scheduleRender();
}

function startPolling() {
  clearInterval(gatewayPoll);
  // Control and the failsafe countdown every 2 s; health and buffer only while their view is open.
  gatewayPoll = setInterval(() => {
    if (authBlocked || document.hidden) return;
    // Over HTTP even while the WebSocket is down: the emergency bar must know what flies.
    refreshDrones().catch(() => {});
    if (live.isOpen && currentView === 'gateway') pollGateway();
  }, 2000);
  setInterval(() => scheduleRender(), 1000); // ages and countdowns
}

// ---- token ----
$('token-toggle').addEventListener('click', () => {
  const panel = $('token-panel');
  panel.hidden = !panel.hidden;
  $('token-toggle').setAttribute('aria-expanded', String(!panel.hidden));
  if (!panel.hidden) $('token-input').focus();
});
$('token-panel').addEventListener('submit', (e) => {
  e.preventDefault();
  api.token = $('token-input').value.trim();
  $('token-input').value = '';
  $('token-panel').hidden = true;
  $('token-toggle').setAttribute('aria-expanded', 'false');
  restart();
});
$('token-clear').addEventListener('click', () => {
  api.token = '';
  $('token-input').value = '';
  restart();
});

function restart() {
  authBlocked = false;
  $('auth-message').hidden = true;
  store.role = null;
  live.stop();
  setConn('connecting…', '');
  // The WebSocket opens at once, beside the first HTTP calls (a refused token stops both, once).
live.start();
loadGateway().catch(() => {});
refreshDrones().catch(() => {});
}

// ---- keyboard ----
const KEYS = {
  t: () => views.pilot.ask('takeoff'), l: () => views.pilot.ask('land'), h: () => views.pilot.ask('stop'),
  c: () => views.pilot.ask('take_control'),
  ArrowUp: () => views.pilot.ask('move_forward'), ArrowDown: () => views.pilot.ask('move_back'),
  ArrowLeft: () => views.pilot.ask('move_left'), ArrowRight: () => views.pilot.ask('move_right'),
  PageUp: () => views.pilot.ask('move_up'), PageDown: () => views.pilot.ask('move_down'),
  ',': () => views.pilot.ask('rotate_counter_clockwise'), '.': () => views.pilot.ask('rotate_clockwise'),
  1: () => { showView('overview'); return true; }, 2: () => { showView('charts'); return true; },
  3: () => { showView('sensors'); return true; }, 4: () => { showView('gateway'); return true; }, 5: () => { showView('events'); return true; },
};
document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
  const target = e.target;
  // Emergency works from anywhere, a number field or a select included; only the token field types an x.
  if ((e.key === 'x' || e.key === 'X') && target?.id !== 'token-input') {
    e.preventDefault();
    emergencyKey();
    return;
  }
  if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement) return;
  if (views.pilot.pendingConfirm) return;
  const action = KEYS[e.key];
  // A key that is not allowed now keeps its normal meaning (arrows and page keys scroll).
  if (action && action()) e.preventDefault();
});

document.addEventListener('visibilitychange', () => { if (!document.hidden) scheduleRender(); });
store.addEventListener('selected', () => scheduleRender());

// For the browser tests and the benchmark: read-only views of what the page holds.
window.edgeConsole = {
  store,
  chartStats: () => views.charts.stats(),
  stateTimes: (id) => { const r = store.drone(id).ring; return Array.from({ length: r.length }, (_, i) => r.t[r.at(i)]); },
  openedAt: () => store.openedAt,
};

showView(location.hash.slice(1) || 'overview');
setConn('connecting…', '');
startPolling();
// The WebSocket opens at once, beside the first HTTP calls (a refused token stops both, once).
live.start();
loadGateway().catch(() => {});
refreshDrones().catch(() => {});
