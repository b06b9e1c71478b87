/**
 * rewriteAddrAt takes the address width as a parameter, so one helper serves IPv4 and IPv6.
 * The oracle is a full recomputation written out here (sumWords over pseudo-header and
 * segment), independent of the incremental code under test.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AddressWidth, finishChecksum, ipv4HeaderChecksum, sumWords } from '../../src/wire/checksum.js';
import { IpProtocol } from '../../src/wire/ip-protocol.js';
import { Ipv4Field } from '../../src/wire/ipv4.js';
import { NO_CHECKSUM, rewriteAddrAt, rewriteIpv4AddrAt } from '../../src/wire/rewrite.js';
import { TcpField } from '../../src/wire/tcp.js';
import { UdpField } from '../../src/wire/udp.js';

const IPV6_HEADER = 40;
const IPV6_SRC = 8;
const IPV6_DST = 24;
const IPV4_HEADER = 20;

/** Full L4 checksum over a pseudo-header (src, dst of `width` bytes, 32-bit length, protocol). */
function fullL4Checksum(
  frame: Uint8Array,
  srcAt: number,
  dstAt: number,
  width: AddressWidth,
  l4: number,
  l4Length: number,
  protocol: number,
): number {
  const checkAt = l4 + (protocol === IpProtocol.UDP ? UdpField.CHECKSUM : TcpField.CHECKSUM);
  let sum = sumWords(frame, srcAt, width) + sumWords(frame, dstAt, width) + l4Length + protocol;
  sum += sumWords(frame, l4, l4Length) - ((frame[checkAt] << 8) | frame[checkAt + 1]);
  const check = finishChecksum(sum);
  return protocol === IpProtocol.UDP && check === 0 ? 0xffff : check;
}

function readCheck(frame: Uint8Array, at: number): number {
  return (frame[at] << 8) | frame[at + 1];
}

function writeCheck(frame: Uint8Array, at: number, value: number): void {
  frame[at] = value >>> 8;
  frame[at + 1] = value & 0xff;
}

const protocolArb = fc.constantFrom(IpProtocol.TCP, IpProtocol.UDP);
const segmentArb = fc.uint8Array({ minLength: 20, maxLength: 80 });
const addr16 = fc.uint8Array({ minLength: 16, maxLength: 16 });

/** An IPv6 frame (40-byte header, no extension headers) with a correct L4 checksum. */
function ipv6Frame(src: Uint8Array, dst: Uint8Array, protocol: number, segment: Uint8Array): Uint8Array {
  const frame = new Uint8Array(IPV6_HEADER + segment.length);
  frame[0] = 0x60;
  frame[6] = protocol;
  frame.set(src, IPV6_SRC);
  frame.set(dst, IPV6_DST);
  frame.set(segment, IPV6_HEADER);
  const checkAt = IPV6_HEADER + (protocol === IpProtocol.UDP ? UdpField.CHECKSUM : TcpField.CHECKSUM);
  writeCheck(
    frame,
    checkAt,
    fullL4Checksum(frame, IPV6_SRC, IPV6_DST, 16, IPV6_HEADER, segment.length, protocol),
  );
  return frame;
}

describe('rewriteAddrAt (address width as a parameter)', () => {
  it('property: over 16-byte (IPv6) addresses the incremental L4 checksum equals a full recompute', () => {
    fc.assert(
      fc.property(
        addr16,
        addr16,
        addr16,
        protocolArb,
        segmentArb,
        fc.boolean(),
        (src, dst, next, protocol, segment, rewriteSource) => {
          const frame = ipv6Frame(src, dst, protocol, segment);
          const checkAt = IPV6_HEADER + (protocol === IpProtocol.UDP ? UdpField.CHECKSUM : TcpField.CHECKSUM);
          rewriteAddrAt(
            frame,
            rewriteSource ? IPV6_SRC : IPV6_DST,
            next,
            0,
            16,
            NO_CHECKSUM,
            checkAt,
            protocol,
          );
          expect(
            Array.from(
              frame.subarray(rewriteSource ? IPV6_SRC : IPV6_DST, (rewriteSource ? IPV6_SRC : IPV6_DST) + 16),
            ),
          ).toEqual(Array.from(next));
          const full = fullL4Checksum(frame, IPV6_SRC, IPV6_DST, 16, IPV6_HEADER, segment.length, protocol);
          expect(readCheck(frame, checkAt)).toBe(full);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: a UDP checksum of 0 ("none") stays 0 after a 16-byte address rewrite', () => {
    fc.assert(
      fc.property(addr16, addr16, addr16, segmentArb, (src, dst, next, segment) => {
        const frame = ipv6Frame(src, dst, IpProtocol.UDP, segment);
        const checkAt = IPV6_HEADER + UdpField.CHECKSUM;
        writeCheck(frame, checkAt, 0);
        rewriteAddrAt(frame, IPV6_DST, next, 0, 16, NO_CHECKSUM, checkAt, IpProtocol.UDP);
        expect(readCheck(frame, checkAt)).toBe(0);
      }),
    );
  });

  it('property: with width 4 it writes the same bytes as the IPv4 fast path rewriteIpv4AddrAt', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        protocolArb,
        segmentArb,
        fc.boolean(),
        (src, dst, next, protocol, segment, rewriteSource) => {
          const frame = new Uint8Array(IPV4_HEADER + segment.length);
          frame[0] = 0x45;
          frame[Ipv4Field.PROTOCOL] = protocol;
          frame.set(src, Ipv4Field.SRC);
          frame.set(dst, Ipv4Field.DST);
          frame.set(segment, IPV4_HEADER);
          writeCheck(frame, Ipv4Field.CHECKSUM, ipv4HeaderChecksum(frame, 0));
          const checkAt = IPV4_HEADER + (protocol === IpProtocol.UDP ? UdpField.CHECKSUM : TcpField.CHECKSUM);
          writeCheck(
            frame,
            checkAt,
            fullL4Checksum(frame, Ipv4Field.SRC, Ipv4Field.DST, 4, IPV4_HEADER, segment.length, protocol),
          );
          const field = rewriteSource ? Ipv4Field.SRC : Ipv4Field.DST;
          const generic = frame.slice();
          const fast = frame.slice();
          rewriteAddrAt(generic, field, next, 0, 4, Ipv4Field.CHECKSUM, checkAt, protocol);
          const asNumber = ((next[0] << 24) | (next[1] << 16) | (next[2] << 8) | next[3]) >>> 0;
          rewriteIpv4AddrAt(fast, 0, field, IPV4_HEADER, protocol, asNumber);
          expect(Array.from(generic)).toEqual(Array.from(fast));
          expect(readCheck(generic, Ipv4Field.CHECKSUM)).toBe(ipv4HeaderChecksum(generic, 0));
        },
      ),
      { numRuns: 500 },
    );
  });
});
