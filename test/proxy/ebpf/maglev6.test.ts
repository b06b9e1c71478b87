/**
 * eBPF mode's IPv6 Maglev backend choice (issue 15): the slot is Cilium's hash_from_tuple_v6
 * over the client's 128-bit address, checked against a lookup3 written here from the
 * algorithm's description and against values a separate C build of the same steps printed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TcAction } from '../../../src/proxy/common/datapath.js';
import { compileEbpf } from '../../../src/proxy/ebpf/compile.js';
import { EbpfDatapath6 } from '../../../src/proxy/ebpf/datapath6.js';
import { ciliumMaglevHashV6 } from '../../../src/proxy/ebpf/hash.js';
import { parseMaglevSeed } from '../../../src/proxy/ebpf/maglev.js';
import { ipv6Model } from '../../../src/sim/ipv6-rules.js';
import { Ipv6AddressTable } from '../../../src/topology/ipv6-address-table.js';
import { ipv6Bytes, parseIPv6 } from '../../../src/util/ipv6.js';
import { Rng } from '../../../src/util/rng.js';
import { buildTcp6Frame } from '../../../src/wire/build6.js';
import { dualStackCluster } from '../iptables/ipv6-scenario.js';

const addr = (text: string) => ipv6Bytes(parseIPv6(text));
/** HASH_INIT6_SEED of the default Maglev seed `JLfvgnHc2kaSUFaI` (its bytes 8–11, big-endian). */
const DEFAULT_SEED6 = 0x92505688;

/** lookup3 (Jenkins 2006) as the kernel's jhash.h states it: rot, mix, final; written from the paper's steps. */
function specHashV6(a16: Uint8Array, clientPort: number, servicePort: number, proto: number, seed: number) {
  const rot = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;
  const w = (i: number) => new DataView(a16.buffer, a16.byteOffset).getUint32(i * 4, true);
  const be16 = (p: number) => ((p & 0xff) << 8) | (p >>> 8);
  let a = w(0);
  let b = w(1);
  let c = w(2);
  const mix = () => {
    a = (a - c) >>> 0;
    a = (a ^ rot(c, 4)) >>> 0;
    c = (c + b) >>> 0;
    b = (b - a) >>> 0;
    b = (b ^ rot(a, 6)) >>> 0;
    a = (a + c) >>> 0;
    c = (c - b) >>> 0;
    c = (c ^ rot(b, 8)) >>> 0;
    b = (b + a) >>> 0;
    a = (a - c) >>> 0;
    a = (a ^ rot(c, 16)) >>> 0;
    c = (c + b) >>> 0;
    b = (b - a) >>> 0;
    b = (b ^ rot(a, 19)) >>> 0;
    a = (a + c) >>> 0;
    c = (c - b) >>> 0;
    c = (c ^ rot(b, 4)) >>> 0;
    b = (b + a) >>> 0;
  };
  mix();
  a = (a + w(3)) >>> 0;
  b = (b + (((be16(clientPort) << 16) | be16(servicePort)) >>> 0)) >>> 0;
  c = (c + proto) >>> 0;
  mix();
  a = (a + seed) >>> 0;
  c = ((c ^ b) - rot(b, 14)) >>> 0;
  a = ((a ^ c) - rot(c, 11)) >>> 0;
  b = ((b ^ a) - rot(a, 25)) >>> 0;
  c = ((c ^ b) - rot(b, 16)) >>> 0;
  a = ((a ^ c) - rot(c, 4)) >>> 0;
  b = ((b ^ a) - rot(a, 14)) >>> 0;
  c = ((c ^ b) - rot(b, 24)) >>> 0;
  return c;
}

