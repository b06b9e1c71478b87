import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConnRef } from '../../src/conntrack/index.js';
import {
  ConntrackTable,
  CT_TRACK_DROP,
  CtDir,
  CtDropReason,
  CtStat,
  connOf,
  dirOf,
  ICMP_ECHO,
  ICMP_ECHOREPLY,
  icmpTypeCode,
  NAT_ERR_BAD_RANGE,
  NAT_ERR_CONFIRMED,
  NAT_RANGE_PROTO_RANDOM_FULLY,
} from '../../src/conntrack/index.js';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { Rng } from '../../src/util/rng.js';
import { IpProtocol } from '../../src/wire/ip-protocol.js';
import { TcpFlag } from '../../src/wire/tcp.js';

const CLIENT = parseIPv4('192.168.100.1');
const NODE = parseIPv4('192.168.100.100');
const NODE_POD_SIDE = parseIPv4('10.233.64.1');
const POD = parseIPv4('10.233.64.5');

/** A NodePort connection: SYN tracked, DNAT to the pod, MASQUERADE to `snatAddr`, confirmed. */
function nodePortSyn(
  ct: ConntrackTable,
  clientAddr: number,
  clientPort: number,
  snatAddr: number,
  flags = 0,
  proto = IpProtocol.TCP,
): { ref: ConnRef; port: number } {
  const ref = ct.track(clientAddr, NODE, clientPort, 30532, proto, TcpFlag.SYN, 0);
  expect(ref).toBeGreaterThanOrEqual(0);
  expect(ct.setDnat(connOf(ref), POD, 8080)).toBe(0);
  const port = ct.setSnat(connOf(ref), snatAddr, 0, 0, flags);
  expect(port).toBeGreaterThan(0);
  return { ref, port };
}

