// The drone overview: one card for the selected drone (a switcher when there are several), link health with the
// age of the last state, battery against thresholds, height, ToF, attitude, speeds, temperatures, flight time.
import { $, el, fill, tile, fmt, age } from '../dom.js';

export function linkAge(store, status) {
  if (!status || !status.last_update_unix_ms) return null;
  return (store.now() - status.last_update_unix_ms) / 1000;
}

export function isStale(store, status) {
  if (!status || !status.connected) return true;
  return status.link !== 'fresh' || (linkAge(store, status) ?? Infinity) > 2;
}

export function batteryClass(store, battery) {
  if (battery === null || battery === undefined) return '';
  const min = store.gateway?.min_takeoff_battery_percent ?? 20;
  if (battery < min) return 'battery-low';
  if (battery < Math.max(min + 20, 40)) return 'battery-mid';
  return 'battery-ok';
}

export class DroneView {
  constructor(store) {
    this.store = store;
    this.card = $('drone-card');
    this.switcher = $('drone-switch');
    this.attitude = el('canvas', { width: 280, height: 280, role: 'img', 'aria-label': 'attitude' });
    this.tiles = el('div', { class: 'kv' });
    this.header = el('div');
    this.attitudeText = el('div', { class: 'small' });
    fill(this.card, el('h2', { text: 'Drone' }), this.header,
      el('div', { class: 'attitude' }, this.attitude, this.attitudeText), this.tiles);
  }

  /** Rebuilt only when the set of drones changes (a button rebuilt under the pointer would swallow the click). */
  renderSwitcher() {
    const ids = [...this.store.drones.keys()];
    const key = ids.join('\n');
    if (key !== this.switcherKey) {
      this.switcherKey = key;
      fill(this.switcher, ids.length < 2 ? [] : ids.map((id) => el('button', {
        type: 'button', 'data-drone': id, text: id,
        onclick: () => { this.store.selected = id; this.store.emit('selected', id); },
      })));
    }
    for (const b of this.switcher.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.drone === this.store.selected));
  }

  render() {
    const d = this.store.current;
    if (!d) {
      fill(this.header, el('p', { class: 'muted', text: 'No drone is configured on this gateway.' }));
      fill(this.tiles);
      return;
    }
    const s = d.status || {};
    const ageS = linkAge(this.store, s);
    const link = s.link || (s.connected ? 'fresh' : 'lost');
    const stale = isStale(this.store, s);
    fill(this.header,
      el('p', {},
        el('strong', { text: d.id }), ' ',
        el('span', { class: `link-state link-${link}`, 'data-testid': 'link', text: s.connected ? `connected (${link})` : `not connected (${link})` }),
        el('span', { class: 'muted', text: ` · last state ${ageS === null ? 'never' : age(ageS) + ' ago'}` }),
        d.address ? el('span', { class: 'muted small', text: ` · ${d.address}` }) : null),
      el('p', { 'data-testid': 'flying', text: s.is_flying ? 'Flying' : 'On the ground', class: s.is_flying ? 'link-degraded' : 'muted' }));
    const t = s.temperature_c || {};
    const sp = s.speed_dm_s || {};
    fill(this.tiles,
      tile('Battery', fmt(s.battery, 0, '%'), { stale, cls: batteryClass(this.store, s.battery) }),
      tile('Height', fmt(s.height_cm, 0, 'cm'), { stale }),
      tile('ToF', fmt(s.tof_cm, 0, 'cm'), { stale }),
      tile('Flight time', fmt(s.flight_time_s, 0, 's'), { stale }),
      tile('Speed x / y / z', `${fmt(sp.x)} / ${fmt(sp.y)} / ${fmt(sp.z)} dm/s`, { stale }),
      tile('Temperature', `${fmt(t.low)}–${fmt(t.high)} °C`, { stale }),
      tile('Barometer', fmt(s.barometer, 1), { stale }));
    this.tiles.querySelectorAll('.v')[0].dataset.testid = 'battery';
    this.tiles.querySelectorAll('.v')[1].dataset.testid = 'height';
    const a = s.attitude_deg || {};
    this.attitudeText.textContent = `pitch ${fmt(a.pitch)}° · roll ${fmt(a.roll)}° · yaw ${fmt(a.yaw)}°`;
    this.attitude.setAttribute('aria-label', `attitude: ${this.attitudeText.textContent}`);
    drawHorizon(this.attitude, a.pitch ?? 0, a.roll ?? 0, a.yaw ?? 0, stale);
  }
}

/** A small artificial horizon: the horizon shifts with pitch and turns with roll; yaw as a heading mark. */
function drawHorizon(canvas, pitch, roll, yaw, stale) {
  const ctx = canvas.getContext('2d');
  const w = canvas.width; const h = canvas.height; const r = w / 2;
  const css = getComputedStyle(document.documentElement);
  ctx.save();
  ctx.clearRect(0, 0, w, h);
  ctx.beginPath(); ctx.arc(r, r, r - 2, 0, Math.PI * 2); ctx.clip();
  ctx.translate(r, r);
  ctx.rotate((-roll * Math.PI) / 180);
  const offset = (pitch / 45) * r;
  ctx.fillStyle = stale ? '#555' : '#2f7fc1'; ctx.fillRect(-w, -h * 2 + offset, w * 2, h * 2);
  ctx.fillStyle = stale ? '#333' : '#8a5a2b'; ctx.fillRect(-w, offset, w * 2, h * 2);
  ctx.strokeStyle = '#fff'; ctx.lineWidth = 3;
  ctx.beginPath(); ctx.moveTo(-w, offset); ctx.lineTo(w, offset); ctx.stroke();
  ctx.lineWidth = 1.5;
  for (const p of [-20, -10, 10, 20]) {
    const y = offset - (p / 45) * r;
    ctx.beginPath(); ctx.moveTo(-r * 0.2, y); ctx.lineTo(r * 0.2, y); ctx.stroke();
  }
  ctx.restore();
  ctx.strokeStyle = css.getPropertyValue('--warn') || '#ffc145'; ctx.lineWidth = 5;
  ctx.beginPath(); ctx.moveTo(r * 0.45, r); ctx.lineTo(r * 0.85, r); ctx.moveTo(r * 1.15, r); ctx.lineTo(r * 1.55, r); ctx.stroke();
  ctx.fillStyle = '#fff'; ctx.font = 'bold 26px system-ui, sans-serif'; ctx.textAlign = 'center';
  ctx.fillText(`${Math.round(((yaw % 360) + 360) % 360)}°`, r, h - 18);
}