describe('hash_from_tuple_v6', () => {
  it('takes HASH_INIT6_SEED from the default Maglev seed’s third word', () => {
    expect(parseMaglevSeed('JLfvgnHc2kaSUFaI').jhash1).toBe(DEFAULT_SEED6);
  });

  it('gives the values a C build of the same steps printed (seed 0 and the default seed)', () => {
    const client = addr('fd85:ee78:d8a6:8607::1:5');
    expect(ciliumMaglevHashV6(client, 0, 40000, 80, 6, 0)).toBe(0x727d5fc6);
    expect(ciliumMaglevHashV6(client, 0, 40000, 80, 6, DEFAULT_SEED6)).toBe(0x1d18f39f);
    expect(ciliumMaglevHashV6(client, 0, 0, 80, 6, DEFAULT_SEED6)).toBe(0x51dbd888);
    expect(ciliumMaglevHashV6(addr('2001:db8::1'), 0, 12345, 443, 17, DEFAULT_SEED6)).toBe(0x0b9beb78);
  });

  it('equals the lookup3 written from the spec for every address, port pair, protocol and seed', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0, max: 65535 }),
        fc.integer({ min: 0, max: 65535 }),
        fc.constantFrom(6, 17, 132),
        fc.nat({ max: 0xffffffff }),
        (a16, cport, sport, proto, seed) => {
          const at = 16 * 3;
          const store = new Uint8Array(16 * 5);
          store.set(a16, at);
          expect(ciliumMaglevHashV6(store, at, cport, sport, proto, seed)).toBe(
            specHashV6(a16, cport, sport, proto, seed),
          );
        },
      ),
    );
  });

  it('depends on all 128 bits of the client address (each single-bit flip moves the hash)', () => {
    const base = addr('fd85:ee78:d8a6:8607::1:5');
    const h = ciliumMaglevHashV6(base, 0, 40000, 80, 6, DEFAULT_SEED6);
    for (let bit = 0; bit < 128; bit++) {
      const flipped = base.slice();
      flipped[bit >> 3] ^= 0x80 >> (bit & 7);
      expect(ciliumMaglevHashV6(flipped, 0, 40000, 80, 6, DEFAULT_SEED6)).not.toBe(h);
    }
  });
});

describe('IPv6 Maglev backend selection in the tc program', () => {
  it('picks lut[hash_from_tuple_v6(client, ports, TCP) % M] whatever index the client address was interned at', () => {
    const cluster = dualStackCluster();
    const M = 251;
    const addresses = new Ipv6AddressTable();
    // Intern unrelated addresses first so client indices are not small consecutive numbers.
    for (let i = 0; i < 37; i++) addresses.internText(`2001:db8:ffff::${(i + 1).toString(16)}`);
    const lb = compileEbpf(ipv6Model(cluster), 'node1', {
      ipv6: addresses,
      algorithm: 'maglev',
      maglevTableSize: M,
    });
    const dp = new EbpfDatapath6(lb, addresses, { rng: new Rng(1) });
    const vip = cluster.getService('web-np')!.spec!.clusterIPs![1];
    const vipIndex = addresses.internText(vip);
    const fe = [...lb.frontends.values()].find(
      (f) => f.plan.addr === vipIndex && f.plan.port === 80 && f.plan.kind === 'ClusterIP',
    )!;
    expect(fe).toBeDefined();
    const lut = lb.maps.maglevInner[fe.maglevInner]!.values;
    const mac = new Uint8Array(6);
    const picked = new Set<number>();
    for (let i = 0; i < 40; i++) {
      const client = addr(
        `fd85:ee78:d8a6:8607::${(0x100 + i * 13).toString(16)}:${(i * 7 + 1).toString(16)}`,
      );
      const sport = 20000 + i * 31;
      const frame = buildTcp6Frame({
        srcMac: mac,
        dstMac: mac,
        src: client,
        dst: addr(vip),
        sport,
        dport: 80,
        seq: 1,
        flags: 0x02,
        window: 65535,
      });
      expect(dp.tcIngressPod(frame, 0, frame.length, 1000)).toBe(TcAction.PASS);
      const h = specHashV6(client, sport, 80, 6, lb.maglevSeeds.jhash1);
      expect(dp.backendId).toBe(lut[h % M]);
      picked.add(dp.backendId);
    }
    expect(picked.size).toBe(3);
  });
});
