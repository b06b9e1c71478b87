/**
 * tshark as the outside judge of IPv6 frames: a whole TCP connection (handshake, data,
 * FINs) with and without extension headers, the same connection NAT-rewritten in place
 * over 128-bit addresses (DNAT to a pod and back, hop limit − 1), UDP, ICMPv6 echo,
 * port unreachable and packet too big. Every frame must dissect with no malformed flag,
 * no bad checksum, no TCP-analysis complaint, and tshark must itself call every TCP, UDP
 * and ICMPv6 checksum Good (IPv6 has no header checksum to judge).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ipv6Bytes, parseIPv6 } from '../../src/util/ipv6.js';
import {
  buildIcmpv6EchoFrame,
  buildIcmpv6ErrorFrame,
  buildTcp6Frame,
  buildUdp6Frame,
  type Ipv6Extension,
  type Tcp6FrameSpec,
} from '../../src/wire/build6.js';
import { newIpv6FiveTuple, parseIpv6FiveTuple } from '../../src/wire/five-tuple6.js';
import { decrementHopLimit, Ipv6Field } from '../../src/wire/ipv6.js';
import { parseMac } from '../../src/wire/mac.js';
import { rewriteIpv6Endpoint } from '../../src/wire/rewrite6.js';
import { linuxSynOptions, linuxTimestampOptions, TcpField } from '../../src/wire/tcp.js';
import { checkCaptureWithTshark, describeWithTshark, TSHARK } from '../helpers/tshark.js';

function pcap(frames: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(24 + frames.reduce((n, f) => n + 16 + f.length, 0));
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
const CLIENT = ipv6Bytes(parseIPv6('fd00:192:168:100::1'));
const NODE = ipv6Bytes(parseIPv6('fd00:192:168:100::64'));
const POD = ipv6Bytes(parseIPv6('fd85:ee78:d8a6:8607::1:2'));

type Segment = Omit<Tcp6FrameSpec, 'srcMac' | 'dstMac' | 'src' | 'dst' | 'sport' | 'dport' | 'extensions'>;

function connection(cport: number, sport: number, extensions: readonly Ipv6Extension[]): Uint8Array[] {
  const c = (s: Segment) =>
    buildTcp6Frame({
      srcMac: CLIENT_MAC,
      dstMac: NODE_MAC,
      src: CLIENT,
      dst: NODE,
      sport: cport,
      dport: sport,
      extensions,
      ...s,
    });
  const s = (x: Segment) =>
    buildTcp6Frame({
      srcMac: NODE_MAC,
      dstMac: CLIENT_MAC,
      src: NODE,
      dst: CLIENT,
      sport,
      dport: cport,
      extensions,
      ...x,
    });
  const request = new TextEncoder().encode('GET / HTTP/1.0\r\n\r\n');
  const response = new TextEncoder().encode('HTTP/1.0 200 OK\r\n\r\nhello');
  return [
    c({
      seq: 100,
      flags: 0x02,
      window: 64800,
      options: linuxSynOptions({ mss: 1440, windowScale: 7, timestamp: { tsval: 1, tsecr: 0 } }),
    }),
    s({
      seq: 5000,
      ack: 101,
      flags: 0x12,
      window: 64260,
      options: linuxSynOptions({ mss: 1440, windowScale: 7, timestamp: { tsval: 9, tsecr: 1 } }),
    }),
    c({ seq: 101, ack: 5001, flags: 0x10, window: 507, options: linuxTimestampOptions(2, 9) }),
    c({
      seq: 101,
      ack: 5001,
      flags: 0x18,
      window: 507,
      options: linuxTimestampOptions(3, 9),
      payload: request,
    }),
    s({
      seq: 5001,
      ack: 101 + request.length,
      flags: 0x18,
      window: 502,
      options: linuxTimestampOptions(10, 3),
      payload: response,
    }),
    s({
      seq: 5001 + response.length,
      ack: 101 + request.length,
      flags: 0x11,
      window: 502,
      options: linuxTimestampOptions(11, 3),
    }),
    c({
      seq: 101 + request.length,
      ack: 5002 + response.length,
      flags: 0x11,
      window: 507,
      options: linuxTimestampOptions(4, 11),
    }),
    s({
      seq: 5002 + response.length,
      ack: 102 + request.length,
      flags: 0x10,
      window: 502,
      options: linuxTimestampOptions(12, 4),
    }),
  ];
}

describeWithTshark('IPv6 frames judged by tshark', () => {
  it('built, extension-header and NAT-rewritten IPv6 frames pass tshark, which finds every TCP/UDP/ICMPv6 checksum Good', async () => {
    const frames: Uint8Array[] = [];
    frames.push(...connection(40000, 80, []));
    frames.push(
      ...connection(40001, 81, [
        { kind: 'hopByHop', length: 8 },
        { kind: 'destOptions', length: 16 },
      ]),
    );
    frames.push(...connection(40002, 82, [{ kind: 'fragment', ident: 77, offset: 0, more: false }]));
    // A NodePort-style DNAT to the pod (and the reply's reverse NAT), hop limit − 1.
    const ft = newIpv6FiveTuple();
    for (const frame of connection(40003, 30080, [])) {
      parseIpv6FiveTuple(frame, ft);
      if (ft.dport === 30080)
        rewriteIpv6Endpoint(frame, 14, Ipv6Field.DST, ft.l4Offset, TcpField.DST_PORT, ft.proto, POD, 0, 8080);
      else
        rewriteIpv6Endpoint(frame, 14, Ipv6Field.SRC, ft.l4Offset, TcpField.SRC_PORT, ft.proto, POD, 0, 8080);
      decrementHopLimit(frame, 14);
      frames.push(frame);
    }
    const udp = buildUdp6Frame({
      srcMac: CLIENT_MAC,
      dstMac: NODE_MAC,
      src: CLIENT,
      dst: NODE,
      sport: 5000,
      dport: 9999,
      payload: new TextEncoder().encode('dpsim udp'),
    });
    const udpNat = udp.slice();
    parseIpv6FiveTuple(udpNat, ft);
    rewriteIpv6Endpoint(udpNat, 14, Ipv6Field.DST, ft.l4Offset, TcpField.DST_PORT, ft.proto, POD, 0, 9000);
    const echo = buildIcmpv6EchoFrame({
      srcMac: CLIENT_MAC,
      dstMac: NODE_MAC,
      src: CLIENT,
      dst: NODE,
      ident: 7,
      sequence: 1,
      payload: new Uint8Array(56).fill(0x61),
    });
    const echoNat = echo.slice();
    parseIpv6FiveTuple(echoNat, ft);
    rewriteIpv6Endpoint(echoNat, 14, Ipv6Field.DST, ft.l4Offset, 0, ft.proto, POD, 0, 0);
    frames.push(
      udp,
      udpNat,
      echo,
      echoNat,
      buildIcmpv6EchoFrame({
        srcMac: NODE_MAC,
        dstMac: CLIENT_MAC,
        src: NODE,
        dst: CLIENT,
        ident: 7,
        sequence: 1,
        reply: true,
        payload: new Uint8Array(56).fill(0x61),
      }),
      buildIcmpv6ErrorFrame({
        srcMac: NODE_MAC,
        dstMac: CLIENT_MAC,
        src: NODE,
        dst: CLIENT,
        error: { kind: 'destUnreachable', code: 4 },
        original: udp.subarray(14),
      }),
      buildIcmpv6ErrorFrame({
        srcMac: NODE_MAC,
        dstMac: CLIENT_MAC,
        src: NODE,
        dst: CLIENT,
        error: { kind: 'packetTooBig', mtu: 1280 },
        original: buildUdp6Frame({
          srcMac: CLIENT_MAC,
          dstMac: NODE_MAC,
          src: CLIENT,
          dst: NODE,
          sport: 5001,
          dport: 9999,
          payload: new Uint8Array(1400),
        }).subarray(14),
      }),
    );
    const bytes = pcap(frames);
    const result = await checkCaptureWithTshark(bytes);
    expect(result.problems).toEqual([]);
    expect(result.frames).toBe(frames.length);

    // tshark's own verdict per checksum (1 = Good): every L4 checksum was verified, none skipped.
    const dir = mkdtempSync(join(tmpdir(), 'dpsim-ipv6-'));
    try {
      const path = join(dir, 'v6.pcap');
      writeFileSync(path, bytes);
      const run = spawnSync(
        TSHARK,
        [
          '-n',
          '-r',
          path,
          '-o',
          'tcp.check_checksum:TRUE',
          '-o',
          'udp.check_checksum:TRUE',
          '-T',
          'fields',
          '-e',
          'ipv6.src',
          '-e',
          'tcp.checksum.status',
          '-e',
          'udp.checksum.status',
          '-e',
          'icmpv6.checksum.status',
        ],
        { encoding: 'utf8' },
      );
      const lines = run.stdout.trim().split('\n');
      expect(lines.length).toBe(frames.length);
      for (const [i, line] of lines.entries()) {
        const [src, tcp, udpStatus, icmp] = line.split('\t');
        expect(src, `frame ${i + 1}`).not.toBe('');
        // The first status of the frame's own layer (ICMPv6 errors also carry a quoted, unjudged L4).
        const own = icmp !== '' ? icmp.split(',')[0] : tcp !== '' ? tcp : udpStatus;
        expect(own, `frame ${i + 1}: ${line}`).toBe('1');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
