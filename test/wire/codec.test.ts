import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ArpView, writeArp } from '../../src/wire/arp.js';
import {
  buildArpFrame,
  buildIcmpEchoFrame,
  buildIcmpUnreachableFrame,
  buildTcpFrame,
  buildUdpFrame,
  tcpFrameLength,
  writeTcpFrame,
} from '../../src/wire/build.js';
import { type DecodedLayer, decodeFrame } from '../../src/wire/decode.js';
import {
  ipipDecapsulate,
  ipipEncapsulate,
  vxlanDecapsulate,
  vxlanEncapsulate,
} from '../../src/wire/encap.js';
import { EthernetView } from '../../src/wire/ethernet.js';
import { IcmpView } from '../../src/wire/icmp.js';
import { Ipv4View, writeIpv4Header } from '../../src/wire/ipv4.js';
import {
  findTcpOption,
  linuxSynOptions,
  parseTcpOptions,
  type TcpOption,
  TcpView,
  tcpOptionsLength,
  writeTcpOptions,
} from '../../src/wire/tcp.js';
import { UdpView } from '../../src/wire/udp.js';
import {
  icmpEchoFrameSpec,
  ipv4Repr,
  mac,
  tcpFrameSpec,
  tcpOption,
  tcpOptions,
  u16,
  u32,
  udpFrameSpec,
} from './arbitraries.js';

function decodeOk(frame: Uint8Array): DecodedLayer[] {
  const result = decodeFrame(frame);
  if (!result.ok) throw new Error(`decode failed at ${result.layer}: ${result.reason}`);
  return result.layers;
}

function expectIpv4Layer(
  layer: DecodedLayer | undefined,
  spec: {
    src: number;
    dst: number;
    ttl?: number;
    id?: number;
    dscp?: number;
    ecn?: number;
    dontFragment?: boolean;
    ipOptions?: Uint8Array;
  },
  protocol: number,
): void {
  expect(layer?.kind).toBe('ipv4');
  if (layer?.kind !== 'ipv4') return;
  expect(layer.repr).toEqual({
    dscp: spec.dscp ?? 0,
    ecn: spec.ecn ?? 0,
    ident: spec.id ?? 0,
    dontFragment: spec.dontFragment ?? true,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: spec.ttl ?? 64,
    protocol,
    src: spec.src,
    dst: spec.dst,
    options: spec.ipOptions ?? new Uint8Array(0),
  });
  expect(layer.checksumValid).toBe(true);
}

