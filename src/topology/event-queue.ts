/**
 * The pump's agenda: a binary min-heap of events ordered by (time, insertion order), so
 * frames sent at the same simulated instant are delivered in the order they were sent and
 * a run is reproducible. Events are small integers (the caller's handle, e.g. an in-flight
 * frame slot); times are nanoseconds in a Float64Array (exact up to 2^53 ns ≈ 104 days).
 * Pushing and popping allocate nothing once the heap has grown to its working size.
 */
export class EventQueue {
  private times = new Float64Array(1024);
  private seqs = new Float64Array(1024);
  private handles = new Int32Array(1024);
  private count = 0;
  private nextSeq = 0;

  get size(): number {
    return this.count;
  }

  push(timeNs: number, handle: number): void {
    if (this.count === this.handles.length) this.grow();
    let i = this.count++;
    const seq = this.nextSeq++;
    // Sift up.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(timeNs, seq, this.times[parent], this.seqs[parent])) break;
      this.times[i] = this.times[parent];
      this.seqs[i] = this.seqs[parent];
      this.handles[i] = this.handles[parent];
      i = parent;
    }
    this.times[i] = timeNs;
    this.seqs[i] = seq;
    this.handles[i] = handle;
  }

  /** Time of the earliest event; Infinity when empty. */
  peekTime(): number {
    return this.count === 0 ? Number.POSITIVE_INFINITY : this.times[0];
  }

  /** Removes the earliest event and returns its handle; -1 when empty. */
  pop(): number {
    if (this.count === 0) return -1;
    const top = this.handles[0];
    const last = --this.count;
    if (last > 0) {
      const t = this.times[last];
      const s = this.seqs[last];
      const h = this.handles[last];
      let i = 0;
      // Sift down.
      for (;;) {
        const l = 2 * i + 1;
        if (l >= last) break;
        const r = l + 1;
        const c = r < last && this.before(this.times[r], this.seqs[r], this.times[l], this.seqs[l]) ? r : l;
        if (!this.before(this.times[c], this.seqs[c], t, s)) break;
        this.times[i] = this.times[c];
        this.seqs[i] = this.seqs[c];
        this.handles[i] = this.handles[c];
        i = c;
      }
      this.times[i] = t;
      this.seqs[i] = s;
      this.handles[i] = h;
    }
    return top;
  }

  private before(t1: number, s1: number, t2: number, s2: number): boolean {
    return t1 < t2 || (t1 === t2 && s1 < s2);
  }

  private grow(): void {
    const n = this.handles.length * 2;
    const times = new Float64Array(n);
    const seqs = new Float64Array(n);
    const handles = new Int32Array(n);
    times.set(this.times);
    seqs.set(this.seqs);
    handles.set(this.handles);
    this.times = times;
    this.seqs = seqs;
    this.handles = handles;
  }
}
