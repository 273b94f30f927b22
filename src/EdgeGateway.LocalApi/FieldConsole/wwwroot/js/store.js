// What the console knows, in one place. Views read it; app.js feeds it from the API and the live connection.
import { SeriesRing } from './series.js';
import { isoToMicros } from './dom.js';

export const STATE_COLUMNS = ['height_cm', 'tof_cm', 'battery', 'vgx', 'vgy', 'vgz', 'speed', 'pitch', 'roll', 'yaw'];
export const KEEP_SECONDS = 15 * 60;
const MAX_EVENTS = 500;
const MAX_TRACK_POINTS = 5000;

export class Store extends EventTarget {
  constructor() {
    super();
    this.gateway = null;          // GET /api/gateway
    this.role = null;             // from connection_established (WebSocket) or /api/gateway
    this.identity = null;
    this.clockOffsetMs = 0;       // server time − browser time
    this.drones = new Map();      // id → { id, status, control, address, failsafeActive, ring }
    this.selected = null;
    this.sensors = new Map();     // id → entry of GET /api/sensors
    this.sensorRings = new Map(); // "sensor.field" → SeriesRing(['value'])
    this.track = [];              // [{t, lat, lon}] from the GPS sensor(s)
    this.events = [];             // newest last
    this.health = null;
    this.buffer = null;
    this.deadLetters = null;
    // While the history is being loaded, live chart points wait here, so they are appended after it, in order.
    // Each (re)connection holds under its own generation: only the newest one may release.
    this.holding = false;
    this.held = [];
    this.generation = 0;
    this.gpsSensor = null;        // the track follows one GPS (the first that reported a fix)
    this.home = null;             // its first fix: kept when old track points are dropped
  }

  hold() {
    this.generation += 1;
    this.holding = true;
    this.held = [];
    return this.generation;
  }

  /** Appends what was held, if `generation` is still the newest hold; returns whether it did. */
  release(generation) {
    if (generation !== this.generation) return false;
    const held = this.held;
    this.held = [];
    this.holding = false;
    for (const h of held) h.apply();
    return true;
  }

  /** The time of the first live point held for a drone (seconds), or Infinity. */
  firstHeldTime(droneId) {
    let first = Infinity;
    for (const h of this.held) if (h.drone === droneId && h.t < first) first = h.t;
    return first;
  }

  now() { return Date.now() + this.clockOffsetMs; }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  drone(id) {
    let d = this.drones.get(id);
    if (!d) {
      d = { id, status: null, control: null, address: null, failsafeActive: false, ring: new SeriesRing(STATE_COLUMNS) };
      this.drones.set(id, d);
      if (!this.selected) this.selected = id;
    }
    return d;
  }

  get current() { return this.selected ? this.drone(this.selected) : null; }

  /**
   * A status object from the API or a status_update. Only live updates (`chart`) add chart points: a polled status
   * can run ahead of the live stream, and appending it would make the live states in between look old and drop them.
   */
  applyStatus(id, status, chart = true) {
    const d = this.drone(id);
    d.status = status;
    if (chart && status && status.last_update) {
      const t = isoToMicros(status.last_update) / 1e6;
      const values = statusValues(status);
      if (this.holding) this.held.push({ drone: id, t, apply: () => this.appendState(d, t, values) });
      else this.appendState(d, t, values);
    }
  }

  appendState(d, t, values) {
    if (d.ring.append(t, values)) d.ring.dropBefore(t - KEEP_SECONDS);
  }

  /** A stored drone_state record (GET /api/telemetry) as a chart point. */
  applyStateRecord(id, record) {
    const p = record.payload;
    if (!p) return;
    const vgx = p.speed_x_dm_s; const vgy = p.speed_y_dm_s; const vgz = p.speed_z_dm_s;
    this.appendState(this.drone(id), isoToMicros(record.wall_clock) / 1e6, [
      p.height_cm, p.tof_cm, p.battery_percent, vgx, vgy, vgz, speedOf(vgx, vgy, vgz), p.pitch_deg, p.roll_deg, p.yaw_deg,
    ]);
  }

  /** A sensor entry (GET /api/sensors or sensor_update data): latest state plus numeric values for the charts. */
  applySensor(entry, chart = true) {
    if (!entry || !entry.id) return;
    this.sensors.set(entry.id, entry);
    const reading = entry.last_reading;
    if (!reading || !chart) return;
    const t = isoToMicros(entry.last_reading_at) / 1e6;
    if (!Number.isFinite(t)) return;
    if (this.holding) this.held.push({ sensor: entry.id, t, apply: () => this.applyReading(entry.id, reading, t) });
    else this.applyReading(entry.id, reading, t);
  }

  applyReading(sensorId, reading, t) {
    for (const [field, value] of numericFields(reading)) {
      const key = `${sensorId}.${field}`;
      let ring = this.sensorRings.get(key);
      if (!ring) {
        ring = new SeriesRing(['value'], 20000);
        this.sensorRings.set(key, ring);
        this.emit('sensor-series', key);
      }
      if (ring.append(t, [value])) ring.dropBefore(t - KEEP_SECONDS);
    }
    if (reading.type === 'gps' && reading.has_fix && Number.isFinite(reading.lat_deg) && Number.isFinite(reading.lon_deg)) {
      this.gpsSensor ??= sensorId;
      if (sensorId !== this.gpsSensor) return;
      this.home ??= { t, lat: reading.lat_deg, lon: reading.lon_deg };
      const last = this.track[this.track.length - 1];
      if (!last || t > last.t) {
        this.track.push({ t, lat: reading.lat_deg, lon: reading.lon_deg, sensor: sensorId });
        if (this.track.length > MAX_TRACK_POINTS) this.track.splice(0, this.track.length - MAX_TRACK_POINTS);
      }
    }
  }

  /** Adds events in time order; a duplicate of one already held (same time, kind and drone) is ignored. */
  addEvent(ev) {
    const last = this.events[this.events.length - 1];
    if (last && ev.t < last.t) {
      if (this.events.some((e) => e.key === ev.key)) return false;
      this.events.push(ev);
      this.events.sort((a, b) => a.t - b.t);
    } else {
      if (last && last.key === ev.key) return false;
      this.events.push(ev);
    }
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
    return true;
  }
}

function speedOf(x, y, z) {
  if ([x, y, z].some((v) => v === null || v === undefined)) return NaN;
  return Math.sqrt(x * x + y * y + z * z);
}

export function statusValues(s) {
  const sp = s.speed_dm_s || {};
  const at = s.attitude_deg || {};
  return [s.height_cm, s.tof_cm, s.battery, sp.x, sp.y, sp.z, speedOf(sp.x, sp.y, sp.z), at.pitch, at.roll, at.yaw];
}

/** [field, number] pairs of a sensor reading worth charting (nested "values" flattened; ids and flags skipped). */
export function numericFields(reading) {
  const out = [];
  const skip = new Set(['lat_deg', 'lon_deg', 'course_deg', 'strength', 'pdop', 'vdop']);
  for (const [k, v] of Object.entries(reading)) {
    if (typeof v === 'number' && Number.isFinite(v) && !skip.has(k)) out.push([k, v]);
  }
  if (reading.values && typeof reading.values === 'object') {
    for (const [k, v] of Object.entries(reading.values)) {
      if (typeof v === 'number' && Number.isFinite(v)) out.push([k, v]);
    }
  }
  return out;
}
