// The event and command-audit stream: link changes, commands with origin and result, control changes, failsafe,
// warnings; stored ones first (from the buffer), then live. Filterable by drone and kind.
import { $, el, fill } from '../dom.js';

const KIND_OF = {
  link_up: 'link', link_down: 'link', link_health: 'link', command: 'command', command_audit: 'command',
  control_changed: 'control', failsafe: 'failsafe', warning: 'warning',
};

/** One event as the console shows it, from a live `event` frame. */
export function fromLive(m) {
  const t = Date.parse(m.at) / 1000;
  const kind = KIND_OF[m.event] ?? m.event;
  let text;
  switch (m.event) {
    case 'command': text = `${m.action}${m.command ? ` ("${m.command}")` : ''} by ${m.by} (${m.role}) → ${m.outcome}${m.reply ? ` "${m.reply}"` : ''}${m.latency_ms !== undefined && m.latency_ms !== null ? ` in ${Math.round(m.latency_ms)} ms` : ''}`; break;
    case 'control_changed': text = `control ${m.previous ?? 'nobody'} → ${m.holder ?? 'nobody'} (${m.reason})`; break;
    case 'failsafe': text = `failsafe ${m.action}: ${m.reason ?? ''}${m.land_in_s ? ` — land in ${m.land_in_s} s` : ''}`; break;
    case 'warning': text = m.message; break;
    default: text = m.previous || m.current ? `link ${m.previous ?? '?'} → ${m.current ?? '?'}` : JSON.stringify(m);
  }
  return { t, drone: m.drone_id, kind, name: m.event, text, failed: m.outcome !== undefined && m.outcome !== 'ok', key: `${m.at}|${m.event}|${m.drone_id}|${m.action ?? ''}` };
}

/** One event from a stored record (drone/<id>/events or drone/<id>/commands). */
export function fromRecord(r) {
  const p = r.payload || {};
  const t = Date.parse(r.wall_clock) / 1000;
  if (r.kind === 'command_audit') {
    const phase = p.phase ?? '';
    const text = phase === 'sent'
      ? `${p.kind ?? p.command} sent ("${p.command}") from ${p.origin}`
      : `${p.kind ?? p.command} ("${p.command}") from ${p.origin} → ${p.outcome ?? phase}${p.reply ? ` "${p.reply}"` : ''}${p.latency_ms ? ` in ${Math.round(p.latency_ms)} ms` : ''}`;
    return { t, drone: p.drone_id, kind: 'command', name: 'command', text, failed: p.outcome !== undefined && p.outcome !== 'ok', key: `rec|${r.seq}` };
  }
  const kind = KIND_OF[p.event] ?? p.event ?? r.kind;
  const text = p.health_from || p.health_to ? `${p.event}: ${p.health_from} → ${p.health_to}` : `${p.event ?? r.kind} ${p.message ?? ''}`.trim();
  return { t, drone: p.drone_id, kind, name: p.event ?? r.kind, text, failed: false, key: `rec|${r.seq}` };
}

export class EventsView {
  constructor(store) {
    this.store = store;
    this.list = $('event-list');
    this.droneFilter = $('event-drone');
    this.kindFilter = $('event-kind');
    this.droneFilter.addEventListener('change', () => this.render());
    this.kindFilter.addEventListener('change', () => this.render());
  }

  renderDroneOptions() {
    const current = this.droneFilter.value;
    fill(this.droneFilter, el('option', { value: '', text: 'all' }),
      [...this.store.drones.keys()].map((id) => el('option', { value: id, text: id, selected: id === current })));
  }

  render() {
    const drone = this.droneFilter.value;
    const kind = this.kindFilter.value;
    const shown = this.store.events.filter((e) => (!drone || e.drone === drone) && (!kind || e.kind === kind)).slice(-200).reverse();
    if (shown.length === 0) { fill(this.list, el('li', { class: 'muted', text: 'No events yet.' })); return; }
    fill(this.list, shown.map((e) => el('li', { 'data-kind': e.kind },
      el('span', { class: 't', text: new Date(e.t * 1000).toLocaleTimeString([], { hour12: false }) }),
      el('span', { class: 'kind', text: `${e.drone ?? ''} ${e.name}`.trim() }),
      el('span', { class: `msg${e.failed ? ' fail' : ''}`, text: e.text }))));
  }
}
