import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { buildIcmpEchoFrame, buildTcpFrame, buildUdpFrame } from '../../src/wire/build.js';
import { readU16 } from '../../src/wire/bytes.js';
import {
  checksumAfterTtlDecrement,
  checksumReplace16,
  checksumReplace32,
  icmpChecksum,
  internetChecksum,
  ipv4HeaderChecksum,
  tcpChecksum,
  udpChecksum,
  udpChecksumReplace16,
  verifyIpv4HeaderChecksum,
  verifyTcpChecksum,
  verifyUdpChecksum,
} from '../../src/wire/checksum.js';
import { parseMac } from '../../src/wire/mac.js';
import {
  decrementTtl,
  rewriteDestination,
  rewriteDstPort,
  rewriteIpv4Dst,
  rewriteIpv4Src,
  rewriteSource,
  rewriteSrcPort,
} from '../../src/wire/rewrite.js';
import { tcpFrameSpec, u16, u32, udpFrameSpec } from './arbitraries.js';

const IP = 14;

function hex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

/** Katran's fixture #1 (decoded and checked in the team reference): UDP 192.168.1.1:31337 → 10.200.1.1:80. */
const KATRAN_UDP = new Uint8Array(
  Buffer.from('AgAAAAAAAQAAAAAACABFAAArAAEAAEARrU/AqAEBCsgBAXppAFAAF5fea2F0cmFuIHRlc3QgcGt0', 'base64'),
);

/** Full recomputation of every checksum a frame carries, as [ip, l4]. */
function fullChecksums(frame: Uint8Array): [number, number] {
  const ihl = (frame[IP] & 0x0f) * 4;
  const l4 = IP + ihl;
  const l4Length = readU16(frame, IP + 2) - ihl;
  const src = (readU16(frame, IP + 12) * 0x10000 + readU16(frame, IP + 14)) >>> 0;
  const dst = (readU16(frame, IP + 16) * 0x10000 + readU16(frame, IP + 18)) >>> 0;
  const ip = ipv4HeaderChecksum(frame, IP);
  if (frame[IP + 9] === 6) return [ip, tcpChecksum(frame, l4, l4Length, src, dst)];
  const udpCheck = readU16(frame, l4 + 6);
  return [ip, udpCheck === 0 ? 0 : udpChecksum(frame, l4, l4Length, src, dst)];
}

function storedChecksums(frame: Uint8Array): [number, number] {
  const l4 = IP + (frame[IP] & 0x0f) * 4;
  return [readU16(frame, IP + 10), readU16(frame, l4 + (frame[IP + 9] === 6 ? 16 : 6))];
}

function verifies(frame: Uint8Array): boolean {
  const ihl = (frame[IP] & 0x0f) * 4;
  const l4Length = readU16(frame, IP + 2) - ihl;
  const src = (readU16(frame, IP + 12) * 0x10000 + readU16(frame, IP + 14)) >>> 0;
  const dst = (readU16(frame, IP + 16) * 0x10000 + readU16(frame, IP + 18)) >>> 0;
  const l4ok =
    frame[IP + 9] === 6
      ? verifyTcpChecksum(frame, IP + ihl, l4Length, src, dst)
      : verifyUdpChecksum(frame, IP + ihl, l4Length, src, dst);
  return verifyIpv4HeaderChecksum(frame, IP) && l4ok;
}

