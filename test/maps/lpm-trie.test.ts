import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BpfLpmTrie, EINVAL, ENOENT, ENOSPC } from '../../src/maps/index.js';
import { parseCidr, parseIPv4, prefixMask } from '../../src/util/ipv4.js';

/** Brute force: the longest stored prefix containing addr, as "network/len", or null. */
function bruteForce(stored: Map<string, number>, addr: number): string | null {
  let best: string | null = null;
  let bestLen = -1;
  for (const key of stored.keys()) {
    const [net, len] = key.split('/').map(Number);
    if (len > bestLen && (addr & prefixMask(len)) >>> 0 === net) {
      best = key;
      bestLen = len;
    }
  }
  return best;
}

// Addresses that share most high bits so prefixes nest and branch often.
const addrArb = fc.nat({ max: 0xff }).map((x) => (0x0a000000 | (x << 16) | ((x * 37) & 0xff)) >>> 0);
const lenArb = fc.integer({ min: 0, max: 32 });
const opArb = fc.oneof(
  fc.tuple(fc.constant('insert' as const), addrArb, lenArb, fc.nat()),
  fc.tuple(fc.constant('delete' as const), addrArb, lenArb, fc.constant(0)),
  fc.tuple(fc.constant('lookup' as const), addrArb, fc.constant(32), fc.constant(0)),
);

describe('BpfLpmTrie (BPF_MAP_TYPE_LPM_TRIE, IPv4)', () => {
  it('answers every lookup with the same longest prefix and value as a brute-force scan, through any inserts and deletes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(opArb, { maxLength: 120 }), (capacity, ops) => {
        const trie = new BpfLpmTrie({ valueWords: 1, maxEntries: capacity });
        const stored = new Map<string, number>();
        for (const [op, addr, len, value] of ops) {
          const net = (addr & prefixMask(len)) >>> 0;
          const key = `${net}/${len}`;
          if (op === 'insert') {
            const res = trie.update(addr, len, Uint32Array.of(value));
            if (!stored.has(key) && stored.size === capacity) {
              expect(res).toBe(-ENOSPC);
            } else {
              expect(res).toBe(0);
              stored.set(key, value);
            }
          } else if (op === 'delete') {
            expect(trie.delete(addr, len)).toBe(stored.delete(key) ? 0 : -ENOENT);
          }
          expect(trie.count).toBe(stored.size);
          const probe = op === 'lookup' ? addr : (addr ^ 1) >>> 0;
          for (const a of [addr, probe]) {
            const want = bruteForce(stored, a);
            const node = trie.lookup(a);
            if (want === null) {
              expect(node).toBe(-1);
            } else {
              expect(`${trie.prefixOf(node)}/${trie.prefixLengthOf(node)}`).toBe(want);
              expect(trie.values[trie.valueOffset(node)]).toBe(stored.get(want));
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('matches source-range CIDRs the way a LoadBalancer source-range check needs', () => {
    const trie = new BpfLpmTrie({ valueWords: 1, maxEntries: 8 });
    for (const [cidr, v] of [
      ['10.0.0.0/8', 1],
      ['10.1.0.0/16', 2],
      ['10.1.2.0/24', 3],
      ['0.0.0.0/0', 9],
    ] as const) {
      const { network, prefixLength } = parseCidr(cidr);
      expect(trie.update(network, prefixLength, Uint32Array.of(v))).toBe(0);
    }
    const valueFor = (ip: string) => trie.values[trie.valueOffset(trie.lookup(parseIPv4(ip)))];
    expect(valueFor('10.1.2.3')).toBe(3);
    expect(valueFor('10.1.3.3')).toBe(2);
    expect(valueFor('10.200.0.1')).toBe(1);
    expect(valueFor('192.168.0.1')).toBe(9);
    expect(trie.delete(parseIPv4('10.1.0.0'), 16)).toBe(0);
    expect(valueFor('10.1.3.3')).toBe(1);
    expect(trie.insert(0, 33)).toBe(-EINVAL);
    expect(trie.byteLength).toBeGreaterThan(0);
  });
});
