/**
 * In-flight frames live in fixed-size slots of one ArrayBuffer, so moving a packet
 * between interfaces copies bytes into a recycled slot instead of allocating a buffer.
 * A slot holds one Ethernet frame up to MAX_FRAME bytes (1514 + room for a VXLAN/IPIP
 * outer header). When every slot is taken the pool doubles: growth happens only while a
 * run warms up, never in the steady state.
 */
export const MAX_FRAME = 2048;

export class FramePool {
  private buffer: Uint8Array;
  /** One subarray view per slot, created once, so handing out a frame allocates nothing. */
  private views: Uint8Array[] = [];
  /** Frame length per slot. */
  lengths: Int32Array;
  private freeList: Int32Array;
  private freeCount = 0;
  private capacity: number;
  /**
   * Slots handed out since the pool was made: every frame a host creates. With the drop
   * counters this gives the conservation check: acquired = delivered + dropped + in use.
   */
  acquired = 0;

  constructor(initialSlots = 256) {
    this.capacity = 0;
    this.buffer = new Uint8Array(0);
    this.lengths = new Int32Array(0);
    this.freeList = new Int32Array(0);
    this.resize(initialSlots);
  }

  get slots(): number {
    return this.capacity;
  }

  get inUse(): number {
    return this.capacity - this.freeCount;
  }

  /** Takes a free slot; its contents are stale until written. */
  acquire(): number {
    if (this.freeCount === 0) this.resize(this.capacity * 2);
    this.acquired++;
    return this.freeList[--this.freeCount];
  }

  /**
   * Releases a slot whose packet lives on in another slot (encapsulation, decapsulation):
   * the copy is the same packet, so it is not counted as a second frame.
   */
  releaseReplaced(slot: number): void {
    this.acquired--;
    this.release(slot);
  }

  release(slot: number): void {
    this.freeList[this.freeCount++] = slot;
  }

  /** The slot's bytes (MAX_FRAME long); the frame is the first `lengths[slot]` of them. */
  view(slot: number): Uint8Array {
    return this.views[slot];
  }

  /** Copies `len` bytes of `src` from `offset` into a fresh slot and returns the slot. */
  copyIn(src: Uint8Array, offset: number, len: number): number {
    if (len > MAX_FRAME)
      throw new RangeError(`frame of ${len} bytes exceeds the pool's ${MAX_FRAME}-byte slots`);
    const slot = this.acquire();
    this.views[slot].set(src.subarray(offset, offset + len));
    this.lengths[slot] = len;
    return slot;
  }

  private resize(slots: number): void {
    const buffer = new Uint8Array(slots * MAX_FRAME);
    buffer.set(this.buffer);
    const lengths = new Int32Array(slots);
    lengths.set(this.lengths);
    const freeList = new Int32Array(slots);
    freeList.set(this.freeList.subarray(0, this.freeCount));
    let free = this.freeCount;
    for (let s = slots - 1; s >= this.capacity; s--) freeList[free++] = s;
    this.buffer = buffer;
    this.lengths = lengths;
    this.freeList = freeList;
    this.freeCount = free;
    this.capacity = slots;
    this.views = [];
    for (let s = 0; s < slots; s++) this.views.push(buffer.subarray(s * MAX_FRAME, (s + 1) * MAX_FRAME));
  }
}