describe('known answers', () => {
  it('computes RFC 1071 section 3 example (00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2)', () => {
    expect(internetChecksum(hex('0001f203f4f5f6f7'), 0, 8)).toBe(~0xddf2 & 0xffff);
  });

  it('pads an odd trailing byte with zero', () => {
    expect(internetChecksum(hex('0001f203f4f5f6'), 0, 7)).toBe(
      internetChecksum(hex('0001f203f4f5f600'), 0, 8),
    );
  });

  it("follows RFC 1624's example: HC 0xDD2F, m 0x5555 → 0x3285 gives 0x0000, not RFC 1141's 0xFFFF", () => {
    expect(checksumReplace16(0xdd2f, 0x5555, 0x3285)).toBe(0x0000);
  });

  it("matches Katran fixture #1's IPv4 (0xad4f) and UDP (0x97de) checksums", () => {
    expect(ipv4HeaderChecksum(KATRAN_UDP, IP)).toBe(0xad4f);
    expect(udpChecksum(KATRAN_UDP, 34, 23, parseIPv4('192.168.1.1'), parseIPv4('10.200.1.1'))).toBe(0x97de);
    expect(verifies(KATRAN_UDP)).toBe(true);
  });

  it('DNATs Katran fixture #1 to 10.0.0.3:8080 giving IP 0xaf15 and UDP 0x7a64, then TTL 64→63 gives 0xb015', () => {
    const frame = KATRAN_UDP.slice();
    rewriteIpv4Dst(frame, IP, parseIPv4('10.0.0.3'));
    rewriteDstPort(frame, IP, 8080);
    expect(storedChecksums(frame)).toEqual([0xaf15, 0x7a64]);
    expect(decrementTtl(frame, IP)).toBe(63);
    expect(readU16(frame, IP + 10)).toBe(0xb015);
    expect(storedChecksums(frame)).toEqual(fullChecksums(frame));
  });

  it("builds Katran's echo-reply fixture byte for byte: an all-zero ICMP message checksums to 0xffff", () => {
    const expected = Buffer.from('AQAAAAAAAgAAAAAACABFAAAcAAEAAEABrWwKyAEDwKgBAQAA//8AAAAA', 'base64');
    const reply = buildIcmpEchoFrame({
      srcMac: parseMac('02:00:00:00:00:00'),
      dstMac: parseMac('01:00:00:00:00:00'),
      src: parseIPv4('10.200.1.3'),
      dst: parseIPv4('192.168.1.1'),
      id: 1,
      dontFragment: false,
      reply: true,
      ident: 0,
      sequence: 0,
    });
    expect(Buffer.from(reply).equals(expected)).toBe(true);
    expect(icmpChecksum(reply, 34, 8)).toBe(0xffff);
  });

  it('turns a computed UDP checksum of 0 into 0xffff', () => {
    // Choose the payload word so the whole sum is 0xffff, i.e. the checksum computes to 0.
    const base = buildUdpFrame({
      srcMac: parseMac('02:00:00:00:00:01'),
      dstMac: parseMac('02:00:00:00:00:02'),
      src: 0x0a000001,
      dst: 0x0a000002,
      sport: 1000,
      dport: 2000,
      payload: new Uint8Array(2),
    });
    const check = readU16(base, 40);
    // Adding `check` as payload word lowers the complement to exactly zero.
    base[42] = check >>> 8;
    base[43] = check & 0xff;
    expect(udpChecksum(base, 34, 10, 0x0a000001, 0x0a000002)).toBe(0xffff);
  });

  it('leaves a UDP checksum of 0 ("none") at 0 on a port rewrite', () => {
    expect(udpChecksumReplace16(0, 80, 8080)).toBe(0);
  });
});

