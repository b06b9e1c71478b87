/**
 * IPv6 packets (issue 15 item 1): addresses as text, the header and its extension headers,
 * the pseudo-header checksums of TCP/UDP/ICMPv6, ICMPv6 errors, the per-packet parser and
 * in-place NAT over 128-bit addresses. Oracles: WHATWG URL host serialisation (Node's URL)
 * for address text, and full checksum recomputation for every incremental update.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIPv6, ipv6Bytes, parseCidr6, parseIPv6, readIPv6 } from '../../src/util/ipv6.js';
import {
  buildIcmpv6EchoFrame,
  buildIcmpv6ErrorFrame,
  buildTcp6Frame,
  buildUdp6Frame,
  type Ipv6Extension,
} from '../../src/wire/build6.js';
import {
  icmpv6Checksum,
  tcp6Checksum,
  udp6Checksum,
  verifyIpv6L4Checksum,
} from '../../src/wire/checksum6.js';
import { decodeFrame, findLayer } from '../../src/wire/decode.js';
import { newIpv6FiveTuple, Parse6Status, parseIpv6FiveTuple } from '../../src/wire/five-tuple6.js';
import { IpProtocol } from '../../src/wire/ip-protocol.js';
import { decrementHopLimit, Ipv6Field } from '../../src/wire/ipv6.js';
import { parseMac } from '../../src/wire/mac.js';
import { NO_L4_HEADER, rewriteIpv6AddrAt, rewriteIpv6Endpoint } from '../../src/wire/rewrite6.js';
import { TcpField } from '../../src/wire/tcp.js';

const A = parseMac('02:00:00:00:00:01');
const B = parseMac('02:00:00:00:00:02');
const ETH = 14;

const value128 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n });
/** Values with runs of zero groups, where `::` placement matters. */
const sparse128 = fc
  .array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), {
    minLength: 8,
    maxLength: 8,
  })
  .map((groups) => groups.reduce((v, g) => (v << 16n) | BigInt(g), 0n));
const addr16 = fc.oneof(value128, sparse128).map(ipv6Bytes);
const extensionArb: fc.Arbitrary<Ipv6Extension> = fc.oneof(
  fc.record({
    kind: fc.constant('hopByHop' as const),
    length: fc.integer({ min: 1, max: 4 }).map((n) => n * 8),
  }),
  fc.record({
    kind: fc.constant('destOptions' as const),
    length: fc.integer({ min: 1, max: 4 }).map((n) => n * 8),
  }),
  fc.record({
    kind: fc.constant('routing' as const),
    length: fc.integer({ min: 1, max: 3 }).map((n) => n * 8),
  }),
  fc.record({
    kind: fc.constant('fragment' as const),
    ident: fc.integer({ min: 0, max: 0xffffffff }),
    offset: fc.constant(0),
    more: fc.constant(false),
  }),
);

describe('IPv6 address text', () => {
  it('property: formatIPv6 is RFC 5952 canonical (equals the WHATWG URL serialisation) and parses back to the same value', () => {
    fc.assert(
      fc.property(fc.oneof(value128, sparse128), (v) => {
        const text = formatIPv6(v);
        expect(new URL(`http://[${text}]/`).hostname).toBe(`[${text}]`);
        expect(parseIPv6(text)).toBe(v);
      }),
      { numRuns: 500 },
    );
  });

  it('parses kubespray ranges and refuses malformed text', () => {
    expect(formatIPv6(parseIPv6('fd85:ee78:d8a6:8607:0:0:0:1000'))).toBe('fd85:ee78:d8a6:8607::1000');
    expect(formatIPv6(parseIPv6('::ffff:10.0.0.1'))).toBe('::ffff:a00:1');
    expect(parseCidr6('fd85:ee78:d8a6:8607::1:0/112').prefixLength).toBe(112);
    for (const bad of ['1::2::3', ':::', '12345::', 'fd00::1%eth0', '1:2:3:4:5:6:7:8:9', 'g::1', ''])
      expect(() => parseIPv6(bad), bad).toThrow(/invalid IPv6 address/);
    expect(() => parseCidr6('fd85::1/112')).toThrow(/host bits set/);
    expect(() => parseCidr6('fd85::/129')).toThrow(/invalid CIDR/);
  });
});