describe('NAT bindings', () => {
  it('gives the translated addresses for both directions of a DNAT + MASQUERADE NodePort flow', () => {
    const ct = new ConntrackTable({ max: 16, rng: new Rng(7) });
    const { ref, port } = nodePortSyn(ct, CLIENT, 40000, NODE_POD_SIDE);
    expect(ct.isUnconfirmed(ref)).toBe(true);
    expect(port).toBe(40000); // source port preserved: the reply tuple is unique
    // Original direction: PREROUTING rewrites the destination, POSTROUTING the source.
    expect(ct.needsDstRewrite(ref)).toBe(true);
    expect([ct.natDaddr(ref), ct.natDport(ref)]).toEqual([POD, 8080]);
    expect(ct.needsSrcRewrite(ref)).toBe(true);
    expect([ct.natSaddr(ref), ct.natSport(ref)]).toEqual([NODE_POD_SIDE, 40000]);
    expect(ct.confirm(ref, 0)).toBe(0);

    // The pod's SYN/ACK is found through the reply tuple and translated back.
    const reply = ct.track(POD, NODE_POD_SIDE, 8080, 40000, IpProtocol.TCP, TcpFlag.SYN | TcpFlag.ACK, 1);
    expect(connOf(reply)).toBe(connOf(ref));
    expect(dirOf(reply)).toBe(CtDir.REPLY);
    expect(ct.isUnconfirmed(reply)).toBe(false);
    expect(ct.needsDstRewrite(reply)).toBe(true); // undo SNAT at PREROUTING
    expect([ct.natDaddr(reply), ct.natDport(reply)]).toEqual([CLIENT, 40000]);
    expect(ct.needsSrcRewrite(reply)).toBe(true); // undo DNAT at POSTROUTING
    expect([ct.natSaddr(reply), ct.natSport(reply)]).toEqual([NODE, 30532]);
    expect(ct.confirm(reply, 1)).toBe(0);
    expect(ct.setDnat(connOf(ref), POD, 9090)).toBe(NAT_ERR_CONFIRMED);
  });

  it('remaps a colliding original source port into 1024–65535, and keeps a free one', () => {
    const ct = new ConntrackTable({ max: 16, rng: new Rng(7) });
    const first = nodePortSyn(ct, CLIENT, 40000, NODE_POD_SIDE);
    ct.confirm(first.ref, 0);
    // A second client with the same source port: the reply tuple pod:8080 → node:40000 is taken.
    const second = nodePortSyn(ct, parseIPv4('192.168.100.2'), 40000, NODE_POD_SIDE);
    expect(second.port).not.toBe(40000);
    expect(second.port).toBeGreaterThanOrEqual(1024);
    expect(ct.confirm(second.ref, 0)).toBe(0);
    const reply = ct.track(
      POD,
      NODE_POD_SIDE,
      8080,
      second.port,
      IpProtocol.TCP,
      TcpFlag.SYN | TcpFlag.ACK,
      1,
    );
    expect(ct.natDaddr(reply)).toBe(parseIPv4('192.168.100.2'));
    expect(ct.natDport(reply)).toBe(40000);
    ct.release(reply);
  });

  it('searches the kernel default ranges for privileged source ports (1–511, 600–1023)', () => {
    const ct = new ConntrackTable({ max: 16, rng: new Rng(3) });
    for (const [orig, lo, hi] of [
      [100, 1, 511],
      [700, 600, 1023],
    ]) {
      ct.confirm(nodePortSyn(ct, CLIENT, orig, NODE_POD_SIDE).ref, 0);
      const { ref, port } = nodePortSyn(ct, parseIPv4('192.168.100.9'), orig, NODE_POD_SIDE);
      expect(port).not.toBe(orig);
      expect(port).toBeGreaterThanOrEqual(lo);
      expect(port).toBeLessThanOrEqual(hi);
      ct.confirm(ref, 0);
    }
  });

  it('never produces two identical reply tuples for any number of SNATs to one address', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            client: fc.integer({ min: 1, max: 4 }),
            port: fc.constantFrom(40000, 40001, 80, 700, 1024, 65535),
            proto: fc.constantFrom(IpProtocol.TCP, IpProtocol.UDP),
            randomFully: fc.boolean(),
          }),
          { maxLength: 60 },
        ),
        fc.nat(),
        (flows, seed) => {
          const ct = new ConntrackTable({ max: 128, rng: new Rng(seed) });
          const seen = new Set<string>();
          for (const f of flows) {
            const client = (parseIPv4('192.168.100.0') + f.client) >>> 0;
            // The same client, port and protocol again is the same connection, not a new one.
            if (ct.find(client, NODE, f.port, 30532, f.proto, 0) >= 0) continue;
            const ref = ct.track(client, NODE, f.port, 30532, f.proto, TcpFlag.SYN, 0);
            const c = connOf(ref);
            ct.setDnat(c, POD, 8080);
            ct.setSnat(c, NODE_POD_SIDE, 0, 0, f.randomFully ? NAT_RANGE_PROTO_RANDOM_FULLY : 0);
            const replyKey = `${ct.replySaddr[c]} ${ct.replyDaddr[c]} ${ct.replyPorts[c]} ${f.proto}`;
            expect(seen.has(replyKey)).toBe(false);
            seen.add(replyKey);
            expect(ct.confirm(ref, 0)).toBe(0);
          }
          expect(ct.stats[CtStat.INSERT_FAILED]).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('with --random-fully does not keep the original port even when it is free', () => {
    const ct = new ConntrackTable({ max: 64, rng: new Rng(11) });
    let kept = 0;
    for (let i = 0; i < 20; i++) {
      const { ref, port } = nodePortSyn(ct, CLIENT, 40000 + i, NODE_POD_SIDE, NAT_RANGE_PROTO_RANDOM_FULLY);
      if (port === 40000 + i) kept++;
      expect(port).toBeGreaterThanOrEqual(1024);
      ct.confirm(ref, 0);
    }
    expect(kept).toBeLessThan(2);
  });

  it('drops the packet at confirm (insert_failed) once a --to-ports range is exhausted', () => {
    const ct = new ConntrackTable({ max: 16, rng: new Rng(5) });
    const ports: number[] = [];
    for (let i = 0; i < 3; i++) {
      const ref = ct.track(CLIENT, NODE, 40000 + i, 30532, IpProtocol.TCP, TcpFlag.SYN, 0);
      ct.setDnat(connOf(ref), POD, 8080);
      ports.push(ct.setSnat(connOf(ref), NODE_POD_SIDE, 5000, 5001, 0));
      const verdict = ct.confirm(ref, 0);
      expect(verdict).toBe(i < 2 ? 0 : CT_TRACK_DROP);
    }
    expect(new Set(ports.slice(0, 2))).toEqual(new Set([5000, 5001]));
    expect(ct.drops[CtDropReason.INSERT_FAILED]).toBe(1);
    expect(ct.stats[CtStat.INSERT_FAILED]).toBe(1);
    expect(ct.count).toBe(2);
    const ref = ct.track(CLIENT, NODE, 41000, 30532, IpProtocol.TCP, TcpFlag.SYN, 0);
    expect(ct.setSnat(connOf(ref), NODE_POD_SIDE, 6000, 5000, 0)).toBe(NAT_ERR_BAD_RANGE);
    ct.release(ref);
    expect(ct.count).toBe(2);
  });

  it('translates ICMP echo through SNAT by the echo id', () => {
    const ct = new ConntrackTable({ max: 16, rng: new Rng(5) });
    const ref = ct.track(CLIENT, POD, 4660, icmpTypeCode(ICMP_ECHO, 0), IpProtocol.ICMP, 0, 0);
    expect(ct.setSnat(connOf(ref), NODE_POD_SIDE, 0, 0, 0)).toBe(4660);
    expect([ct.natSaddr(ref), ct.natSport(ref)]).toEqual([NODE_POD_SIDE, 4660]);
    expect(ct.confirm(ref, 0)).toBe(0);
    const reply = ct.track(POD, NODE_POD_SIDE, 4660, icmpTypeCode(ICMP_ECHOREPLY, 0), IpProtocol.ICMP, 0, 1);
    expect(dirOf(reply)).toBe(CtDir.REPLY);
    expect([ct.natDaddr(reply), ct.natDport(reply)]).toEqual([CLIENT, 4660]);
    ct.confirm(reply, 1);
    // A second ping with the same id from another client gets a different id.
    const other = ct.track(
      parseIPv4('192.168.100.2'),
      POD,
      4660,
      icmpTypeCode(ICMP_ECHO, 0),
      IpProtocol.ICMP,
      0,
      2,
    );
    expect(ct.setSnat(connOf(other), NODE_POD_SIDE, 0, 0, 0)).not.toBe(4660);
    ct.release(other);
    expect(ct.track(CLIENT, POD, 1, icmpTypeCode(ICMP_ECHOREPLY, 0), IpProtocol.ICMP, 0, 3)).toBeLessThan(0);
  });
});
