// Gateway health: the components of /healthz, the buffer's depth and bytes against its budget, the oldest record
// not yet sent, each upstream sink (connected, lag, send rate), the dead letters, version and uptime.
import { $, el, fill, fmt, age, bytes } from '../dom.js';

export class GatewayView {
  constructor(store) {
    this.store = store;
    this.healthCard = $('health-card');
    this.bufferCard = $('buffer-card');
    this.deadCard = $('deadletter-card');
    this.lastCursors = new Map(); // sink → [{at, cursor}] over the last polls, for the send rate
  }

  render() {
    this.renderHealth();
    this.renderBuffer();
    this.renderDeadLetters();
    const g = this.store.gateway;
    $('footer-version').textContent = g ? `EdgeGateway ${g.version} · up ${age(g.uptime_s + (Date.now() - g.fetchedAt) / 1000)}` : '';
  }

  renderHealth() {
    const h = this.store.health;
    const g = this.store.gateway;
    const head = el('h2', { text: 'Components' });
    const meta = g ? el('p', { class: 'muted small', text: `version ${g.version} · up ${age(g.uptime_s + (Date.now() - g.fetchedAt) / 1000)}` }) : null;
    if (!h) { fill(this.healthCard, head, meta, el('p', { class: 'muted', text: 'loading…' })); return; }
    if (h.error) { fill(this.healthCard, head, meta, el('p', { class: 'reason', text: h.error })); return; }
    const overall = el('p', { 'data-testid': 'overall', class: `state-${h.status}`, text: `overall: ${h.status}` });
    if (!Array.isArray(h.components)) {
      fill(this.healthCard, head, meta, overall, el('p', { class: 'muted', text: 'Component details need a higher role on this gateway.' }));
      return;
    }
    fill(this.healthCard, head, meta, overall, h.components.map((c) => el('div', { class: 'health-row', 'data-component': c.component },
      el('span', { text: c.component }),
      el('span', { class: `state-${c.state}`, text: c.state }),
      el('span', { class: 'summary', text: c.summary ?? '' }))));
  }

  renderBuffer() {
    const b = this.store.buffer;
    const head = el('h2', { text: 'Buffer and upstream' });
    if (!b) { fill(this.bufferCard, head, el('p', { class: 'muted', text: 'loading…' })); return; }
    if (b.error) { fill(this.bufferCard, head, el('p', { class: 'reason', text: b.error })); return; }
    const used = b.max_bytes ? Math.min(100, (100 * b.file_bytes) / b.max_bytes) : 0;
    const oldest = b.oldest_unsent ? (this.store.now() - Date.parse(b.oldest_unsent)) / 1000 : null;
    const rows = (b.sinks || []).map((s) => {
      // Send rate: how fast the sink's cursor moved over the last ~10 s of polls (sequences are gateway-wide,
      // so for a sink that takes every stream this is records per second).
      const now = b.fetchedAt ?? Date.now();
      const samples = (this.lastCursors.get(s.name) ?? []).filter((x) => now - x.at < 10000);
      if (samples.length === 0 || samples[samples.length - 1].at !== now) samples.push({ at: now, cursor: s.cursor });
      this.lastCursors.set(s.name, samples);
      const first = samples[0];
      const shown = now - first.at >= 1000 ? Math.max(0, (s.cursor - first.cursor) / ((now - first.at) / 1000)) : null;
      return el('tr', {},
        el('td', { text: s.name }),
        el('td', { class: s.connected ? 'state-healthy' : 'state-unhealthy', text: s.connected ? 'connected' : 'not connected' }),
        el('td', { text: fmt(s.backlog) }),
        el('td', { text: fmt(s.lag) }),
        el('td', { text: shown === null ? '–' : `${shown.toFixed(0)} /s` }),
        el('td', { text: s.oldest_unsent ? age((this.store.now() - Date.parse(s.oldest_unsent)) / 1000) : '–' }));
    });
    fill(this.bufferCard, head,
      el('div', { class: 'kv' },
        el('div', {}, el('span', { class: 'k', text: 'Records stored' }), el('span', { class: 'v', 'data-testid': 'depth', text: fmt(b.depth) })),
        el('div', {}, el('span', { class: 'k', text: 'On disk / budget' }), el('span', { class: 'v', text: `${bytes(b.file_bytes)} / ${bytes(b.max_bytes)} (${used.toFixed(1)} %)` })),
        el('div', {}, el('span', { class: 'k', text: 'Oldest unsent' }), el('span', { class: 'v', text: oldest === null ? 'nothing waiting' : age(oldest) })),
        el('div', {}, el('span', { class: 'k', text: 'Dropped at intake / evicted' }), el('span', { class: 'v', text: `${fmt(b.intake_dropped)} / ${fmt(b.evicted)}` }))),
      rows.length === 0 ? el('p', { class: 'muted', text: 'No upstream sink is configured.' })
        : el('div', { class: 'table-wrap' }, el('table', {},
          el('thead', {}, el('tr', {}, ['Sink', 'State', 'Backlog', 'Lag (seq)', 'Send rate', 'Oldest unsent'].map((t) => el('th', { text: t })))),
          el('tbody', {}, rows))));
  }

  renderDeadLetters() {
    const d = this.store.deadLetters;
    const head = el('h2', { text: 'Dead letters' });
    if (!d) { fill(this.deadCard, head, el('p', { class: 'muted', text: 'loading…' })); return; }
    if (d.error) { fill(this.deadCard, head, el('p', { class: 'reason', text: d.error })); return; }
    const entries = d.entries || [];
    fill(this.deadCard, head,
      el('p', { 'data-testid': 'dead-count', text: `${d.count ?? entries.length} record(s) refused by an upstream and kept aside.` }),
      entries.length === 0 ? null : el('div', { class: 'table-wrap' }, el('table', {},
        el('thead', {}, el('tr', {}, ['When', 'Sink', 'Stream', 'Reason', 'Detail'].map((t) => el('th', { text: t })))),
        el('tbody', {}, entries.slice(-50).reverse().map((e) => el('tr', {},
          el('td', { text: e.dead_lettered_at ? new Date(e.dead_lettered_at).toLocaleString() : '–' }),
          el('td', { text: e.sink }), el('td', { text: e.stream }),
          el('td', { text: `${e.reason}${e.reason_code !== null && e.reason_code !== undefined ? ` (${e.reason_code})` : ''}` }),
          el('td', { text: e.detail ?? '' })))))));
  }
}
