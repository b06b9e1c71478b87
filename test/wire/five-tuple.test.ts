import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildArpRequest, buildIcmpEchoFrame, buildTcpFrame, buildUdpFrame } from '../../src/wire/build.js';
import { decodeFrame, findLayer } from '../../src/wire/decode.js';
import { newFiveTuple, PARSE_STATUS_TEXT, ParseStatus, parseFiveTuple } from '../../src/wire/five-tuple.js';
import { parseMac } from '../../src/wire/mac.js';
import { icmpEchoFrameSpec, tcpFrameSpec, udpFrameSpec } from './arbitraries.js';

const MAC = parseMac('02:00:00:00:00:01');

describe('parseFiveTuple', () => {
  it('extracts the same addresses, protocol, ports and offsets the full decoder finds, for TCP and UDP', () => {
    const out = newFiveTuple();
    fc.assert(
      fc.property(fc.oneof(tcpFrameSpec.map(buildTcpFrame), udpFrameSpec.map(buildUdpFrame)), (frame) => {
        expect(parseFiveTuple(frame, out)).toBe(ParseStatus.OK);
        const layers = decodeFrame(frame).layers;
        const ip = findLayer(layers, 'ipv4')!;
        const l4 = findLayer(layers, 'tcp') ?? findLayer(layers, 'udp')!;
        expect([out.saddr, out.daddr, out.proto, out.sport, out.dport]).toEqual([
          ip.repr.src,
          ip.repr.dst,
          ip.repr.protocol,
          l4.repr.srcPort,
          l4.repr.dstPort,
        ]);
        expect([out.ipOffset, out.l4Offset, out.ipTotalLength, out.ttl]).toEqual([
          14,
          14 + ip.headerLength,
          ip.totalLength,
          ip.repr.ttl,
        ]);
        expect(out.tcpFlags).toBe(l4.kind === 'tcp' ? l4.repr.flags : 0);
      }),
      { numRuns: 300 },
    );
  });

  it('reads ICMP type, code and echo identifier with ports 0', () => {
    const out = newFiveTuple();
    fc.assert(
      fc.property(icmpEchoFrameSpec, (spec) => {
        expect(parseFiveTuple(buildIcmpEchoFrame(spec), out)).toBe(ParseStatus.OK);
        expect([out.proto, out.sport, out.dport, out.icmpType, out.icmpCode, out.icmpId]).toEqual([
          1,
          0,
          0,
          spec.reply ? 0 : 8,
          0,
          spec.ident,
        ]);
      }),
      { numRuns: 100 },
    );
  });

  it('parses a frame at an offset inside a larger buffer', () => {
    const frame = buildUdpFrame({ srcMac: MAC, dstMac: MAC, src: 1, dst: 2, sport: 3, dport: 4 });
    const buf = new Uint8Array(frame.length + 100);
    buf.set(frame, 37);
    const out = newFiveTuple();
    expect(parseFiveTuple(buf, out, 37, frame.length)).toBe(ParseStatus.OK);
    expect([out.ipOffset, out.l4Offset, out.sport, out.dport]).toEqual([51, 71, 3, 4]);
  });

  it('returns a specific status code, never throwing, for every malformation', () => {
    const tcp = buildTcpFrame({
      srcMac: MAC,
      dstMac: MAC,
      src: 1,
      dst: 2,
      sport: 3,
      dport: 4,
      seq: 0,
      flags: 2,
      window: 1,
    });
    const udp = buildUdpFrame({ srcMac: MAC, dstMac: MAC, src: 1, dst: 2, sport: 3, dport: 4 });
    const edit = (frame: Uint8Array, at: number, value: number) => {
      const copy = frame.slice();
      copy[at] = value;
      return copy;
    };
    const fragment = edit(tcp, 14 + 7, 0x10);
    const cases: [Uint8Array, ParseStatus][] = [
      [tcp.subarray(0, 13), ParseStatus.TRUNCATED_ETHERNET],
      [buildArpRequest(MAC, 1, 2), ParseStatus.NOT_IPV4],
      [tcp.subarray(0, 33), ParseStatus.TRUNCATED_IPV4],
      [edit(tcp, 14, 0x65), ParseStatus.BAD_IP_VERSION],
      [edit(tcp, 14, 0x44), ParseStatus.BAD_IHL],
      [edit(tcp, 14, 0x4f), ParseStatus.BAD_IHL],
      [tcp.subarray(0, 50), ParseStatus.BAD_TOTAL_LENGTH],
      [edit(tcp, 14 + 3, 19), ParseStatus.BAD_TOTAL_LENGTH],
      [fragment, ParseStatus.FRAGMENT],
      [edit(tcp, 14 + 3, 30), ParseStatus.TRUNCATED_L4],
      [edit(tcp, 14 + 20 + 12, 0x40), ParseStatus.BAD_TCP_DATA_OFFSET],
      [edit(tcp, 14 + 20 + 12, 0x60), ParseStatus.BAD_TCP_DATA_OFFSET],
      [edit(udp, 14 + 20 + 5, 7), ParseStatus.BAD_UDP_LENGTH],
      [edit(udp, 14 + 20 + 5, 9), ParseStatus.BAD_UDP_LENGTH],
    ];
    const out = newFiveTuple();
    for (const [frame, status] of cases) {
      expect(PARSE_STATUS_TEXT[parseFiveTuple(frame, out)]).toBe(PARSE_STATUS_TEXT[status]);
    }
    parseFiveTuple(fragment, out);
    expect([out.saddr, out.daddr, out.proto, out.sport, out.dport]).toEqual([1, 2, 6, 0, 0]);
  });

  it('on arbitrary bytes returns a known status and never throws', () => {
    const out = newFiveTuple();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.boolean(), (bytes, forceIpv4) => {
        if (forceIpv4 && bytes.length >= 14) {
          bytes[12] = 0x08;
          bytes[13] = 0x00;
        }
        const status = parseFiveTuple(bytes, out);
        expect(PARSE_STATUS_TEXT[status]).toBeDefined();
      }),
      { numRuns: 1000 },
    );
  });
});
