import { describe, expect, it } from 'vitest';
import { BPF_ANY, BPF_EXIST, BPF_NOEXIST, BpfArrayMap, E2BIG, EEXIST, EINVAL } from '../../src/maps/index.js';

describe('BpfArrayMap (BPF_MAP_TYPE_ARRAY)', () => {
  it('starts zeroed, updates by index and reads values in place', () => {
    const map = new BpfArrayMap({ valueWords: 2, maxEntries: 4 });
    expect(map.values[map.valueOffset(map.lookup(3)) + 1]).toBe(0);
    expect(map.update(3, Uint32Array.of(7, 8), 0, BPF_ANY)).toBe(0);
    expect(map.update(0, Uint32Array.of(1, 2), 0, BPF_EXIST)).toBe(0);
    const v = map.valueOffset(map.lookup(3));
    expect([map.values[v], map.values[v + 1]]).toEqual([7, 8]);
    expect(map.byteLength).toBe(4 * 2 * 4);
  });

  it('rejects out-of-range indices, NOEXIST and delete as the kernel does', () => {
    const map = new BpfArrayMap({ valueWords: 1, maxEntries: 4 });
    expect(map.lookup(4)).toBe(-1);
    expect(map.lookup(-1)).toBe(-1);
    expect(map.lookup(1.5)).toBe(-1);
    expect(map.update(4, Uint32Array.of(1), 0, BPF_ANY)).toBe(-E2BIG);
    expect(map.update(1, Uint32Array.of(1), 0, BPF_NOEXIST)).toBe(-EEXIST);
    expect(map.delete(1)).toBe(-EINVAL);
  });
});
