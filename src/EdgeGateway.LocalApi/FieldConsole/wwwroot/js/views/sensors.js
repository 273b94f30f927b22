// Sensors: the GPS fix in detail, a track drawn without map tiles (local flat projection around the home point,
// scale bar, north arrow, home and current position), and every sensor's health with the reason when it is not
// healthy. A reading older than the sensor's staleness limit is shown as stale.
import { $, el, fill, tile, fmt, age } from '../dom.js';

const EARTH_M_PER_DEG_LAT = 110574;
const EARTH_M_PER_DEG_LON_EQ = 111320;

function readingAge(store, entry) {
  if (!entry?.last_reading_at) return null;
  return (store.now() - Date.parse(entry.last_reading_at)) / 1000;
}

function sensorStale(store, entry) {
  return !entry || entry.health !== 'healthy' || entry.link !== 'open' || (readingAge(store, entry) ?? Infinity) > 5;
}

export class SensorsView {
  constructor(store) {
    this.store = store;
    this.gpsCard = $('gps-card');
    this.list = $('sensor-list');
    this.canvas = $('track');
    this.caption = $('track-caption');
  }

  gps() {
    for (const s of this.store.sensors.values()) if (s.last_reading?.type === 'gps' || s.type === 'nmea' || s.type === 'gpsd') return s;
    return null;
  }

  render() {
    const g = this.gps();
    if (!g) {
      fill(this.gpsCard, el('h2', { text: 'GPS' }), el('p', { class: 'muted', text: 'No GPS sensor is configured.' }));
    } else {
      const r = g.last_reading || {};
      const stale = sensorStale(this.store, g);
      fill(this.gpsCard,
        el('h2', { text: `GPS · ${g.id}` }),
        el('p', { 'data-testid': 'gps-health', class: `state-${g.health}`, text: `${g.health}${stale ? ' · stale' : ''}` },
          el('span', { class: 'muted', text: ` · last reading ${age(readingAge(this.store, g))} ago` })),
        g.health !== 'healthy' ? el('p', { class: 'reason', text: g.summary }) : null,
        el('div', { class: 'kv' },
          tile('Latitude', fmt(r.lat_deg, 6, '°'), { stale }),
          tile('Longitude', fmt(r.lon_deg, 6, '°'), { stale }),
          tile('Fix', r.has_fix ? `${r.fix_mode ?? ''} ${r.fix_quality ?? ''}`.trim() || 'yes' : 'no fix', { stale }),
          tile('Satellites', r.satellites_used === undefined ? '–' : `${r.satellites_used}${r.satellites_in_view !== undefined ? ` / ${r.satellites_in_view}` : ''}`, { stale }),
          tile('HDOP', fmt(r.hdop, 1), { stale }),
          tile('Ground speed', fmt(r.speed_mps, 1, 'm/s'), { stale }),
          tile('Altitude MSL', fmt(r.alt_msl_m, 1, 'm'), { stale }),
          tile('GPS time', r.gps_time ? new Date(r.gps_time).toISOString().slice(11, 19) + ' UTC' : '–', { stale, title: r.gps_time_valid ? 'valid' : 'not valid' })));
    }
    fill(this.list, [...this.store.sensors.values()].map((s) => this.sensorCard(s)));
    this.drawTrack();
  }

  sensorCard(s) {
    const stale = sensorStale(this.store, s);
    const r = s.last_reading || {};
    const values = [];
    if (r.type === 'range') values.push(tile('Distance', fmt(r.distance_m, 2, 'm'), { stale }), tile('Strength', fmt(r.strength), { stale }));
    if (r.values) for (const [k, v] of Object.entries(r.values)) values.push(tile(k, fmt(v, 2), { stale }));
    if (r.type === 'gps') values.push(tile('Satellites', fmt(r.satellites_used), { stale }));
    return el('article', { class: 'card', 'data-sensor': s.id, 'aria-label': `sensor ${s.id}` },
      el('h3', { text: `${s.id} · ${s.type}` }),
      el('p', { 'data-testid': 'sensor-health', class: `state-${s.health}`, text: `${s.health}${stale ? ' · stale' : ''}` },
        el('span', { class: 'muted', text: ` · ${s.link} · last reading ${age(readingAge(this.store, s))} ago` })),
      el('p', { 'data-testid': 'sensor-reason', class: s.health === 'healthy' ? 'muted small' : 'reason', text: s.summary ?? '' }),
      el('div', { class: 'kv' }, values));
  }

