// Live charts (uPlot): height, battery, speed, attitude and one chosen sensor value, over 2, 5 or 15 minutes.
// Points come from the store's ring buffers; each redraw takes the window and thins it to about two points per
// pixel column (min and max), so 50 Hz state stays smooth. Redraws run at most 4 times a second, only for
// visible charts, and only when the data changed.
import uPlot from '../../vendor/uPlot.esm.js';
import { $, el, fill } from '../dom.js';
import { STATE_COLUMNS } from '../store.js';

const REDRAW_MS = 250;
const col = (name) => STATE_COLUMNS.indexOf(name);
const PALETTE = ['#5cc8ff', '#ffc145', '#3ddc84', '#ff7ab6', '#c9a0ff'];

const DRONE_CHARTS = [
  { id: 'height', title: 'Height', unit: 'cm', cols: [col('height_cm'), col('tof_cm')], names: ['height', 'ToF'] },
  { id: 'battery', title: 'Battery', unit: '%', cols: [col('battery')], names: ['battery'] },
  { id: 'speed', title: 'Speed', unit: 'dm/s', cols: [col('speed'), col('vgx'), col('vgy'), col('vgz')], names: ['|v|', 'vgx', 'vgy', 'vgz'] },
  { id: 'attitude', title: 'Attitude', unit: '°', cols: [col('pitch'), col('roll'), col('yaw')], names: ['pitch', 'roll', 'yaw'] },
];

export class ChartsView {
  constructor(store) {
    this.store = store;
    this.windowS = 120;
    this.container = $('charts');
    this.sensorSelect = $('sensor-series');
    this.charts = [];
    this.visible = false;
    this.timer = null;
    for (const spec of DRONE_CHARTS) this.charts.push(this.makeChart(spec, () => this.store.current?.ring));
    this.sensorChart = this.makeChart({ id: 'sensor', title: 'Sensor', unit: '', cols: [0], names: ['value'] },
      () => this.store.sensorRings.get(this.sensorSelect.value));
    this.charts.push(this.sensorChart);
    this.sensorSelect.addEventListener('change', () => { this.sensorChart.version = -1; this.sensorChart.title.textContent = this.sensorSelect.value || 'Sensor'; });
    store.addEventListener('sensor-series', () => this.renderSensorOptions());
    for (const button of document.querySelectorAll('#window-buttons button')) {
      button.addEventListener('click', () => {
        this.windowS = Number(button.dataset.window);
        for (const b of document.querySelectorAll('#window-buttons button')) b.setAttribute('aria-pressed', String(b === button));
        for (const c of this.charts) c.version = -1;
        this.redraw();
      });
    }
    new ResizeObserver(() => this.resize()).observe(this.container);
  }

  makeChart(spec, ring) {
    const title = el('h3', { text: `${spec.title}${spec.unit ? ` (${spec.unit})` : ''}` });
    const host = el('div', { class: 'chart', 'data-chart': spec.id, role: 'img', 'aria-label': `${spec.title} chart` }, title);
    this.container.append(host);
    const css = getComputedStyle(document.documentElement);
    const axis = { stroke: css.getPropertyValue('--muted').trim() || '#9db0bd', grid: { stroke: 'rgba(128,128,128,.2)' }, ticks: { stroke: 'rgba(128,128,128,.3)' } };
    const opts = {
      width: 400, height: 180,
      scales: { x: { time: true } },
      axes: [axis, { ...axis, size: 50 }],
      cursor: { drag: { x: false, y: false } },
      series: [{}, ...spec.names.map((name, i) => ({ label: name, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: false, points: { show: false } }))],
    };
    const plot = new uPlot(opts, [[], ...spec.names.map(() => [])], host);
    return { spec, host, title, plot, ring, version: -1, windowEnd: 0 };
  }

  renderSensorOptions() {
    const current = this.sensorSelect.value;
    const keys = [...this.store.sensorRings.keys()].sort();
    fill(this.sensorSelect, keys.map((k) => el('option', { value: k, text: k, selected: k === current })));
    if (!current && keys.length > 0) {
      const preferred = keys.find((k) => k.endsWith('distance_m')) ?? keys[0];
      this.sensorSelect.value = preferred;
      this.sensorChart.title.textContent = preferred;
      this.sensorChart.version = -1;
    }
  }

  setVisible(visible) {
    this.visible = visible;
    clearInterval(this.timer);
    if (visible) {
      this.resize();
      this.redraw();
      this.timer = setInterval(() => this.redraw(), REDRAW_MS);
    }
  }

  resize() {
    if (!this.visible) return;
    for (const c of this.charts) {
      const width = Math.max(200, Math.floor(c.host.clientWidth - 16));
      if (Math.abs(c.plot.width - width) > 2) c.plot.setSize({ width, height: 180 });
    }
  }

  /** Redraws charts whose data changed (or whose window slid by more than a pixel). */
  redraw() {
    if (!this.visible || document.hidden) return;
    const end = this.store.now() / 1000;
    const start = end - this.windowS;
    for (const c of this.charts) {
      const ring = c.ring();
      if (!ring) continue;
      const pixel = this.windowS / Math.max(1, c.plot.width);
      if (ring.version === c.version && end - c.windowEnd < pixel) continue;
      c.version = ring.version;
      c.windowEnd = end;
      const data = ring.window(start, end, Math.max(50, c.plot.width), c.spec.cols);
      c.plot.batch(() => {
        c.plot.setData(data, false);
        c.plot.setScale('x', { min: start, max: end });
      });
    }
  }

  /** For the benchmark: how many points the selected drone's charts hold. */
  stats() {
    return { points: this.store.current?.ring.length ?? 0 };
  }
}
