import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  connOverhead,
  createScheduler,
  HASH_TAB_SIZE,
  hash32,
  hsiphash32,
  type IpvsDest,
  IpvsService,
  MH_TAB_SIZE,
  mhHashKey,
  type SchedulerName,
  SVC_F_SCHED1,
  SVC_F_SCHED2,
  siphash,
  UnknownSchedulerError,
} from '../../../src/proxy/ipvs/index.js';
import { formatIPv4, parseIPv4 } from '../../../src/util/ipv4.js';

const TCP = 6;

/** A service whose kernel list is in the order given (added in reverse: the kernel inserts at the head). */
function service(scheduler: SchedulerName, weights: readonly number[], flags = 0): IpvsService {
  const svc = new IpvsService(TCP, parseIPv4('10.96.0.10'), 80, scheduler, flags, 0);
  for (let i = weights.length - 1; i >= 0; i--) svc.addDest(parseIPv4(`10.0.0.${i + 1}`), 8080, weights[i]);
  return svc;
}

function names(svc: IpvsService, picks: number, saddr = 0): string {
  const out: string[] = [];
  for (let i = 0; i < picks; i++) {
    const d = svc.scheduler.schedule(svc, saddr, 40000 + i, svc.addr);
    out.push(d === null ? '-' : 'ABCDEFGH'[svc.dests.indexOf(d)]);
  }
  return out.join('');
}

describe('rr', () => {
  it('walks the list from the last choice and skips quiesced (weight 0) destinations', () => {
    expect(names(service('rr', [1, 1, 1]), 7)).toBe('ABCABCA');
    expect(names(service('rr', [1, 0, 1]), 4)).toBe('ACAC');
    expect(names(service('rr', [0, 0]), 2)).toBe('--');
  });

  it('keeps its place when a destination is added at the list head, as the kernel pointer does', () => {
    const svc = service('rr', [1, 1, 1]);
    expect(names(svc, 2)).toBe('AB');
    svc.addDest(parseIPv4('10.0.0.9'), 8080, 1); // new head: list is now 9, A, B, C
    const next = svc.scheduler.schedule(svc, 0, 0, 0);
    expect(next && formatIPv4(next.addr)).toBe('10.0.0.3');
  });
});

describe('wrr', () => {
  it('reproduces the kernel sequence for weights 4,3,2 (gcd 1) from a fresh mark: A A B A B C A B C', () => {
    // init_service with the destinations present (e.g. ipvsadm -E switching the scheduler): cw = mw.
    const svc = service('wrr', [4, 3, 2]);
    svc.scheduler.init(svc);
    expect(names(svc, 18)).toBe('AABABCABC'.repeat(2));
  });

  it('reproduces the kernel sequence for weights 2,4,6 (gcd 2, mw = 6 - 1) from a fresh mark: C B C A B C', () => {
    const svc = service('wrr', [2, 4, 6]);
    svc.scheduler.init(svc);
    expect(names(svc, 12)).toBe('CBCABC'.repeat(2));
  });

  it('after destinations are added one by one (as kube-proxy does) keeps the low cw of the first add', () => {
    // ip_vs_wrr_dest_changed keeps cw when 0 < cw <= mw and gcd is 1: adding C(2) sets
    // cw = mw = 1, then B(3) and A(4) leave it at 1, so the first pass takes every destination.
    expect(names(service('wrr', [4, 3, 2]), 12)).toBe('ABCAABABCABC');
    // C(6) alone gives di 6, mw 1, cw 1; then di 2 keeps cw at (1 / 2) * 2 + 1 = 1.
    expect(names(service('wrr', [2, 4, 6]), 12)).toBe('ABCCBCABCCBC');
  });

  it('with equal weights behaves like rr, and gives each destination its share of any weighting', () => {
    expect(names(service('wrr', [1, 1, 1]), 6)).toBe('ABCABC');
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 5 }), (weights) => {
        const svc = service('wrr', weights);
        const total = weights.reduce((a, b) => a + b, 0);
        const seq = names(svc, total === 0 ? 3 : total * 2);
        if (total === 0) return seq === '---';
        return weights.every((w, i) => [...seq].filter((c) => c === 'ABCDEFGH'[i]).length === 2 * w);
      }),
    );
  });
});