  /** The track on a flat local projection: fine for the few kilometres a drone flies. */
  drawTrack() {
    const points = this.store.track;
    const canvas = this.canvas;
    const ctx = canvas.getContext('2d');
    const w = canvas.width; const h = canvas.height;
    const css = getComputedStyle(document.documentElement);
    const fg = css.getPropertyValue('--text').trim() || '#fff';
    const accent = css.getPropertyValue('--accent').trim() || '#5cc8ff';
    const warn = css.getPropertyValue('--warn').trim() || '#ffc145';
    ctx.clearRect(0, 0, w, h);
    if (points.length === 0) { this.caption.textContent = 'waiting for a GPS fix…'; return; }
    const home = this.store.home ?? points[0];
    const mPerLon = EARTH_M_PER_DEG_LON_EQ * Math.cos((home.lat * Math.PI) / 180);
    const xy = (p) => [(p.lon - home.lon) * mPerLon, (p.lat - home.lat) * EARTH_M_PER_DEG_LAT];
    let minX = -5; let maxX = 5; let minY = -5; let maxY = 5;
    for (const p of points) {
      const [x, y] = xy(p);
      minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
    }
    const margin = 30;
    const scale = Math.min((w - 2 * margin) / (maxX - minX), (h - 2 * margin) / (maxY - minY));
    const cx = (minX + maxX) / 2; const cy = (minY + maxY) / 2;
    const px = (p) => { const [x, y] = xy(p); return [w / 2 + (x - cx) * scale, h / 2 - (y - cy) * scale]; };
    ctx.strokeStyle = accent; ctx.lineWidth = 2.5; ctx.beginPath();
    points.forEach((p, i) => { const [x, y] = px(p); if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y); });
    ctx.stroke();
    const [hx, hy] = px(home);
    ctx.fillStyle = fg; ctx.fillRect(hx - 6, hy - 6, 12, 12);
    ctx.font = '14px system-ui, sans-serif'; ctx.fillText('H', hx + 9, hy - 8);
    const current = points[points.length - 1];
    const [x, y] = px(current);
    ctx.fillStyle = warn; ctx.beginPath(); ctx.arc(x, y, 8, 0, Math.PI * 2); ctx.fill();
    ctx.strokeStyle = '#000'; ctx.lineWidth = 1.5; ctx.stroke();
    // Scale bar: the largest 1/2/5 × 10^n metres that fits in a quarter of the width.
    const target = (w / 4) / scale;
    const pow = 10 ** Math.floor(Math.log10(target));
    const nice = [5, 2, 1].map((m) => m * pow).find((m) => m <= target) ?? pow;
    const barPx = nice * scale;
    ctx.strokeStyle = fg; ctx.fillStyle = fg; ctx.lineWidth = 3;
    ctx.beginPath(); ctx.moveTo(12, h - 14); ctx.lineTo(12 + barPx, h - 14); ctx.stroke();
    ctx.fillText(nice >= 1000 ? `${nice / 1000} km` : `${nice} m`, 12, h - 22);
    // North arrow (the projection keeps north up).
    ctx.beginPath(); ctx.moveTo(w - 24, 14); ctx.lineTo(w - 32, 38); ctx.lineTo(w - 16, 38); ctx.closePath(); ctx.fill();
    ctx.fillText('N', w - 29, 54);
    const [dx, dy] = xy(current);
    this.caption.textContent = `${points.length} fixes · home ${home.lat.toFixed(6)}, ${home.lon.toFixed(6)} · now ${Math.hypot(dx, dy).toFixed(1)} m from home`;
    this.canvas.dataset.points = String(points.length);
  }
}
