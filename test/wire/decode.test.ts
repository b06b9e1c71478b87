import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIPv4 } from '../../src/util/ipv4.js';
import {
  buildArpReply,
  buildArpRequest,
  buildIcmpEchoFrame,
  buildIcmpUnreachableFrame,
  buildTcpFrame,
  buildUdpFrame,
  type TcpFrameSpec,
} from '../../src/wire/build.js';
import { decodeFrame, findLayer, tcpdumpLine } from '../../src/wire/decode.js';
import { ipipEncapsulate, vxlanEncapsulate } from '../../src/wire/encap.js';
import { parseMac } from '../../src/wire/mac.js';
import { linuxSynOptions, linuxTimestampOptions } from '../../src/wire/tcp.js';
import { icmpEchoFrameSpec, tcpFrameSpec, udpFrameSpec } from './arbitraries.js';

const CLIENT_MAC = parseMac('02:00:00:00:00:01');
const NODE_MAC = parseMac('02:00:00:00:00:02');
const CLIENT = parseIPv4('192.168.100.1');
const NODE = parseIPv4('192.168.100.100');

function clientToNode(fields: Omit<TcpFrameSpec, 'srcMac' | 'dstMac' | 'src' | 'dst' | 'sport' | 'dport'>) {
  return buildTcpFrame({
    srcMac: CLIENT_MAC,
    dstMac: NODE_MAC,
    src: CLIENT,
    dst: NODE,
    sport: 40000,
    dport: 30532,
    ...fields,
  });
}
function nodeToClient(fields: Omit<TcpFrameSpec, 'srcMac' | 'dstMac' | 'src' | 'dst' | 'sport' | 'dport'>) {
  return buildTcpFrame({
    srcMac: NODE_MAC,
    dstMac: CLIENT_MAC,
    src: NODE,
    dst: CLIENT,
    sport: 30532,
    dport: 40000,
    ...fields,
  });
}

const SYN = clientToNode({
  seq: 1,
  flags: 0x02,
  window: 64240,
  options: linuxSynOptions({ mss: 1460, windowScale: 7, timestamp: { tsval: 1, tsecr: 0 } }),
});

