/**
 * tshark as an outside judge of the bytes this layer builds and rewrites: every frame
 * must dissect without a malformed/short flag, with good IP/TCP/UDP/ICMP checksums and
 * no TCP-analysis complaint. Skipped visibly (failing under CI) when tshark is missing.
 */
import { expect, it } from 'vitest';
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
import { readU16 } from '../../src/wire/bytes.js';
import { ipipEncapsulate, vxlanEncapsulate } from '../../src/wire/encap.js';
import { parseMac } from '../../src/wire/mac.js';
import {
  decrementTtl,
  rewriteDstPort,
  rewriteIpv4Dst,
  rewriteIpv4Src,
  rewriteSrcPort,
} from '../../src/wire/rewrite.js';
import { linuxSynOptions, linuxTimestampOptions } from '../../src/wire/tcp.js';
import { checkCaptureWithTshark, describeWithTshark } from '../helpers/tshark.js';

/** A minimal classic pcap (microsecond timestamps, LINKTYPE_ETHERNET), independent of src/capture. */
function pcap(frames: Uint8Array[]): Uint8Array {
  const size = 24 + frames.reduce((n, f) => n + 16 + f.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0xa1b2c3d4, true);
  view.setUint16(4, 2, true);
  view.setUint16(6, 4, true);
  view.setUint32(16, 65535, true);
  view.setUint32(20, 1, true);
  let at = 24;
  frames.forEach((frame, i) => {
    view.setUint32(at, 1_700_000_000 + i, true);
    view.setUint32(at + 8, frame.length, true);
    view.setUint32(at + 12, frame.length, true);
    out.set(frame, at + 16);
    at += 16 + frame.length;
  });
  return out;
}

const CLIENT_MAC = parseMac('02:00:00:00:00:01');
const NODE_MAC = parseMac('02:00:00:00:00:02');
const CLIENT = parseIPv4('192.168.100.1');
const NODE = parseIPv4('192.168.100.100');
const POD = parseIPv4('10.244.1.2');

type Segment = Omit<TcpFrameSpec, 'srcMac' | 'dstMac' | 'src' | 'dst' | 'sport' | 'dport'>;

/** One complete connection (handshake, request, response, FIN both ways) between two endpoints. */
function connection(client: number, cport: number, server: number, sport: number): Uint8Array[] {
  const c = (s: Segment) =>
    buildTcpFrame({
      srcMac: CLIENT_MAC,
      dstMac: NODE_MAC,
      src: client,
      dst: server,
      sport: cport,
      dport: sport,
      ...s,
    });
  const s = (x: Segment) =>
    buildTcpFrame({
      srcMac: NODE_MAC,
      dstMac: CLIENT_MAC,
      src: server,
      dst: client,
      sport,
      dport: cport,
      ...x,
    });
  const request = new TextEncoder().encode('GET / HTTP/1.0\r\n\r\n');
  const response = new TextEncoder().encode('HTTP/1.0 200 OK\r\n\r\nhello');
  return [
    c({
      seq: 100,
      flags: 0x02,
      window: 64240,
      options: linuxSynOptions({ mss: 1460, windowScale: 7, timestamp: { tsval: 1, tsecr: 0 } }),
    }),
    s({
      seq: 5000,
      ack: 101,
      flags: 0x12,
      window: 65160,
      options: linuxSynOptions({ mss: 1460, windowScale: 7, timestamp: { tsval: 9, tsecr: 1 } }),
    }),
    c({ seq: 101, ack: 5001, flags: 0x10, window: 502, options: linuxTimestampOptions(2, 9) }),
    c({
      seq: 101,
      ack: 5001,
      flags: 0x18,
      window: 502,
      options: linuxTimestampOptions(3, 9),
      payload: request,
    }),
    s({
      seq: 5001,
      ack: 101 + request.length,
      flags: 0x18,
      window: 509,
      options: linuxTimestampOptions(10, 3),
      payload: response,
    }),
    s({
      seq: 5001 + response.length,
      ack: 101 + request.length,
      flags: 0x11,
      window: 509,
      options: linuxTimestampOptions(11, 3),
    }),
    c({
      seq: 101 + request.length,
      ack: 5002 + response.length,
      flags: 0x11,
      window: 502,
      options: linuxTimestampOptions(4, 11),
    }),
    s({
      seq: 5002 + response.length,
      ack: 102 + request.length,
      flags: 0x10,
      window: 509,
      options: linuxTimestampOptions(12, 4),
    }),
  ];
}

