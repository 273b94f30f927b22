// Time series for the charts: fixed-size ring buffers (typed arrays, so memory stays flat however long the page
// runs), appended in time order only. A point not newer than the last one is dropped: that is what keeps the
// charts free of duplicates when the same state arrives from the backfill and from the live stream.

const SAME_INSTANT_S = 0.0005; // the live state and its stored record carry the same receive time (to the µs)

export class SeriesRing {
  /** @param {string[]} columns @param {number} capacity */
  constructor(columns, capacity = 100000) {
    this.columns = columns;
    this.capacity = capacity;
    this.t = new Float64Array(capacity);
    this.v = columns.map(() => new Float64Array(capacity));
    this.start = 0;
    this.length = 0;
    this.version = 0; // bumped on every change, so a chart redraws only when something changed
  }

  get lastTime() { return this.length === 0 ? -Infinity : this.t[(this.start + this.length - 1) % this.capacity]; }

  /** Appends one point (t in seconds since 1970; values NaN when unknown). Returns false for a duplicate or older point. */
  append(t, values) {
    if (!(t > this.lastTime + SAME_INSTANT_S)) return false;
    let index;
    if (this.length < this.capacity) {
      index = (this.start + this.length) % this.capacity;
      this.length += 1;
    } else {
      index = this.start;
      this.start = (this.start + 1) % this.capacity;
    }
    this.t[index] = t;
    for (let c = 0; c < this.v.length; c++) {
      const x = values[c];
      this.v[c][index] = x === null || x === undefined ? NaN : x;
    }
    this.version += 1;
    return true;
  }

  /** Forgets points older than `t`. */
  dropBefore(t) {
    const first = this.indexAtOrAfter(t);
    if (first > 0) {
      this.start = (this.start + first) % this.capacity;
      this.length -= first;
      this.version += 1;
    }
  }

  at(i) { return (this.start + i) % this.capacity; }

  /** First logical index whose time is >= t (binary search). */
  indexAtOrAfter(t) {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.t[this.at(mid)] < t) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  /**
   * uPlot data for [t0, t1] with at most about 2 × `buckets` points: raw when that few, otherwise the minimum and
   * maximum of each column in each time bucket (so peaks survive). A pause longer than `gapS` becomes a break.
   * @param {number[]} cols the columns to return
   */
  window(t0, t1, buckets, cols, gapS = 3) {
    const first = this.indexAtOrAfter(t0);
    const last = this.indexAtOrAfter(t1 + 1e-9);
    const n = last - first;
    const xs = [];
    const ys = cols.map(() => []);
    let prevT = -Infinity;
    const push = (t, vals) => {
      if (t - prevT > gapS && xs.length > 0) {
        xs.push((prevT + t) / 2);
        for (const y of ys) y.push(null);
      }
      xs.push(t);
      for (let k = 0; k < cols.length; k++) ys[k].push(Number.isNaN(vals[k]) ? null : vals[k]);
      prevT = t;
    };
    if (n <= buckets * 2) {
      for (let i = first; i < last; i++) {
        const j = this.at(i);
        push(this.t[j], cols.map((c) => this.v[c][j]));
      }
      return [xs, ...ys];
    }
    const width = (t1 - t0) / buckets;
    let i = first;
    for (let b = 0; b < buckets && i < last; b++) {
      const end = t0 + (b + 1) * width;
      let count = 0;
      let tFirst = 0;
      let tLast = 0;
      const mins = cols.map(() => Infinity);
      const maxs = cols.map(() => -Infinity);
      for (; i < last; i++) {
        const j = this.at(i);
        const t = this.t[j];
        if (t >= end) break;
        if (count === 0) tFirst = t;
        tLast = t;
        count++;
        for (let k = 0; k < cols.length; k++) {
          const x = this.v[cols[k]][j];
          if (x < mins[k]) mins[k] = x;
          if (x > maxs[k]) maxs[k] = x;
        }
      }
      if (count === 0) continue;
      const fix = (x) => (Number.isFinite(x) ? x : NaN);
      push(tFirst, mins.map(fix));
      if (count > 1) push(Math.max(tLast, tFirst + 1e-6), maxs.map(fix));
    }
    return [xs, ...ys];
  }
}
