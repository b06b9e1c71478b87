/**
 * The hashing IPVS schedulers on IPv6 services (issue 15): sh, dh and mh hash the kernel's
 * addr_fold of the 128-bit address (ntohl of the XOR of its four words), not the address-table
 * index the IPv6 proxier's packets carry. Pinned values came from a separate C build of
 * ip_vs_sh/dh_hashkey's steps (inet_pton, XOR of the s6_addr32 words, ntohl, hash_32).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  IpvsService,
  ipv6AddrFold,
  type SchedulerName,
  SVC_F_SCHED2,
} from '../../../src/proxy/ipvs/index.js';
import { Ipv6AddressTable } from '../../../src/topology/ipv6-address-table.js';
import { formatIPv6Bytes, ipv6Bytes, parseIPv6 } from '../../../src/util/ipv6.js';

const TCP = 6;
const VIP = 'fd85:ee78:d8a6:8607::1000';
const BACKENDS = ['fd85:ee78:d8a6:8607::1:a', 'fd85:ee78:d8a6:8607::2:b', 'fd85:ee78:d8a6:8607::3:c'];

/** An IPv6 service as the IPv6 proxier builds it: addresses are table indices, hashed by their fold. */
function ipv6Service(scheduler: SchedulerName, table: Ipv6AddressTable, flags = 0): IpvsService {
  const svc = new IpvsService(TCP, table.internText(VIP), 80, scheduler, flags, 0, (i) =>
    ipv6AddrFold(table.storeOf(), i * 16),
  );
  for (let i = BACKENDS.length - 1; i >= 0; i--) svc.addDest(table.internText(BACKENDS[i]), 8080, 1);
  return svc;
}

/** Unrelated addresses interned first, so indices are nothing like the folds. */
function busyTable(): Ipv6AddressTable {
  const table = new Ipv6AddressTable();
  for (let i = 1; i <= 29; i++) table.internText(`2001:db8:ffff::${i.toString(16)}`);
  return table;
}

const fold = (text: string) => ipv6AddrFold(ipv6Bytes(parseIPv6(text)), 0);

describe('ipv6AddrFold (ip_vs_*_hashkey addr_fold for AF_INET6)', () => {
  it('is ntohl of the XOR of the four words', () => {
    expect(fold('fd85:ee78:d8a6:8607::1:5')).toBe(0x2522687a);
    expect(fold('2001:db8::1')).toBe(0x20010db9);
    expect(fold(VIP)).toBe(0x2523787f);
  });
});

describe('sh and dh on an IPv6 service', () => {
  it('sh puts a client in bucket hash_32(fold, 8): fd85:…:1:5 → 40 (dest B), 2001:db8::1 → 63 (dest A)', () => {
    const table = busyTable();
    const svc = ipv6Service('sh', table);
    const pick = (client: string) =>
      svc.dests.indexOf(svc.scheduler.schedule(svc, table.internText(client), 40000, svc.addr)!);
    // Equal weights: bucket i holds list entry i % 3.
    expect(pick('fd85:ee78:d8a6:8607::1:5')).toBe(40 % 3);
    expect(pick('2001:db8::1')).toBe(63 % 3);
  });

  it('dh keys on the VIP’s fold: bucket hash_32(0x2523787f, 8) = 32 (dest C)', () => {
    const table = busyTable();
    const svc = ipv6Service('dh', table);
    const d = svc.scheduler.schedule(svc, table.internText('2001:db8::1'), 1, svc.addr)!;
    expect(svc.dests.indexOf(d)).toBe(32 % 3);
  });
});

describe('an IPv6 service schedules like an IPv4 service whose addresses are the folds', () => {
  for (const scheduler of ['sh', 'dh', 'mh'] as const) {
    it(`${scheduler}: same destination position for any client address and port, whatever the interning order`, () => {
      const table = busyTable();
      const v6 = ipv6Service(scheduler, table, SVC_F_SCHED2);
      const v4 = new IpvsService(TCP, fold(VIP), 80, scheduler, SVC_F_SCHED2, 0);
      for (let i = BACKENDS.length - 1; i >= 0; i--) v4.addDest(fold(BACKENDS[i]), 8080, 1);
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 16, maxLength: 16 }),
          fc.integer({ min: 0, max: 65535 }),
          (a16, port) => {
            const index = table.intern(a16, 0);
            const d6 = v6.scheduler.schedule(v6, index, port, v6.addr);
            const d4 = v4.scheduler.schedule(v4, ipv6AddrFold(a16, 0), port, v4.addr);
            expect(d6 === null ? -1 : v6.dests.indexOf(d6), formatIPv6Bytes(a16)).toBe(
              d4 === null ? -1 : v4.dests.indexOf(d4),
            );
          },
        ),
      );
    });
  }
});