describe('incremental update (RFC 1624)', () => {
  it('gives, for any 16-bit checksum and word change, a value that is never 0xffff and equals a full recompute of a word pair', () => {
    fc.assert(
      fc.property(u16, u16, u16, (other, oldWord, newWord) => {
        // Data = [other, oldWord] with other ≠ 0 so the data is never all zero.
        const data = new Uint8Array([other >>> 8 || 1, other & 0xff, oldWord >>> 8, oldWord & 0xff]);
        const check = internetChecksum(data, 0, 4);
        data[2] = newWord >>> 8;
        data[3] = newWord & 0xff;
        const incremental = checksumReplace16(check, oldWord, newWord);
        expect(incremental).toBe(internetChecksum(data, 0, 4));
        expect(incremental).not.toBe(0xffff);
      }),
    );
  });

  it('replacing a 32-bit value equals two 16-bit replacements', () => {
    fc.assert(
      fc.property(u16, u32, u32, (check, oldValue, newValue) => {
        const twoSteps = checksumReplace16(
          checksumReplace16(check, oldValue >>> 16, newValue >>> 16),
          oldValue & 0xffff,
          newValue & 0xffff,
        );
        expect(checksumReplace32(check, oldValue, newValue)).toBe(twoSteps);
      }),
    );
  });

  it('the TTL-decrement shortcut equals checksumReplace16 on the TTL/protocol word', () => {
    fc.assert(
      fc.property(
        u16,
        fc.integer({ min: 1, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
        (check, ttl, proto) => {
          expect(checksumAfterTtlDecrement(check)).toBe(
            checksumReplace16(check, (ttl << 8) | proto, ((ttl - 1) << 8) | proto),
          );
        },
      ),
    );
  });

  const rewrite = fc.record({
    src: fc.option(u32, { nil: undefined }),
    dst: fc.option(u32, { nil: undefined }),
    sport: fc.option(u16, { nil: undefined }),
    dport: fc.option(u16, { nil: undefined }),
    ttl: fc.boolean(),
  });

  function applyRewrite(
    frame: Uint8Array,
    r: typeof rewrite extends fc.Arbitrary<infer T> ? T : never,
  ): void {
    if (r.src !== undefined) rewriteIpv4Src(frame, IP, r.src);
    if (r.dst !== undefined) rewriteIpv4Dst(frame, IP, r.dst);
    if (r.sport !== undefined) rewriteSrcPort(frame, IP, r.sport);
    if (r.dport !== undefined) rewriteDstPort(frame, IP, r.dport);
    if (r.ttl && frame[IP + 8] > 0) decrementTtl(frame, IP);
  }

  it('for arbitrary TCP frames and rewrites (address, port, TTL, combined), incremental == full recompute and both verify', () => {
    fc.assert(
      fc.property(tcpFrameSpec, rewrite, (spec, r) => {
        const frame = buildTcpFrame(spec);
        applyRewrite(frame, r);
        expect(storedChecksums(frame)).toEqual(fullChecksums(frame));
        expect(verifies(frame)).toBe(true);
        expect(readU16(frame, IP + 10)).not.toBe(0xffff);
      }),
      { numRuns: 300 },
    );
  });

  it('for arbitrary UDP frames and rewrites, incremental == full recompute, 0 stays "no checksum", and both verify', () => {
    fc.assert(
      fc.property(udpFrameSpec, rewrite, (spec, r) => {
        const frame = buildUdpFrame(spec);
        const hadChecksum = storedChecksums(frame)[1] !== 0;
        applyRewrite(frame, r);
        expect(storedChecksums(frame)).toEqual(fullChecksums(frame));
        expect(storedChecksums(frame)[1] !== 0).toBe(hadChecksum);
        expect(verifies(frame)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('one-pass rewriteDestination/rewriteSource write the same bytes as the separate address and port rewrites', () => {
    fc.assert(
      fc.property(
        fc.oneof(tcpFrameSpec.map(buildTcpFrame), udpFrameSpec.map(buildUdpFrame)),
        u32,
        u16,
        u32,
        u16,
        (frame, daddr, dport, saddr, sport) => {
          const separate = frame.slice();
          rewriteIpv4Dst(separate, IP, daddr);
          rewriteDstPort(separate, IP, dport);
          rewriteIpv4Src(separate, IP, saddr);
          rewriteSrcPort(separate, IP, sport);
          const onePass = frame.slice();
          rewriteDestination(onePass, IP, daddr, dport);
          rewriteSource(onePass, IP, saddr, sport);
          expect(onePass).toEqual(separate);
          expect(storedChecksums(onePass)).toEqual(fullChecksums(onePass));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a TCP checksum never becomes 0xffff when the new data sums to 0xffff (the tshark tcp.checksum.ffff case)', () => {
    // Build a segment, then pick a new destination port that makes the full checksum 0.
    const frame = buildTcpFrame({
      srcMac: parseMac('02:00:00:00:00:01'),
      dstMac: parseMac('02:00:00:00:00:02'),
      src: 0x0a000001,
      dst: 0x0a000002,
      sport: 40000,
      dport: 80,
      seq: 1,
      flags: 0x02,
      window: 64240,
    });
    const check = readU16(frame, 50);
    // New checksum = check − (new − old) in one's complement; new = old + check makes it 0.
    let port = 80 + check;
    port = (port & 0xffff) + (port >>> 16);
    rewriteDstPort(frame, IP, port);
    expect(readU16(frame, 50)).toBe(0x0000);
    expect(storedChecksums(frame)).toEqual(fullChecksums(frame));
  });
});
