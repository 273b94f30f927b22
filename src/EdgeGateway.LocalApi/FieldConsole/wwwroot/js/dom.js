// Small DOM helpers. Text is always set with textContent: nothing from the gateway or the drone is parsed as HTML.

/** Creates an element: el('div', {class: 'x', onclick: f}, child, 'text', …). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (id) => document.getElementById(id);

/** Replaces a node's children. */
export function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

/** One labelled value tile; `stale` greys it out. */
export function tile(label, value, { stale = false, cls = '', title = '' } = {}) {
  return el('div', { class: stale ? 'stale' : '', title: title || undefined },
    el('span', { class: 'k', text: label }),
    el('span', { class: `v ${cls}`.trim(), text: value }));
}

export function fmt(value, digits = 0, unit = '') {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  const text = typeof value === 'number' ? value.toFixed(digits) : String(value);
  return unit ? `${text} ${unit}` : text;
}

/** "3.2 s", "4 min 10 s", "2 h 5 min". */
export function age(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
  if (seconds < 10) return `${Math.max(0, seconds).toFixed(1)} s`;
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function clock(date) {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) return '–';
  return date.toLocaleTimeString([], { hour12: false });
}

export function bytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/**
 * Microseconds since 1970 from an ISO time with up to 7 fraction digits, exactly (Date.parse keeps only ms).
 * Used to line up the live state (last_update) with the stored records (wall_clock): the same instant.
 */
export function isoToMicros(iso) {
  if (typeof iso !== 'string') return NaN;
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(iso);
  if (!m) return Date.parse(iso) * 1000;
  const whole = Date.parse(m[1] + m[3]);
  const frac = (m[2] || '').padEnd(6, '0').slice(0, 6);
  return whole * 1000 + Number(frac);
}