describe('frame round trips (arbitrary description → build → decode → same description)', () => {
  it('TCP, options included, round-trips with valid checksums', () => {
    fc.assert(
      fc.property(tcpFrameSpec, (spec) => {
        const layers = decodeOk(buildTcpFrame(spec));
        expect(layers.map((l) => l.kind)).toEqual(['ethernet', 'ipv4', 'tcp']);
        expect(layers[0]).toMatchObject({
          kind: 'ethernet',
          repr: { dst: spec.dstMac, src: spec.srcMac, etherType: 0x0800 },
        });
        expectIpv4Layer(layers[1], spec, 6);
        const tcp = layers[2];
        if (tcp.kind !== 'tcp') throw new Error('not tcp');
        expect(tcp.repr).toEqual({
          srcPort: spec.sport,
          dstPort: spec.dport,
          seq: spec.seq,
          ack: spec.ack,
          flags: spec.flags,
          window: spec.window,
          urgent: spec.urgent,
          options: spec.options,
        });
        expect(tcp.payload).toEqual(spec.payload);
        expect(tcp.checksumValid).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('UDP round-trips, with or without a checksum', () => {
    fc.assert(
      fc.property(udpFrameSpec, (spec) => {
        const layers = decodeOk(buildUdpFrame(spec));
        expect(layers.map((l) => l.kind)).toEqual(['ethernet', 'ipv4', 'udp']);
        expectIpv4Layer(layers[1], spec, 17);
        const udp = layers[2];
        if (udp.kind !== 'udp') throw new Error('not udp');
        expect(udp.repr).toEqual({ srcPort: spec.sport, dstPort: spec.dport });
        expect(udp.length).toBe(8 + (spec.payload?.length ?? 0));
        expect(udp.payload).toEqual(spec.payload);
        expect(udp.checksum === 0).toBe(spec.checksum === false);
        expect(udp.checksumValid).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('ICMP echo request/reply round-trips', () => {
    fc.assert(
      fc.property(icmpEchoFrameSpec, (spec) => {
        const layers = decodeOk(buildIcmpEchoFrame(spec));
        expectIpv4Layer(layers[1], spec, 1);
        const icmp = layers[2];
        if (icmp.kind !== 'icmp') throw new Error('not icmp');
        expect(icmp.repr).toEqual({
          kind: spec.reply ? 'echoReply' : 'echoRequest',
          ident: spec.ident,
          sequence: spec.sequence,
        });
        expect(icmp.payload).toEqual(spec.payload);
        expect(icmp.checksumValid).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('ICMP port unreachable quotes the offending datagram (Linux: up to 548 bytes) and round-trips', () => {
    fc.assert(
      fc.property(
        tcpFrameSpec,
        mac,
        mac,
        u32,
        fc.option(fc.integer({ min: 28, max: 600 }), { nil: undefined }),
        (original, srcMac, dstMac, src, maxQuote) => {
          const offending = buildTcpFrame(original).subarray(14);
          const quoteLimit = Math.max(maxQuote ?? 548, (offending[0] & 0x0f) * 4 + 8);
          const frame = buildIcmpUnreachableFrame({
            srcMac,
            dstMac,
            src,
            dst: original.src,
            original: offending,
            maxQuote: quoteLimit,
          });
          const layers = decodeOk(frame);
          // Linux: TOS 0xc0 | the offending packet's TOS bits under mask 0x1e.
          const tos = ((((original.dscp ?? 0) << 2) | (original.ecn ?? 0)) & 0x1e) | 0xc0;
          expectIpv4Layer(
            layers[1],
            { src, dst: original.src, dontFragment: false, dscp: tos >>> 2, ecn: tos & 3 },
            1,
          );
          const icmp = layers[2];
          if (icmp.kind !== 'icmp') throw new Error('not icmp');
          expect(icmp.repr).toEqual({ kind: 'destUnreachable', code: 3, nextHopMtu: 0 });
          expect(icmp.payload).toEqual(offending.subarray(0, Math.min(offending.length, quoteLimit)));
          expect(icmp.checksumValid).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('ARP requests and replies round-trip', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2),
        mac,
        u32,
        mac,
        u32,
        (operation, senderMac, senderIp, targetMac, targetIp) => {
          const layers = decodeOk(buildArpFrame({ operation, senderMac, senderIp, targetMac, targetIp }));
          expect(layers[0]).toMatchObject({
            repr: {
              src: senderMac,
              dst: operation === 1 ? new Uint8Array(6).fill(0xff) : targetMac,
              etherType: 0x0806,
            },
          });
          expect(layers[1]).toEqual({
            kind: 'arp',
            repr: { operation, senderMac, senderIp, targetMac, targetIp },
            length: 28,
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('VXLAN encapsulation round-trips the VNI and the inner frame, and decapsulation returns the inner bytes', () => {
    fc.assert(
      fc.property(
        tcpFrameSpec,
        mac,
        mac,
        u32,
        u32,
        u16,
        fc.integer({ min: 0, max: 0xffffff }),
        fc.constantFrom(4789, 8472),
        fc.boolean(),
        (inner, srcMac, dstMac, src, dst, srcPort, vni, dstPort, udpChecksum) => {
          const innerFrame = buildTcpFrame(inner);
          const frame = vxlanEncapsulate(
            { srcMac, dstMac, src, dst, srcPort, dstPort, vni, udpChecksum },
            innerFrame,
          );
          expect(frame.length).toBe(innerFrame.length + 50);
          const layers = decodeOk(frame);
          expect(layers.map((l) => l.kind)).toEqual([
            'ethernet',
            'ipv4',
            'udp',
            'vxlan',
            'ethernet',
            'ipv4',
            'tcp',
          ]);
          expectIpv4Layer(layers[1], { src, dst, dontFragment: false }, 17);
          expect(layers[2]).toMatchObject({ repr: { srcPort, dstPort }, checksumValid: true });
          expect(layers[3]).toEqual({ kind: 'vxlan', repr: { vni }, flags: 0x08 });
          expect(layers.slice(4)).toEqual(decodeOk(innerFrame));
          const decap = vxlanDecapsulate(frame, dstPort);
          expect(decap).toEqual({ ok: true, vni, inner: innerFrame });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('IPIP encapsulation round-trips (outer TOS copied from the inner packet) and decapsulation restores the frame', () => {
    fc.assert(
      fc.property(udpFrameSpec, u32, u32, (inner, src, dst) => {
        const innerFrame = buildUdpFrame(inner);
        const frame = ipipEncapsulate({ srcMac: inner.srcMac, dstMac: inner.dstMac, src, dst }, innerFrame);
        const layers = decodeOk(frame);
        expect(layers.map((l) => l.kind)).toEqual(['ethernet', 'ipv4', 'ipv4', 'udp']);
        expectIpv4Layer(layers[1], { src, dst, dontFragment: false, dscp: inner.dscp, ecn: inner.ecn }, 4);
        expect(layers.slice(2)).toEqual(decodeOk(innerFrame).slice(1));
        expect(ipipDecapsulate(frame)).toEqual({ ok: true, frame: innerFrame });
      }),
      { numRuns: 100 },
    );
  });
});

describe('views and reprs', () => {
  it('an IPv4 repr written with writeIpv4Header reads back equal through Ipv4View', () => {
    fc.assert(
      fc.property(ipv4Repr(), fc.integer({ min: 0, max: 1000 }), (repr, payloadLength) => {
        const buf = new Uint8Array(80);
        const headerLength = writeIpv4Header(buf, 3, repr, payloadLength);
        const view = new Ipv4View().attach(buf, 3);
        expect(view.read()).toEqual(repr);
        expect(view.headerLength).toBe(headerLength);
        expect(view.totalLength).toBe(headerLength + payloadLength);
        expect(view.verifyChecksum()).toBe(true);
      }),
    );
  });

  it('TCP options in Linux order parse back identically, and unaligned lists gain one trailing eol', () => {
    fc.assert(
      fc.property(tcpOptions, fc.array(tcpOption, { maxLength: 4 }), (aligned, any) => {
        const buf = new Uint8Array(60);
        const written = writeTcpOptions(buf, 0, aligned);
        expect(parseTcpOptions(buf, 0, written)).toEqual({ ok: true, options: aligned });
        const raw = tcpOptionsLength(any);
        if (raw > 40) return;
        const padded = writeTcpOptions(buf.fill(0xaa), 0, any);
        expect(padded % 4).toBe(0);
        const expected: TcpOption[] = raw === padded ? any : [...any, { kind: 'eol' }];
        expect(parseTcpOptions(buf, 0, padded)).toEqual({ ok: true, options: expected });
      }),
    );
  });

  it('writes the Linux SYN option block as 20 bytes: mss, sackOK, TS, nop, wscale', () => {
    const options = linuxSynOptions({ mss: 1460, windowScale: 7, timestamp: { tsval: 1, tsecr: 0 } });
    const buf = new Uint8Array(40);
    expect(writeTcpOptions(buf, 0, options)).toBe(20);
    expect(Buffer.from(buf.subarray(0, 20)).toString('hex')).toBe(
      '020405b40402080a00000001000000000103030' + '7',
    );
  });

  it('findTcpOption locates an option in place and returns -1 when absent', () => {
    const frame = buildTcpFrame({
      srcMac: new Uint8Array(6),
      dstMac: new Uint8Array(6),
      src: 1,
      dst: 2,
      sport: 1,
      dport: 2,
      seq: 0,
      flags: 2,
      window: 1,
      options: linuxSynOptions({ mss: 1460, windowScale: 7, timestamp: { tsval: 1, tsecr: 0 } }),
    });
    const tcp = 34;
    const at = findTcpOption(frame, tcp, 3);
    expect(at).toBe(tcp + 20 + 17);
    expect(frame[at + 2]).toBe(7);
    expect(findTcpOption(frame, tcp, 2)).toBe(tcp + 20);
    expect(findTcpOption(frame, tcp, 5)).toBe(-1);
  });

  it('reports malformed TCP options with a reason instead of throwing', () => {
    const cases: [number[], string][] = [
      [[2, 4, 5], 'exceeds'],
      [[2], 'no length byte'],
      [[3, 1], '< 2'],
      [[2, 3, 0, 1], 'mss option length 3'],
      [[5, 6, 0, 0, 0, 0], 'sack option length 6'],
    ];
    for (const [bytes, reason] of cases) {
      const result = parseTcpOptions(new Uint8Array(bytes), 0, bytes.length);
      expect(result.ok, `options ${bytes.join(',')}`).toBe(false);
      if (!result.ok) expect(result.reason).toContain(reason);
    }
  });

  it('views write fields in place and read them back (setters are inverse of getters)', () => {
    fc.assert(
      fc.property(
        tcpFrameSpec,
        u16,
        u16,
        u32,
        u32,
        fc.integer({ min: 0, max: 0x1ff }),
        (spec, sport, dport, seq, ack, flags) => {
          const frame = buildTcpFrame(spec);
          const eth = new EthernetView().attach(frame);
          eth.swapMacs();
          expect(eth.read()).toEqual({ dst: spec.srcMac, src: spec.dstMac, etherType: 0x0800 });
          const ip = new Ipv4View().attach(frame, eth.payloadOffset);
          const tcp = new TcpView().attach(frame, ip.payloadOffset);
          const headerLength = tcp.headerLength;
          tcp.srcPort = sport;
          tcp.dstPort = dport;
          tcp.seq = seq;
          tcp.ack = ack;
          tcp.flags = flags;
          tcp.fillChecksum(ip.src, ip.dst, ip.payloadLength);
          expect([tcp.srcPort, tcp.dstPort, tcp.seq, tcp.ack, tcp.flags, tcp.headerLength]).toEqual([
            sport,
            dport,
            seq,
            ack,
            flags,
            headerLength,
          ]);
          expect(tcp.verifyChecksum(ip.src, ip.dst, ip.payloadLength)).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('one view object re-pointed with attach reads each frame of a batch correctly', () => {
    fc.assert(
      fc.property(fc.array(udpFrameSpec, { minLength: 1, maxLength: 8 }), (specs) => {
        const udp = new UdpView();
        for (const spec of specs) {
          const frame = buildUdpFrame(spec);
          udp.attach(frame, 14 + 20 + (spec.ipOptions?.length ?? 0));
          expect([udp.srcPort, udp.dstPort, udp.length]).toEqual([
            spec.sport,
            spec.dport,
            8 + (spec.payload?.length ?? 0),
          ]);
        }
      }),
    );
  });

  it('ARP and ICMP views read what the writers wrote', () => {
    fc.assert(
      fc.property(mac, u32, mac, u32, (senderMac, senderIp, targetMac, targetIp) => {
        const buf = new Uint8Array(28);
        writeArp(buf, 0, { operation: 2, senderMac, senderIp, targetMac, targetIp });
        const view = new ArpView().attach(buf);
        expect(view.isEthernetIpv4).toBe(true);
        expect(view.read()).toEqual({ operation: 2, senderMac, senderIp, targetMac, targetIp });
      }),
    );
    const echo = buildIcmpEchoFrame({
      srcMac: new Uint8Array(6),
      dstMac: new Uint8Array(6),
      src: 1,
      dst: 2,
      ident: 0x1234,
      sequence: 7,
    });
    const icmp = new IcmpView().attach(echo, 34);
    expect([icmp.type, icmp.ident, icmp.sequence, icmp.isEcho, icmp.isError]).toEqual([
      8,
      0x1234,
      7,
      true,
      false,
    ]);
    expect(icmp.verifyChecksum(8)).toBe(true);
  });

  it('writeTcpFrame writes the same bytes as buildTcpFrame at any offset of a larger buffer, touching nothing else', () => {
    fc.assert(
      fc.property(tcpFrameSpec, fc.integer({ min: 0, max: 64 }), (spec, offset) => {
        const length = tcpFrameLength(spec);
        const buf = new Uint8Array(offset + length + 16).fill(0x5a);
        expect(writeTcpFrame(buf, offset, spec)).toBe(length);
        expect(buf.subarray(offset, offset + length)).toEqual(buildTcpFrame(spec));
        expect(buf.subarray(0, offset).every((b) => b === 0x5a)).toBe(true);
        expect(buf.subarray(offset + length).every((b) => b === 0x5a)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });
});
