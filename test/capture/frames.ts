/**
 * Test frames for the capture tests: Ethernet II / IPv4 / TCP with real checksums, built
 * with src/wire's builder.
 */
import { parseIPv4 } from '../../src/util/ipv4.js';
import { buildTcpFrame as buildWireTcpFrame, parseMac } from '../../src/wire/index.js';
import { TcpFlag } from '../../src/wire/tcp.js';

export const CLIENT_MAC = '02:00:00:00:00:01';
export const NODE_MAC = '02:00:00:00:00:02';

export interface TcpFrameSpec {
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  payload?: Uint8Array;
  ipId?: number;
  srcMac?: string;
  dstMac?: string;
}

export function buildTcpFrame(spec: TcpFrameSpec): Uint8Array {
  return buildWireTcpFrame({
    srcMac: parseMac(spec.srcMac ?? CLIENT_MAC),
    dstMac: parseMac(spec.dstMac ?? NODE_MAC),
    src: parseIPv4(spec.srcIp),
    dst: parseIPv4(spec.dstIp),
    id: spec.ipId ?? 1,
    sport: spec.srcPort,
    dport: spec.dstPort,
    seq: spec.seq,
    ack: spec.ack,
    flags: spec.flags,
    window: 64240,
    payload: spec.payload,
  });
}

const CLIENT = { ip: '192.168.100.1', port: 40000 };
const SERVICE = { ip: '192.168.100.100', port: 30532 };

/** SYN, SYN-ACK, ACK, request, ACK, FIN, FIN-ACK, ACK between the given endpoints. */
export function tcpConversation(
  client = CLIENT,
  server = SERVICE,
  request = 'GET / HTTP/1.0\r\n\r\n',
): Uint8Array[] {
  const data = new TextEncoder().encode(request);
  const c = 1000;
  const s = 5000;
  const up = (seq: number, ack: number, flags: number, payload?: Uint8Array): Uint8Array =>
    buildTcpFrame({
      srcIp: client.ip,
      dstIp: server.ip,
      srcPort: client.port,
      dstPort: server.port,
      seq,
      ack,
      flags,
      payload,
    });
  const down = (seq: number, ack: number, flags: number): Uint8Array =>
    buildTcpFrame({
      srcIp: server.ip,
      dstIp: client.ip,
      srcPort: server.port,
      dstPort: client.port,
      seq,
      ack,
      flags,
      srcMac: NODE_MAC,
      dstMac: CLIENT_MAC,
    });
  const afterData = c + 1 + data.length;
  return [
    up(c, 0, TcpFlag.SYN),
    down(s, c + 1, TcpFlag.SYN | TcpFlag.ACK),
    up(c + 1, s + 1, TcpFlag.ACK),
    up(c + 1, s + 1, TcpFlag.PSH | TcpFlag.ACK, data),
    down(s + 1, afterData, TcpFlag.ACK),
    up(afterData, s + 1, TcpFlag.FIN | TcpFlag.ACK),
    down(s + 1, afterData + 1, TcpFlag.FIN | TcpFlag.ACK),
    up(afterData + 1, s + 2, TcpFlag.ACK),
  ];
}

/** The known-good SYN 192.168.100.1:40000 → 192.168.100.100:30532. */
export function goodSyn(): Uint8Array {
  return tcpConversation()[0];
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