describe('tcpdump lines (tcpdump -n -S conventions)', () => {
  it('prints a Linux SYN with its options', () => {
    expect(tcpdumpLine(SYN)).toBe(
      'IP 192.168.100.1.40000 > 192.168.100.100.30532: Flags [S], seq 1, win 64240, ' +
        'options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0',
    );
  });

  it('prints the handshake, data, teardown and resets with tcpdump flag letters', () => {
    const synAck = nodeToClient({
      seq: 1000,
      ack: 2,
      flags: 0x12,
      window: 65160,
      options: linuxSynOptions({ mss: 1460, windowScale: 7, timestamp: { tsval: 2, tsecr: 1 } }),
    });
    const ack = clientToNode({
      seq: 2,
      ack: 1001,
      flags: 0x10,
      window: 502,
      options: linuxTimestampOptions(3, 2),
    });
    const data = clientToNode({ seq: 2, ack: 1001, flags: 0x18, window: 502, payload: new Uint8Array(78) });
    const fin = clientToNode({ seq: 80, ack: 1001, flags: 0x11, window: 502 });
    const rst = clientToNode({ seq: 80, flags: 0x04, window: 0 });
    const rstAck = nodeToClient({ seq: 0, ack: 81, flags: 0x14, window: 0 });
    const noFlags = clientToNode({ seq: 5, flags: 0, window: 0 });
    const ecnSyn = clientToNode({ seq: 7, flags: 0xc2, window: 64240 });
    const urgent = clientToNode({
      seq: 9,
      ack: 3,
      flags: 0x30,
      window: 1,
      urgent: 5,
      payload: new Uint8Array(1),
    });
    expect([synAck, ack, data, fin, rst, rstAck, noFlags, ecnSyn, urgent].map((f) => tcpdumpLine(f))).toEqual(
      [
        'IP 192.168.100.100.30532 > 192.168.100.1.40000: Flags [S.], seq 1000, ack 2, win 65160, options [mss 1460,sackOK,TS val 2 ecr 1,nop,wscale 7], length 0',
        'IP 192.168.100.1.40000 > 192.168.100.100.30532: Flags [.], ack 1001, win 502, options [nop,nop,TS val 3 ecr 2], length 0',
        'IP 192.168.100.1.40000 > 192.168.100.100.30532: Flags [P.], seq 2:80, ack 1001, win 502, length 78',
        'IP 192.168.100.1.40000 > 192.168.100.100.30532: Flags [F.], seq 80, ack 1001, win 502, length 0',
        'IP 192.168.100.1.40000 > 192.168.100.100.30532: Flags [R], seq 80, win 0, length 0',
        'IP 192.168.100.100.30532 > 192.168.100.1.40000: Flags [R.], seq 0, ack 81, win 0, length 0',
        'IP 192.168.100.1.40000 > 192.168.100.100.30532: Flags [none], win 0, length 0',
        'IP 192.168.100.1.40000 > 192.168.100.100.30532: Flags [SEW], seq 7, win 64240, length 0',
        'IP 192.168.100.1.40000 > 192.168.100.100.30532: Flags [.U], seq 9:10, ack 3, win 1, urg 5, length 1',
      ],
    );
  });

  it('prints sequence ranges modulo 2^32 and SACK blocks as tcpdump -S does', () => {
    const wrap = clientToNode({
      seq: 0xfffffffe,
      ack: 1,
      flags: 0x18,
      window: 1,
      payload: new Uint8Array(4),
    });
    expect(tcpdumpLine(wrap)).toContain('seq 4294967294:2, ack 1');
    const sack = clientToNode({
      seq: 1,
      ack: 5186,
      flags: 0x10,
      window: 340,
      options: [
        { kind: 'nop' },
        { kind: 'nop' },
        {
          kind: 'sack',
          blocks: [
            { left: 5282, right: 5283 },
            { left: 6000, right: 7000 },
          ],
        },
      ],
    });
    expect(tcpdumpLine(sack)).toContain('options [nop,nop,sack 2 {5282:5283}{6000:7000}], length 0');
  });

  it('prints UDP, ICMP echo, ICMP port unreachable and ARP like tcpdump', () => {
    const udp = buildUdpFrame({
      srcMac: CLIENT_MAC,
      dstMac: NODE_MAC,
      src: parseIPv4('10.0.0.1'),
      dst: parseIPv4('10.0.0.2'),
      sport: 1234,
      dport: 9999,
      payload: new Uint8Array(10),
    });
    const ping = buildIcmpEchoFrame({
      srcMac: CLIENT_MAC,
      dstMac: NODE_MAC,
      src: parseIPv4('10.0.0.1'),
      dst: parseIPv4('10.0.0.2'),
      ident: 1,
      sequence: 1,
      payload: new Uint8Array(56),
    });
    const reject = buildIcmpUnreachableFrame({
      srcMac: NODE_MAC,
      dstMac: CLIENT_MAC,
      src: NODE,
      dst: CLIENT,
      original: SYN.subarray(14),
    });
    const rfcMinimum = buildIcmpUnreachableFrame({
      srcMac: NODE_MAC,
      dstMac: CLIENT_MAC,
      src: NODE,
      dst: parseIPv4('10.0.0.1'),
      original: udp.subarray(14),
      maxQuote: 28,
    });
    const who = buildArpRequest(CLIENT_MAC, parseIPv4('10.0.0.1'), parseIPv4('10.0.0.2'));
    const reply = buildArpReply(NODE_MAC, parseIPv4('10.0.0.2'), CLIENT_MAC, parseIPv4('10.0.0.1'));
    expect([udp, ping, reject, rfcMinimum, who, reply].map((f) => tcpdumpLine(f))).toEqual([
      'IP 10.0.0.1.1234 > 10.0.0.2.9999: UDP, length 10',
      'IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 1, length 64',
      // Linux quotes the whole 60-byte SYN: 8 + 60 = 68.
      'IP 192.168.100.100 > 192.168.100.1: ICMP 192.168.100.100 tcp port 30532 unreachable, length 68',
      'IP 192.168.100.100 > 10.0.0.1: ICMP 10.0.0.2 udp port 9999 unreachable, length 36',
      'ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28',
      'ARP, Reply 10.0.0.2 is-at 02:00:00:00:00:02, length 28',
    ]);
  });

  it('prints VXLAN as two lines and IPIP as nested IP, as tcpdump does', () => {
    const vxlan = vxlanEncapsulate(
      {
        srcMac: NODE_MAC,
        dstMac: CLIENT_MAC,
        src: parseIPv4('192.168.203.1'),
        dst: parseIPv4('192.168.202.1'),
        srcPort: 45149,
        vni: 100,
      },
      SYN,
    );
    expect(tcpdumpLine(vxlan)).toBe(
      'IP 192.168.203.1.45149 > 192.168.202.1.4789: VXLAN, flags [I] (0x08), vni 100\n' + tcpdumpLine(SYN),
    );
    const ipip = ipipEncapsulate(
      { srcMac: NODE_MAC, dstMac: CLIENT_MAC, src: parseIPv4('172.16.104.123'), dst: parseIPv4('10.0.0.3') },
      SYN,
    );
    expect(tcpdumpLine(ipip)).toBe(`IP 172.16.104.123 > 10.0.0.3: ${tcpdumpLine(SYN)}`);
  });

  it('reports an unknown ethertype and an unknown IP protocol as layers, not errors', () => {
    const lldp = new Uint8Array(60);
    lldp.set(NODE_MAC, 0);
    lldp.set(CLIENT_MAC, 6);
    lldp[12] = 0x88;
    lldp[13] = 0xcc;
    const lldpResult = decodeFrame(lldp);
    expect(lldpResult.ok).toBe(true);
    expect(lldpResult.layers.map((l) => l.kind)).toEqual(['ethernet', 'unknownEthertype']);
    expect(lldpResult.line).toBe(
      '02:00:00:00:00:01 > 02:00:00:00:00:02, ethertype LLDP (0x88cc), length 60:',
    );

    const gre = buildUdpFrame({ srcMac: CLIENT_MAC, dstMac: NODE_MAC, src: 1, dst: 2, sport: 1, dport: 2 });
    gre[14 + 9] = 47;
    const greResult = decodeFrame(gre);
    expect(greResult.ok).toBe(true);
    expect(findLayer(greResult.layers, 'unknownIpProtocol')).toEqual({
      kind: 'unknownIpProtocol',
      protocol: 47,
      length: 8,
    });
    expect(greResult.line).toBe('IP 0.0.0.1 > 0.0.0.2:  ip-proto-47 8');
  });

  it('reports IPv4 and TCP checksum validity in the decoded layers', () => {
    const bad = SYN.slice();
    bad[14 + 10] ^= 0xff;
    bad[bad.length - 1] ^= 0x01;
    const result = decodeFrame(bad);
    expect(findLayer(result.layers, 'ipv4')?.checksumValid).toBe(false);
    expect(findLayer(result.layers, 'tcp')?.checksumValid).toBe(false);
    expect(findLayer(decodeFrame(SYN).layers, 'tcp')?.checksumValid).toBe(true);
  });
});

