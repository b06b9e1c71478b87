import { describe, expect, it } from 'vitest';
import { parseIPv4 } from '../../src/util/ipv4.js';
import {
  buildIcmpUnreachableFrame,
  buildTcpFrame,
  buildUdpFrame,
  udpFrameLength,
  writeUdpFrame,
} from '../../src/wire/build.js';
import {
  flowSourcePort,
  ipipDecapsulate,
  ipipEncapsulate,
  vxlanDecapsulate,
  vxlanEncapsulate,
} from '../../src/wire/encap.js';
import { MacAddressError, WireBuildError } from '../../src/wire/errors.js';
import { formatMac, parseMac } from '../../src/wire/mac.js';

const A = parseMac('02:00:00:00:00:01');
const B = parseMac('02:00:00:00:00:02');

/** Katran fixture #1 and its expected IPIP output (team reference; scapy-built upstream). */
const KATRAN_IN = Buffer.from(
  'AgAAAAAAAQAAAAAACABFAAArAAEAAEARrU/AqAEBCsgBAXppAFAAF5fea2F0cmFuIHRlc3QgcGt0',
  'base64',
);
const KATRAN_OUT = Buffer.from(
  'AADerb6vAgAAAAAACABFAAA/AAAAAEAEXC2sEGh7CgAAA0UAACsAAQAAQBGtT8CoAQEKyAEBemkAUAAXl95rYXRyYW4gdGVzdCBwa3Q=',
  'base64',
);

describe('known frames', () => {
  it("builds Katran's UDP fixture byte for byte", () => {
    const frame = buildUdpFrame({
      srcMac: parseMac('01:00:00:00:00:00'),
      dstMac: parseMac('02:00:00:00:00:00'),
      src: parseIPv4('192.168.1.1'),
      dst: parseIPv4('10.200.1.1'),
      sport: 31337,
      dport: 80,
      id: 1,
      dontFragment: false,
      payload: new TextEncoder().encode('katran test pkt'),
    });
    expect(Buffer.from(frame).equals(KATRAN_IN)).toBe(true);
  });

  it('IPIP-encapsulates it exactly as Katran does (outer 172.16.104.123 → 10.0.0.3, ID 0, TTL 64, csum 0x5c2d)', () => {
    const frame = ipipEncapsulate(
      {
        srcMac: parseMac('02:00:00:00:00:00'),
        dstMac: parseMac('00:00:de:ad:be:af'),
        src: parseIPv4('172.16.104.123'),
        dst: parseIPv4('10.0.0.3'),
      },
      new Uint8Array(KATRAN_IN),
    );
    expect(Buffer.from(frame).equals(KATRAN_OUT)).toBe(true);
    const back = ipipDecapsulate(frame);
    expect(back.ok && Buffer.from(back.frame.subarray(14)).equals(KATRAN_IN.subarray(14))).toBe(true);
  });
});

describe('builder input errors', () => {
  const base = { srcMac: A, dstMac: B, src: 1, dst: 2, sport: 1, dport: 2, seq: 0, flags: 2, window: 1 };

  it('rejects out-of-range fields with a WireBuildError naming the field', () => {
    expect(() => buildTcpFrame({ ...base, sport: 70000 })).toThrow(
      /sport must be an integer in 0..65535, got 70000/,
    );
    expect(() => buildTcpFrame({ ...base, ttl: 256 })).toThrow(WireBuildError);
    expect(() => buildTcpFrame({ ...base, seq: -1 })).toThrow(/seq/);
    expect(() => buildTcpFrame({ ...base, srcMac: new Uint8Array(5) })).toThrow(/srcMac must be 6 bytes/);
    expect(() => buildTcpFrame({ ...base, ipOptions: new Uint8Array(3) })).toThrow(/multiple of 4/);
    expect(() =>
      buildTcpFrame({
        ...base,
        options: Array.from({ length: 5 }, () => ({ kind: 'timestamp' as const, tsval: 0, tsecr: 0 })),
      }),
    ).toThrow(/TCP options need 52 bytes/);
    expect(() => buildUdpFrame({ ...base, payload: new Uint8Array(65535) })).toThrow(
      /total length 65563 exceeds 65535/,
    );
  });

  it('refuses to write past the end of the buffer instead of truncating', () => {
    const spec = { srcMac: A, dstMac: B, src: 1, dst: 2, sport: 1, dport: 2 };
    expect(() => writeUdpFrame(new Uint8Array(udpFrameLength(spec) - 1), 0, spec)).toThrow(/does not fit/);
    expect(writeUdpFrame(new Uint8Array(udpFrameLength(spec)), 0, spec)).toBe(42);
  });

  it('requires an ICMP error to quote at least the IP header + 8 bytes of an IPv4 datagram', () => {
    const original = buildTcpFrame(base).subarray(14);
    expect(() =>
      buildIcmpUnreachableFrame({ srcMac: A, dstMac: B, src: 1, dst: 2, original, maxQuote: 27 }),
    ).toThrow(/IP header \+ 8 bytes \(28\)/);
    expect(() =>
      buildIcmpUnreachableFrame({ srcMac: A, dstMac: B, src: 1, dst: 2, original: new Uint8Array(40) }),
    ).toThrow(/offending IPv4 header/);
  });

  it('parses and formats MACs, rejecting malformed text', () => {
    expect(formatMac(parseMac('AA:bb:0c:DD:ee:0F'))).toBe('aa:bb:0c:dd:ee:0f');
    for (const bad of ['aa:bb:cc:dd:ee', 'aa-bb-cc-dd-ee-ff', 'aa:bb:cc:dd:ee:fg', '']) {
      expect(() => parseMac(bad)).toThrow(MacAddressError);
    }
  });
});

describe('tunnels', () => {
  it('decapsulation explains why a frame is not the expected tunnel', () => {
    const udp = buildUdpFrame({
      srcMac: A,
      dstMac: B,
      src: 1,
      dst: 2,
      sport: 1,
      dport: 2,
      payload: new Uint8Array(20),
    });
    expect(vxlanDecapsulate(udp)).toEqual({ ok: false, reason: 'UDP destination port 2 is not 4789' });
    expect(vxlanDecapsulate(udp, 'any')).toEqual({ ok: false, reason: 'VXLAN I flag not set' });
    expect(ipipDecapsulate(udp)).toEqual({ ok: false, reason: 'outer protocol is not 4 (IPIP)' });
    const vxlan = vxlanEncapsulate(
      { srcMac: A, dstMac: B, src: 1, dst: 2, srcPort: 1, dstPort: 8472, vni: 5 },
      udp,
    );
    expect(vxlanDecapsulate(vxlan.subarray(0, 60), 8472).ok).toBe(false);
    expect(vxlanDecapsulate(vxlan, 8472)).toMatchObject({ ok: true, vni: 5 });
  });

  it("spreads flow hashes over Linux's source-port range like udp_flow_src_port", () => {
    const ports = new Set<number>();
    for (let hash = 0; hash < 4096; hash++) {
      const port = flowSourcePort(Math.imul(hash, 0x9e3779b1) >>> 0);
      expect(port).toBeGreaterThanOrEqual(32768);
      expect(port).toBeLessThan(61000);
      ports.add(port);
    }
    expect(ports.size).toBeGreaterThan(3500);
  });
});