/** Expected choice per the kernel formulas with first-in-list tie-breaking. */
function expectedLeast(kind: 'lc' | 'wlc' | 'sed' | 'nq', dests: readonly IpvsDest[]): IpvsDest | null {
  const avail = dests.filter((d) => d.weight > 0 && !d.overloaded);
  if (avail.length === 0) return null;
  if (kind === 'nq') {
    const idle = avail.find((d) => d.activeConns === 0);
    if (idle) return idle;
  }
  // cost as a fraction num/den compared by cross-multiplication; strictly smaller wins.
  const cost = (d: IpvsDest): [number, number] =>
    kind === 'lc'
      ? [connOverhead(d), 1]
      : kind === 'wlc'
        ? [connOverhead(d), d.weight]
        : [d.activeConns + 1, d.weight];
  let best = avail[0];
  for (const d of avail.slice(1)) {
    const [bn, bd] = cost(best);
    const [dn, dd] = cost(d);
    if (dn * bd < bn * dd) best = d;
  }
  return best;
}

describe('lc, wlc, sed, nq', () => {
  const counts = fc.array(
    fc.record({
      weight: fc.integer({ min: 0, max: 5 }),
      active: fc.integer({ min: 0, max: 6 }),
      inact: fc.integer({ min: 0, max: 600 }),
    }),
    { minLength: 1, maxLength: 6 },
  );

  for (const kind of ['lc', 'wlc', 'sed', 'nq'] as const) {
    it(`${kind} picks the destination minimising its cost formula, the first one in list order on ties`, () => {
      fc.assert(
        fc.property(counts, (spec) => {
          const svc = service(
            kind,
            spec.map((s) => s.weight),
          );
          spec.forEach((s, i) => {
            svc.dests[i].activeConns = s.active;
            svc.dests[i].inactConns = s.inact;
          });
          return svc.scheduler.schedule(svc, 0, 0, 0) === expectedLeast(kind, svc.dests);
        }),
      );
    });
  }

  it('lc uses activeconns*256 + inactconns (256 inactive outweigh less than one active + 1)', () => {
    const svc = service('lc', [1, 1]);
    svc.dests[0].activeConns = 1; // overhead 256
    svc.dests[1].inactConns = 255; // overhead 255
    expect(svc.scheduler.schedule(svc, 0, 0, 0)).toBe(svc.dests[1]);
    svc.dests[1].inactConns = 256; // tie: first in list wins
    expect(svc.scheduler.schedule(svc, 0, 0, 0)).toBe(svc.dests[0]);
  });
});

describe('sh and dh', () => {
  it('hash_32 is the top bits of val * 0x61C88647', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => {
        const expected = Number(((BigInt(v) * 0x61c88647n) & 0xffffffffn) >> 24n);
        return hash32(v, 8) === expected;
      }),
    );
  });

  it('sh fills 256 buckets walking the list with each destination repeated weight times', () => {
    const svc = service('sh', [2, 1, 0]);
    const sched = svc.scheduler as unknown as { buckets: (IpvsDest | null)[] };
    const pattern = sched.buckets.slice(0, 8).map((d) => (d === null ? '-' : 'ABC'[svc.dests.indexOf(d)]));
    // A weight 2, B weight 1, C weight 0 still takes one bucket (the kernel's ++count >= weight).
    expect(pattern.join('')).toBe('AABCAABC');
    expect(sched.buckets).toHaveLength(HASH_TAB_SIZE);
  });

  it('sh sends one source address to the same destination whatever its port, without sh-port', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 0xfffffffe }),
        fc.array(fc.integer({ min: 1, max: 65535 }), { minLength: 2 }),
        (src, ports) => {
          const svc = service('sh', [1, 1, 1]);
          const first = svc.scheduler.schedule(svc, src, ports[0], 0);
          const bucket = hash32(src >>> 0, 8);
          const sched = svc.scheduler as unknown as { buckets: (IpvsDest | null)[] };
          return (
            first === sched.buckets[bucket] &&
            ports.every((p) => svc.scheduler.schedule(svc, src, p, 0) === first)
          );
        },
      ),
    );
  });

  it('sh returns no destination for a quiesced bucket unless sh-fallback walks on', () => {
    const src = parseIPv4('192.0.2.7');
    const plain = service('sh', [1, 1]);
    const target = plain.scheduler.schedule(plain, src, 1, 0) as IpvsDest;
    plain.updateDestWeight(target, 0);
    expect(plain.scheduler.schedule(plain, src, 1, 0)).toBeNull();
    const fb = service('sh', [1, 1], SVC_F_SCHED1);
    const t2 = fb.scheduler.schedule(fb, src, 1, 0) as IpvsDest;
    fb.updateDestWeight(t2, 0);
    const alt = fb.scheduler.schedule(fb, src, 1, 0);
    expect(alt).not.toBeNull();
    expect(alt).not.toBe(t2);
  });

  it('sh with sh-port hashes port + address', () => {
    const svc = service('sh', [1, 1, 1], SVC_F_SCHED2);
    const sched = svc.scheduler as unknown as { buckets: (IpvsDest | null)[] };
    const src = parseIPv4('10.1.2.3');
    for (const port of [1, 80, 40000]) {
      expect(svc.scheduler.schedule(svc, src, port, 0)).toBe(sched.buckets[hash32((src + port) >>> 0, 8)]);
    }
  });

  it('dh keys on the destination address, one bucket per destination in turn', () => {
    const svc = service('dh', [5, 1]);
    const sched = svc.scheduler as unknown as { buckets: (IpvsDest | null)[] };
    expect(sched.buckets.slice(0, 4).map((d) => svc.dests.indexOf(d as IpvsDest))).toEqual([0, 1, 0, 1]);
    const vip = parseIPv4('10.96.0.10');
    expect(svc.scheduler.schedule(svc, 1, 1, vip)).toBe(sched.buckets[hash32(vip, 8)]);
    expect(svc.scheduler.schedule(svc, 99, 2, vip)).toBe(svc.scheduler.schedule(svc, 1, 1, vip));
  });
});