describe('malformed frames give typed errors with reasons', () => {
  it('names the layer and the reason for truncation, bad IHL, bad data offset and bad lengths', () => {
    const cases: [Uint8Array, string, string][] = [
      [SYN.subarray(0, 10), 'ethernet', 'shorter than the 14-byte Ethernet header'],
      [SYN.subarray(0, 30), 'ipv4', 'truncated header: 16 bytes captured'],
      [SYN.subarray(0, 40), 'ipv4', 'total length 60 exceeds captured 26 bytes'],
      [withByte(SYN, 14, 0x44), 'ipv4', 'header length 16 < 20 (IHL 4)'],
      [withByte(SYN, 14, 0x65), 'ipv4', 'version 6 != 4'],
      [withByte(SYN, 14 + 20 + 12, 0x40), 'tcp', 'data offset 4 words (16 bytes) < 20'],
      [withByte(SYN, 14 + 20 + 12, 0xf0), 'tcp', 'header length 60 exceeds the 40-byte segment'],
      [withByte(SYN, 14 + 20 + 21, 0x30), 'tcp', 'bad options: option kind 2 length 48 exceeds'],
    ];
    for (const [frame, layer, reason] of cases) {
      const result = decodeFrame(frame);
      expect(result.ok).toBe(false);
      if (result.ok) continue;
      expect(result.layer).toBe(layer);
      expect(result.reason).toContain(reason);
      expect(result.line).toContain(`[|${layer}: ${result.reason}]`);
    }
    expect(decodeFrame(SYN.subarray(0, 40)).line).toBe(
      'IP [|ipv4: total length 60 exceeds captured 26 bytes]',
    );
  });

  it('feeding arbitrary bytes to the decoder yields a decoded frame or a typed error with a reason, never an exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const result = decodeFrame(bytes);
        expect(typeof result.line).toBe('string');
        if (!result.ok) {
          expect(['ethernet', 'arp', 'ipv4', 'tcp', 'udp', 'icmp', 'vxlan']).toContain(result.layer);
          expect(result.reason.length).toBeGreaterThan(0);
          expect(result.reason).not.toContain('internal decoder error');
        }
      }),
      { numRuns: 2000 },
    );
  });

  const realFrame = fc.oneof(
    tcpFrameSpec.map(buildTcpFrame),
    udpFrameSpec.map(buildUdpFrame),
    icmpEchoFrameSpec.map(buildIcmpEchoFrame),
    tcpFrameSpec.map((s) =>
      vxlanEncapsulate(
        { srcMac: s.srcMac, dstMac: s.dstMac, src: 1, dst: 2, srcPort: 5, vni: 7 },
        buildTcpFrame(s),
      ),
    ),
    tcpFrameSpec.map((s) =>
      ipipEncapsulate({ srcMac: s.srcMac, dstMac: s.dstMac, src: 1, dst: 2 }, buildTcpFrame(s)),
    ),
    tcpFrameSpec.map((s) =>
      buildIcmpUnreachableFrame({
        srcMac: s.srcMac,
        dstMac: s.dstMac,
        src: 3,
        dst: s.src,
        original: buildTcpFrame(s).subarray(14),
      }),
    ),
  );

  it('every truncation of a real frame decodes to a typed error naming a layer (or, for the whole frame, succeeds)', () => {
    fc.assert(
      fc.property(realFrame, fc.nat(), (frame, cut) => {
        expect(decodeFrame(frame).ok).toBe(true);
        const length = cut % frame.length;
        const result = decodeFrame(frame.subarray(0, length));
        expect(result.ok).toBe(false);
        if (!result.ok) {
          expect(result.reason).toMatch(/\d/);
          expect(result.reason).not.toContain('internal decoder error');
        }
      }),
      { numRuns: 500 },
    );
  });

  it('real frames with arbitrary bytes corrupted still decode or fail with a reason, never throw', () => {
    fc.assert(
      fc.property(
        realFrame,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        (frame, edits) => {
          const corrupted = frame.slice();
          for (const [at, value] of edits) corrupted[at % corrupted.length] = value;
          const result = decodeFrame(corrupted);
          if (!result.ok) expect(result.reason).not.toContain('internal decoder error');
        },
      ),
      { numRuns: 1000 },
    );
  });
});

function withByte(frame: Uint8Array, at: number, value: number): Uint8Array {
  const copy = frame.slice();
  copy[at] = value;
  return copy;
}