describe('IPv6 frames', () => {
  it('property: a built TCP/IPv6 frame with any extension headers decodes to the same fields with a valid checksum', () => {
    fc.assert(
      fc.property(
        addr16,
        addr16,
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.array(extensionArb, { maxLength: 3 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.integer({ min: 1, max: 255 }),
        fc.integer({ min: 0, max: 0xfffff }),
        (src, dst, sport, dport, extensions, payload, hopLimit, flowLabel) => {
          const frame = buildTcp6Frame({
            srcMac: A,
            dstMac: B,
            src,
            dst,
            sport,
            dport,
            seq: 1,
            flags: 0x18,
            window: 500,
            payload,
            extensions,
            hopLimit,
            flowLabel,
          });
          const decoded = decodeFrame(frame);
          expect(decoded.ok).toBe(true);
          const ip = findLayer(decoded.layers, 'ipv6');
          expect(ip?.repr.src).toEqual(src);
          expect(ip?.repr.dst).toEqual(dst);
          expect(ip?.repr.hopLimit).toBe(hopLimit);
          expect(ip?.repr.flowLabel).toBe(flowLabel);
          expect(ip?.extensions.length).toBe(extensions.length);
          const tcp = findLayer(decoded.layers, 'tcp');
          expect(tcp?.checksumValid).toBe(true);
          expect(tcp?.repr.srcPort).toBe(sport);
          expect(tcp?.payload).toEqual(payload);

          const ft = newIpv6FiveTuple();
          expect(parseIpv6FiveTuple(frame, ft)).toBe(Parse6Status.OK);
          expect([ft.proto, ft.sport, ft.dport, ft.hopLimit]).toEqual([
            IpProtocol.TCP,
            sport,
            dport,
            hopLimit,
          ]);
          expect(readIPv6(frame, ft.saddrAt)).toBe(readIPv6(src));
          expect(ft.l4Length).toBe(20 + payload.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: incremental NAT of a 128-bit address and a port equals a full checksum recomputation (TCP, UDP, ICMPv6)', () => {
    fc.assert(
      fc.property(
        addr16,
        addr16,
        addr16,
        fc.constantFrom('tcp', 'udp', 'icmpv6'),
        fc.boolean(),
        fc.integer({ min: 0, max: 0xffff }),
        fc.array(extensionArb, { maxLength: 2 }),
        fc.uint8Array({ maxLength: 40 }),
        (src, dst, to, kind, rewriteDst, port, extensions, payload) => {
          const base = { srcMac: A, dstMac: B, src, dst, extensions, payload };
          const frame =
            kind === 'tcp'
              ? buildTcp6Frame({ ...base, sport: 1000, dport: 80, seq: 7, flags: 0x02, window: 64800 })
              : kind === 'udp'
                ? buildUdp6Frame({ ...base, sport: 1000, dport: 53 })
                : buildIcmpv6EchoFrame({ ...base, ident: 9, sequence: 1 });
          const ft = newIpv6FiveTuple();
          expect(parseIpv6FiveTuple(frame, ft)).toBe(Parse6Status.OK);
          const field = rewriteDst ? Ipv6Field.DST : Ipv6Field.SRC;
          rewriteIpv6Endpoint(
            frame,
            ETH,
            field,
            ft.l4Offset,
            rewriteDst ? TcpField.DST_PORT : TcpField.SRC_PORT,
            ft.proto,
            to,
            0,
            port,
          );
          const checkAt = ft.l4Offset + (kind === 'tcp' ? 16 : kind === 'udp' ? 6 : 2);
          const carried = (frame[checkAt] << 8) | frame[checkAt + 1];
          const full =
            kind === 'tcp'
              ? tcp6Checksum(frame, ETH, ft.l4Offset, ft.l4Length)
              : kind === 'udp'
                ? udp6Checksum(frame, ETH, ft.l4Offset, ft.l4Length)
                : icmpv6Checksum(frame, ETH, ft.l4Offset, ft.l4Length);
          expect(carried).toBe(full);
          expect(verifyIpv6L4Checksum(frame, ETH, ft.l4Offset, ft.l4Length, ft.proto)).toBe(true);
          expect(readIPv6(frame, ETH + field)).toBe(readIPv6(to));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('a non-first fragment parses as FRAGMENT with no ports, and its rewrite touches no checksum', () => {
    const frame = buildUdp6Frame({
      srcMac: A,
      dstMac: B,
      src: ipv6Bytes(parseIPv6('fd00::1')),
      dst: ipv6Bytes(parseIPv6('fd00::2')),
      sport: 1,
      dport: 2,
      payload: new Uint8Array(16).fill(7),
      extensions: [{ kind: 'fragment', ident: 5, offset: 100, more: false }],
    });
    const ft = newIpv6FiveTuple();
    expect(parseIpv6FiveTuple(frame, ft)).toBe(Parse6Status.FRAGMENT);
    expect([ft.proto, ft.sport, ft.dport]).toEqual([IpProtocol.UDP, 0, 0]);
    const before = frame.slice(ft.l4Offset);
    rewriteIpv6AddrAt(frame, ETH, Ipv6Field.DST, NO_L4_HEADER, ft.proto, ipv6Bytes(parseIPv6('fd00::9')), 0);
    expect(frame.slice(ft.l4Offset)).toEqual(before);
    expect(decodeFrame(frame).line).toBe('IP6 fd00::1 > fd00::9: frag ip-proto-17');
  });

  it('property: parseIpv6FiveTuple never throws on arbitrary bytes and accepts only frames that decodeFrame also decodes', () => {
    const ft = newIpv6FiveTuple();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 120 }), (tail) => {
        const frame = new Uint8Array(14 + tail.length);
        frame[12] = 0x86;
        frame[13] = 0xdd;
        frame.set(tail, 14);
        const status = parseIpv6FiveTuple(frame, ft);
        const decoded = decodeFrame(frame);
        if (status === Parse6Status.OK) expect(findLayer(decoded.layers, 'ipv6')).toBeDefined();
      }),
      { numRuns: 2000 },
    );
  });

  it('truncated extension headers and short captures are reported, not thrown', () => {
    const frame = buildTcp6Frame({
      srcMac: A,
      dstMac: B,
      src: ipv6Bytes(1n),
      dst: ipv6Bytes(2n),
      sport: 1,
      dport: 2,
      seq: 0,
      flags: 2,
      window: 1,
      extensions: [{ kind: 'hopByHop', length: 16 }],
    });
    frame[ETH + 40 + 1] = 200; // Hdr Ext Len far past the payload
    const ft = newIpv6FiveTuple();
    expect(parseIpv6FiveTuple(frame, ft)).toBe(Parse6Status.BAD_EXTENSION_HEADER);
    expect(decodeFrame(frame).ok).toBe(false);
    expect(parseIpv6FiveTuple(frame.subarray(0, 50), ft)).toBe(Parse6Status.TRUNCATED_IPV6);
  });

  it('hop limit decrements with no checksum to patch', () => {
    const frame = buildTcp6Frame({
      srcMac: A,
      dstMac: B,
      src: ipv6Bytes(1n),
      dst: ipv6Bytes(2n),
      sport: 1,
      dport: 2,
      seq: 0,
      flags: 2,
      window: 1,
    });
    expect(decrementHopLimit(frame, ETH)).toBe(63);
    expect(findLayer(decodeFrame(frame).layers, 'tcp')?.checksumValid).toBe(true);
  });
});

describe('ICMPv6', () => {
  const node = ipv6Bytes(parseIPv6('fd85:ee78:d8a6:8607::1:1'));
  const client = ipv6Bytes(parseIPv6('fd00:192:168:100::1'));
  const syn = buildTcp6Frame({
    srcMac: A,
    dstMac: B,
    src: client,
    dst: node,
    sport: 40000,
    dport: 80,
    seq: 1,
    flags: 0x02,
    window: 64800,
  });

  it('port unreachable quotes the offending packet, carries a valid pseudo-header checksum and prints as tcpdump does', () => {
    const err = buildIcmpv6ErrorFrame({
      srcMac: B,
      dstMac: A,
      src: node,
      dst: client,
      error: { kind: 'destUnreachable', code: 4 },
      original: syn.subarray(ETH),
    });
    const decoded = decodeFrame(err);
    expect(decoded.ok).toBe(true);
    const icmp = findLayer(decoded.layers, 'icmpv6');
    expect(icmp?.checksumValid).toBe(true);
    expect(icmp?.payload).toEqual(syn.subarray(ETH));
    expect(decoded.line).toBe(
      'IP6 fd85:ee78:d8a6:8607::1:1 > fd00:192:168:100::1: ICMP6, destination unreachable, unreachable port, fd85:ee78:d8a6:8607::1:1 tcp port 80, length 68',
    );
  });

  it('an error never exceeds the 1280-byte minimum MTU, however large the offending packet', () => {
    const big = buildUdp6Frame({
      srcMac: A,
      dstMac: B,
      src: client,
      dst: node,
      sport: 1,
      dport: 2,
      payload: new Uint8Array(3000),
    });
    const err = buildIcmpv6ErrorFrame({
      srcMac: B,
      dstMac: A,
      src: node,
      dst: client,
      error: { kind: 'packetTooBig', mtu: 1280 },
      original: big.subarray(ETH),
    });
    expect(err.length - ETH).toBe(1280);
    const decoded = decodeFrame(err);
    expect(findLayer(decoded.layers, 'icmpv6')?.checksumValid).toBe(true);
    expect(decoded.line).toBe(
      'IP6 fd85:ee78:d8a6:8607::1:1 > fd00:192:168:100::1: ICMP6, packet too big, mtu 1280, length 1240',
    );
  });

  it('echo request and reply print with id and seq; an IPv4 header is refused as the quoted packet', () => {
    const echo = buildIcmpv6EchoFrame({
      srcMac: A,
      dstMac: B,
      src: client,
      dst: node,
      ident: 7,
      sequence: 3,
      payload: new Uint8Array(56),
    });
    expect(decodeFrame(echo).line).toBe(
      'IP6 fd00:192:168:100::1 > fd85:ee78:d8a6:8607::1:1: ICMP6, echo request, id 7, seq 3, length 64',
    );
    expect(() =>
      buildIcmpv6ErrorFrame({
        srcMac: B,
        dstMac: A,
        src: node,
        dst: client,
        error: { kind: 'destUnreachable', code: 4 },
        original: new Uint8Array(40).fill(0x45),
      }),
    ).toThrow(/IPv6 header/);
  });

  it('a TCP SYN over IPv6 prints as tcpdump -n prints it', () => {
    expect(decodeFrame(syn).line).toBe(
      'IP6 fd00:192:168:100::1.40000 > fd85:ee78:d8a6:8607::1:1.80: Flags [S], seq 1, win 64800, length 0',
    );
  });
});