describeWithTshark('wire frames judged by tshark', () => {
  it('built frames of every kind and DNAT/SNAT/TTL-rewritten frames pass tshark with no bad checksum or complaint', async () => {
    const frames: Uint8Array[] = [];
    frames.push(...connection(CLIENT, 40000, NODE, 30532));

    // The same kind of connection, rewritten in place as a NodePort DNAT+SNAT would (the
    // node forwards to the pod: dst → pod:8080, src → node:61000, TTL − 1), and back.
    for (const frame of connection(CLIENT, 40001, NODE, 30533)) {
      const toPod = readU16(frame, 34 + 2) === 30533;
      if (toPod) {
        rewriteIpv4Dst(frame, 14, POD);
        rewriteDstPort(frame, 14, 8080);
        rewriteIpv4Src(frame, 14, NODE);
        rewriteSrcPort(frame, 14, 61000);
      } else {
        rewriteIpv4Src(frame, 14, POD);
        rewriteSrcPort(frame, 14, 8080);
        rewriteIpv4Dst(frame, 14, NODE);
        rewriteDstPort(frame, 14, 61000);
      }
      decrementTtl(frame, 14);
      frames.push(frame);
    }

    // A rewrite whose correct TCP checksum is 0x0000 (RFC 1141 arithmetic would write 0xffff).
    const lone = buildTcpFrame({
      srcMac: CLIENT_MAC,
      dstMac: NODE_MAC,
      src: parseIPv4('10.1.1.1'),
      dst: parseIPv4('10.1.1.2'),
      sport: 50000,
      dport: 80,
      seq: 1,
      flags: 0x02,
      window: 64240,
    });
    const check = readU16(lone, 50);
    const port = ((80 + check) & 0xffff) + ((80 + check) >>> 16);
    rewriteDstPort(lone, 14, port);
    expect(readU16(lone, 50)).toBe(0);
    frames.push(lone);

    const udp = buildUdpFrame({
      srcMac: CLIENT_MAC,
      dstMac: NODE_MAC,
      src: CLIENT,
      dst: NODE,
      sport: 5000,
      dport: 9999,
      payload: new TextEncoder().encode('dpsim udp'),
    });
    const udpNat = udp.slice();
    rewriteIpv4Dst(udpNat, 14, POD);
    rewriteDstPort(udpNat, 14, 9000);
    frames.push(
      udp,
      udpNat,
      buildIcmpEchoFrame({
        srcMac: CLIENT_MAC,
        dstMac: NODE_MAC,
        src: CLIENT,
        dst: NODE,
        ident: 7,
        sequence: 1,
        payload: new Uint8Array(56).fill(0x61),
      }),
      buildIcmpEchoFrame({
        srcMac: NODE_MAC,
        dstMac: CLIENT_MAC,
        src: NODE,
        dst: CLIENT,
        ident: 7,
        sequence: 1,
        reply: true,
        payload: new Uint8Array(56).fill(0x61),
      }),
      buildIcmpUnreachableFrame({
        srcMac: NODE_MAC,
        dstMac: CLIENT_MAC,
        src: NODE,
        dst: CLIENT,
        original: udp.subarray(14),
      }),
      buildArpRequest(CLIENT_MAC, CLIENT, NODE),
      buildArpReply(NODE_MAC, NODE, CLIENT_MAC, CLIENT),
      vxlanEncapsulate(
        {
          srcMac: NODE_MAC,
          dstMac: CLIENT_MAC,
          src: NODE,
          dst: parseIPv4('192.168.100.101'),
          srcPort: 51000,
          vni: 42,
        },
        buildUdpFrame({
          srcMac: CLIENT_MAC,
          dstMac: NODE_MAC,
          src: POD,
          dst: parseIPv4('10.244.2.2'),
          sport: 7,
          dport: 7777,
          payload: new Uint8Array(5),
        }),
      ),
      vxlanEncapsulate(
        {
          srcMac: NODE_MAC,
          dstMac: CLIENT_MAC,
          src: NODE,
          dst: parseIPv4('192.168.100.101'),
          srcPort: 51001,
          vni: 43,
          udpChecksum: true,
        },
        buildUdpFrame({
          srcMac: CLIENT_MAC,
          dstMac: NODE_MAC,
          src: POD,
          dst: parseIPv4('10.244.2.3'),
          sport: 8,
          dport: 7777,
          payload: new Uint8Array(5),
        }),
      ),
      ipipEncapsulate(
        {
          srcMac: NODE_MAC,
          dstMac: CLIENT_MAC,
          src: parseIPv4('172.16.104.123'),
          dst: parseIPv4('10.0.0.3'),
        },
        buildUdpFrame({
          srcMac: CLIENT_MAC,
          dstMac: NODE_MAC,
          src: parseIPv4('192.168.1.1'),
          dst: parseIPv4('10.200.1.1'),
          sport: 31337,
          dport: 7777,
          payload: new Uint8Array(15),
        }),
      ),
    );

    const result = await checkCaptureWithTshark(pcap(frames));
    expect(result.problems).toEqual([]);
    expect(result.frames).toBe(frames.length);
  });
});
