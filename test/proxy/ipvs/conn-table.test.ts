import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IpvsConnTable } from '../../../src/proxy/ipvs/conn-table.js';
import { IpvsService } from '../../../src/proxy/ipvs/service-table.js';
import { Rng } from '../../../src/util/rng.js';
import { IpProtocol } from '../../../src/wire/ip-protocol.js';

const SEED = 3;

/** Two client ports of 10.0.0.1/TCP that share a hash bucket, so one chain holds entries differing only in port. */
function collidingPorts(): [number, number] {
  const t = new IpvsConnTable(new Rng(SEED), 16);
  const seen = new Map<number, number>();
  for (let p = 1; ; p++) {
    const b = t.bucketOf(IpProtocol.TCP, 0x0a000001, p);
    const other = seen.get(b);
    if (other !== undefined) return [other, p];
    seen.set(b, p);
  }
}
const [P1, P2] = collidingPorts();

// Small domains, so lookups hit, miss by one field, and chains collide.
const addr = fc.constantFrom(0x0a000001, 0x0a000002, 0xc0a86401, 0xfffffffe);
const port = fc.constantFrom(0, 80, P1, P2, 40000, 65535);
const proto = fc.constantFrom(IpProtocol.TCP, IpProtocol.UDP, IpProtocol.SCTP);
const op = fc.oneof(
  fc.record({
    kind: fc.constant('create' as const),
    proto,
    caddr: addr,
    cport: port,
    vaddr: addr,
    vport: port,
    daddr: addr,
    dport: port,
    template: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('expire' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('invalidate' as const), pick: fc.nat() }),
);

describe('IpvsConnTable lookups', () => {
  it('findIn, findOut and findTemplate return the newest live entry whose fields match, as a scan of the columns finds it, after any creates, expiries and template invalidations', () => {
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 80 }),
        fc.array(fc.tuple(proto, addr, port, addr, port), { maxLength: 40 }),
        (ops, probes) => {
          const t = new IpvsConnTable(new Rng(SEED), 16);
          const svc = new IpvsService(IpProtocol.TCP, 1, 80, 'rr', 0, 0);
          const dest = svc.addDest(2, 8080, 1);
          const live: number[] = [];
          for (const o of ops) {
            if (o.kind === 'create') {
              const i = t.create(
                o.proto,
                o.caddr,
                o.cport,
                o.vaddr,
                o.vport,
                o.daddr,
                o.dport,
                o.template,
                dest,
                60,
                0,
              );
              live.unshift(i);
            } else if (live.length > 0) {
              const k = o.pick % live.length;
              const i = live[k];
              if (o.kind === 'expire' && t.expire(i, 1)) live.splice(k, 1);
              else if (o.kind === 'invalidate' && t.isTemplate(i)) t.invalidateTemplate(i);
            }
          }
          // Newest first within a chain; a scan in creation order (newest first) over the
          // live entries that share the lookup's bucket finds the same entry.
          const scan = (bucketAddr: number, bucketPort: number, pr: number, match: (i: number) => boolean) =>
            live.find(
              (i) =>
                t.bucketOf(t.proto[i], t.caddr[i], t.cport[i]) === t.bucketOf(pr, bucketAddr, bucketPort) &&
                match(i),
            ) ?? -1;
          // Probe with every created tuple as well (its own lookups, and the reverse ones).
          const own = ops.flatMap((o) =>
            o.kind === 'create'
              ? [
                  [o.proto, o.caddr, o.cport, o.vaddr, o.vport] as const,
                  [o.proto, o.daddr, o.dport, o.caddr, o.cport] as const,
                  [o.proto, o.caddr, 0, o.vaddr, o.vport] as const,
                ]
              : [],
          );
          for (const [pr, a, ap, b, bp] of [...probes, ...own]) {
            const isTpl = (i: number) => t.isTemplate(i);
            expect(t.findIn(pr, a, ap, b, bp)).toBe(
              scan(
                a,
                ap,
                pr,
                (i) =>
                  !isTpl(i) &&
                  t.proto[i] === pr &&
                  t.caddr[i] === a &&
                  t.cport[i] === ap &&
                  t.vaddr[i] === b &&
                  t.vport[i] === bp,
              ),
            );
            expect(t.findOut(pr, a, ap, b, bp)).toBe(
              scan(
                b,
                bp,
                pr,
                (i) =>
                  !isTpl(i) &&
                  t.proto[i] === pr &&
                  t.daddr[i] === a &&
                  t.dport[i] === ap &&
                  t.caddr[i] === b &&
                  t.cport[i] === bp,
              ),
            );
            expect(t.findTemplate(pr, a, b, bp)).toBe(
              scan(
                a,
                0,
                pr,
                (i) =>
                  isTpl(i) &&
                  t.proto[i] === pr &&
                  t.caddr[i] === a &&
                  t.cport[i] === 0 &&
                  t.vaddr[i] === b &&
                  t.vport[i] === bp,
              ),
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('tells apart two connections of one client whose ports share a hash chain', () => {
    const t = new IpvsConnTable(new Rng(SEED), 16);
    const svc = new IpvsService(IpProtocol.TCP, 1, 80, 'rr', 0, 0);
    const dest = svc.addDest(0x0a000063, 8080, 1);
    const VIP = 0x0ae90001;
    const a = t.create(IpProtocol.TCP, 0x0a000001, P1, VIP, 80, 0x0a000063, 8080, false, dest, 60, 0);
    const b = t.create(IpProtocol.TCP, 0x0a000001, P2, VIP, 80, 0x0a000063, 8080, false, dest, 60, 0);
    expect([
      t.findIn(IpProtocol.TCP, 0x0a000001, P1, VIP, 80),
      t.findIn(IpProtocol.TCP, 0x0a000001, P2, VIP, 80),
    ]).toEqual([a, b]);
    expect([
      t.findOut(IpProtocol.TCP, 0x0a000063, 8080, 0x0a000001, P1),
      t.findOut(IpProtocol.TCP, 0x0a000063, 8080, 0x0a000001, P2),
    ]).toEqual([a, b]);
  });

  it('no longer finds a template once it is invalidated (ip_vs_check_template)', () => {
    const t = new IpvsConnTable(new Rng(SEED), 16);
    const svc = new IpvsService(IpProtocol.TCP, 1, 80, 'rr', 0, 0);
    const dest = svc.addDest(0x0a000063, 8080, 1);
    const tpl = t.create(
      IpProtocol.TCP,
      0x0a000001,
      0,
      0x0ae90001,
      80,
      0x0a000063,
      8080,
      true,
      dest,
      10800,
      0,
    );
    expect(t.findTemplate(IpProtocol.TCP, 0x0a000001, 0x0ae90001, 80)).toBe(tpl);
    t.invalidateTemplate(tpl);
    expect(t.findTemplate(IpProtocol.TCP, 0x0a000001, 0x0ae90001, 80)).toBe(-1);
  });
});
