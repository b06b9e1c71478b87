/**
 * The readers host.ts's receive path uses (readTcpSegment, readQuotedTcpSegment) against
 * frames built by src/wire's builders: what was sent is what is read.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readQuotedTcpSegment, readTcpSegment } from '../../src/apps/segment-codec.js';
import { writeIcmpUnreachableFrame, writeTcpFrame, writeUdpFrame } from '../../src/wire/build.js';
import { newFiveTuple, ParseStatus, parseFiveTuple } from '../../src/wire/five-tuple.js';

const MAC_A = new Uint8Array([2, 0, 0, 0, 0, 1]);
const MAC_B = new Uint8Array([2, 0, 0, 0, 0, 2]);
const ETH = 14;

describe('segment codec readers', () => {
  it('property: readTcpSegment returns the addresses, ports, seq/ack, flags, window, options and payload that were written (the payload a view of the frame, no copy)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 1, max: 0xffff }),
        fc.integer({ min: 1, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0x1ff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.uint8Array({ maxLength: 64 }),
        fc.boolean(),
        (src, dst, sport, dport, seq, ack, flags, window, payload, withMss) => {
          const frame = new Uint8Array(256);
          const options = withMss ? [{ kind: 'mss' as const, value: 1460 }] : [];
          const len = writeTcpFrame(frame, 0, {
            srcMac: MAC_A,
            dstMac: MAC_B,
            src,
            dst,
            sport,
            dport,
            seq,
            ack,
            flags,
            window,
            options,
            payload,
          });
          const ft = newFiveTuple();
          expect(parseFiveTuple(frame, ft, 0, len)).toBe(ParseStatus.OK);
          const seg = readTcpSegment(frame, ft);
          expect(seg).toMatchObject({ src, dst, sport, dport, seq, ack, flags, window, options });
          expect(Array.from(seg.payload)).toEqual(Array.from(payload));
          // A view of the frame, not a copy: the host keeps the slot until its stack returns.
          expect(seg.payload.length === 0 || seg.payload.buffer === frame.buffer).toBe(true);
          frame.fill(0);
          expect(seg.payload.every((b) => b === 0)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('readQuotedTcpSegment finds the original ports and seq in an ICMP unreachable, and null when the quoted datagram is not TCP', () => {
    const original = new Uint8Array(128);
    const origLen = writeTcpFrame(original, 0, {
      srcMac: MAC_A,
      dstMac: MAC_B,
      src: 0x0a000001,
      dst: 0x0a000002,
      sport: 40000,
      dport: 80,
      seq: 0x12345678,
      ack: 0,
      flags: 0x02,
      window: 64240,
    });
    const ip = original.subarray(ETH, origLen);
    const spec = { srcMac: MAC_B, dstMac: MAC_A, src: 0x0a000002, dst: 0x0a000001, original: ip };
    const frame = new Uint8Array(256);
    const len = writeIcmpUnreachableFrame(frame, 0, spec);
    const ft = newFiveTuple();
    expect(parseFiveTuple(frame, ft, 0, len)).toBe(ParseStatus.OK);
    expect(readQuotedTcpSegment(frame, ft)).toMatchObject({
      src: 0x0a000001,
      dst: 0x0a000002,
      sport: 40000,
      dport: 80,
      seq: 0x12345678,
    });

    const udp = new Uint8Array(128);
    const udpLen = writeUdpFrame(udp, 0, {
      srcMac: MAC_A,
      dstMac: MAC_B,
      src: 0x0a000001,
      dst: 0x0a000002,
      sport: 40000,
      dport: 53,
      payload: new Uint8Array(4),
    });
    const notTcp = new Uint8Array(256);
    const notTcpLen = writeIcmpUnreachableFrame(notTcp, 0, { ...spec, original: udp.subarray(ETH, udpLen) });
    expect(parseFiveTuple(notTcp, ft, 0, notTcpLen)).toBe(ParseStatus.OK);
    expect(readQuotedTcpSegment(notTcp, ft)).toBeNull();
  });
});
