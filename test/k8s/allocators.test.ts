import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ClusterIPAllocator,
  clusterIPStaticBand,
  ERR_FULL,
  ERR_IP_ALLOCATED,
  ERR_PORT_ALLOCATED,
  NodePortAllocator,
  nodePortStaticBand,
  parsePortRange,
} from '../../src/k8s/allocators.js';
import { cidrContains, formatIPv4, parseCidr, parseIPv4 } from '../../src/util/ipv4.js';
import { Rng } from '../../src/util/rng.js';

describe('static band sizes (KEP-3070 / KEP-3668)', () => {
  it('matches the upstream examples', () => {
    expect(clusterIPStaticBand(256)).toBe(16); // /24
    expect(clusterIPStaticBand(4096)).toBe(256); // /20
    expect(clusterIPStaticBand(2 ** 20)).toBe(256); // /12
    expect(clusterIPStaticBand(16)).toBe(0); // /28
    expect(nodePortStaticBand(2768)).toBe(86); // 30000-32767
    expect(nodePortStaticBand(16)).toBe(0);
  });
});

describe('ClusterIPAllocator', () => {
  it('allocates every usable address exactly once under any seed, within the range, never network or broadcast', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 24, max: 28 }), (seed, prefix) => {
        const cidrText = `10.96.0.0/${prefix}`;
        const cidr = parseCidr(cidrText);
        const a = new ClusterIPAllocator(cidrText, new Rng(seed));
        const seen = new Set<number>();
        for (;;) {
          const r = a.allocateNext();
          if (!r.ok) {
            expect(r.error).toBe(ERR_FULL);
            break;
          }
          expect(seen.has(r.value)).toBe(false);
          expect(cidrContains(cidr, r.value)).toBe(true);
          expect(r.value).not.toBe(cidr.network);
          expect(r.value).not.toBe((cidr.network + 2 ** (32 - prefix) - 1) >>> 0);
          seen.add(r.value);
        }
        expect(seen.size).toBe(2 ** (32 - prefix) - 2);
      }),
      { numRuns: 20 },
    );
  });

  it('fills the dynamic (upper) band before touching the static band', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
        const a = new ClusterIPAllocator('10.0.0.0/24', new Rng(seed));
        const staticEnd = parseIPv4('10.0.0.16'); // offset 16: .1-.16 static
        for (let i = 0; i < 254 - 16; i++) {
          const r = a.allocateNext();
          expect(r.ok && r.value > staticEnd).toBe(true);
        }
        const r = a.allocateNext();
        expect(r.ok && r.value <= staticEnd).toBe(true);
      }),
      { numRuns: 10 },
    );
  });

  it('reports duplicates and out-of-range requests with the apiserver texts', () => {
    const a = new ClusterIPAllocator('10.233.0.0/18', new Rng(1));
    expect(a.allocate(parseIPv4('10.233.0.10'))).toEqual({ ok: true, value: parseIPv4('10.233.0.10') });
    expect(a.allocate(parseIPv4('10.233.0.10'))).toEqual({ ok: false, error: ERR_IP_ALLOCATED });
    const outside = {
      ok: false,
      error: 'provided IP is not in the valid range. The range of valid IPs is 10.233.0.0/18',
    };
    expect(a.allocate(parseIPv4('10.96.0.1'))).toEqual(outside);
    expect(a.allocate(parseIPv4('10.233.0.0'))).toEqual(outside); // network address
    expect(a.allocate(parseIPv4('10.233.63.255'))).toEqual(outside); // broadcast
    a.release(parseIPv4('10.233.0.10'));
    expect(a.allocate(parseIPv4('10.233.0.10')).ok).toBe(true);
  });

  it('is deterministic for a seed', () => {
    const run = (seed: number) => {
      const a = new ClusterIPAllocator('10.233.0.0/18', new Rng(seed));
      return Array.from({ length: 5 }, () => {
        const r = a.allocateNext();
        return r.ok ? formatIPv4(r.value) : '';
      });
    };
    expect(run(42)).toEqual(run(42));
    expect(run(42)).not.toEqual(run(43));
  });
});

describe('NodePortAllocator', () => {
  it('hands out each port of the range once, preferring 30086-32767, and then reports "range is full"', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
        const a = new NodePortAllocator('30000-32767', new Rng(seed));
        const seen = new Set<number>();
        let violations = 0;
        for (let i = 0; i < 2768; i++) {
          const r = a.allocateNext();
          if (!r.ok) return expect.fail(`allocation ${i} failed early`);
          if (r.value < 30000 || r.value > 32767 || seen.has(r.value)) violations++;
          if (i < 2768 - 86 && r.value < 30086) violations++;
          seen.add(r.value);
        }
        expect(violations).toBe(0);
        expect(a.allocateNext()).toEqual({ ok: false, error: ERR_FULL });
      }),
      { numRuns: 5 },
    );
  });

  it('reports duplicates and out-of-range ports with the apiserver texts', () => {
    const a = new NodePortAllocator('30000-32767', new Rng(3));
    expect(a.allocate(31313).ok).toBe(true);
    expect(a.allocate(31313)).toEqual({ ok: false, error: ERR_PORT_ALLOCATED });
    expect(a.allocate(80)).toEqual({
      ok: false,
      error: 'provided port is not in the valid range. The range of valid ports is 30000-32767',
    });
  });

  it('parses the flag forms and rejects nonsense', () => {
    expect(parsePortRange('30000-32767')).toEqual({ base: 30000, size: 2768 });
    expect(parsePortRange('30000+10')).toEqual({ base: 30000, size: 11 });
    expect(() => parsePortRange('32767-30000')).toThrow(/invalid port range/);
    expect(() => parsePortRange('abc')).toThrow(/invalid port range/);
  });
});