describe('mh (Maglev)', () => {
  it('SipHash permutation matches the published SipHash-2-4 vector', () => {
    const key = Uint8Array.from({ length: 16 }, (_, i) => i);
    const msg = Uint8Array.from({ length: 15 }, (_, i) => i);
    const [hi, lo] = siphash(2, 4, key, msg);
    expect(hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0')).toBe('a129ca6149be45e5');
    expect(siphash(2, 4, key, new Uint8Array(0))).toEqual([0x726fdb47, 0xdd0e0e31]);
  });

  it('hsiphash of a u32 equals SipHash-1-3 of its four little-endian bytes (64-bit kernel)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (v, k) => {
          const key = new Uint8Array(16);
          new DataView(key.buffer).setUint32(0, k, true);
          new DataView(key.buffer).setUint32(8, k, true);
          const msg = new Uint8Array(4);
          new DataView(msg.buffer).setUint32(0, v, true);
          return hsiphash32(v, 0, k, 0, k) === siphash(1, 3, key, msg)[1];
        },
      ),
    );
  });

  it('fills all 4093 slots, in proportion to weight, and keeps a source on one destination', () => {
    const svc = service('mh', [1, 1, 2]);
    const lookup = (svc.scheduler as unknown as { lookup: (IpvsDest | null)[] }).lookup;
    expect(lookup).toHaveLength(MH_TAB_SIZE);
    const share = [0, 0, 0];
    for (const d of lookup) share[svc.dests.indexOf(d as IpvsDest)]++;
    expect(share.reduce((a, b) => a + b)).toBe(4093);
    // Maglev fills round-robin by turns, so shares differ by at most one turn.
    expect(Math.abs(share[0] - share[1])).toBeLessThanOrEqual(1);
    expect(Math.abs(share[2] - 2 * share[0])).toBeLessThanOrEqual(2);
    const src = parseIPv4('172.16.5.4');
    const d = svc.scheduler.schedule(svc, src, 1111, 0);
    expect(d).toBe(lookup[mhHashKey(src, 0, 1, 0) % MH_TAB_SIZE]);
    expect(svc.scheduler.schedule(svc, src, 2222, 0)).toBe(d);
  });

  it('removing one destination only moves the slots that pointed at it and a few others', () => {
    const svc = service('mh', [1, 1, 1, 1, 1]);
    const lookup = (svc.scheduler as unknown as { lookup: (IpvsDest | null)[] }).lookup;
    const before = lookup.slice();
    const gone = svc.dests[2];
    svc.removeDest(gone);
    let moved = 0;
    for (let i = 0; i < MH_TAB_SIZE; i++) if (before[i] !== gone && lookup[i] !== before[i]) moved++;
    expect(lookup.includes(gone)).toBe(false);
    // Maglev's disruption for 5 → 4 backends is a few percent of the table.
    expect(moved / MH_TAB_SIZE).toBeLessThan(0.1);
  });

  it('with mh-port different source ports of one client spread over destinations', () => {
    const svc = service('mh', [1, 1, 1], SVC_F_SCHED2);
    const src = parseIPv4('172.16.5.4');
    const seen = new Set<IpvsDest | null>();
    for (let p = 1000; p < 1100; p++) seen.add(svc.scheduler.schedule(svc, src, p, 0));
    expect(seen.size).toBe(3);
  });
});

it('unknown scheduler names fail with UnknownSchedulerError', () => {
  expect(() => createScheduler('lblcr' as SchedulerName)).toThrow(UnknownSchedulerError);
});
