import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newPacketMeta, type PacketMeta } from '../../../src/proxy/common/packet-meta.js';
import {
  compileIpvs,
  connOverhead,
  IpvsNode,
  IpvsTcpState,
  IpvsVerdict,
  renderIpvsadmConnections,
  renderIpvsadmList,
} from '../../../src/proxy/ipvs/index.js';
import { formatIPv4, parseIPv4 } from '../../../src/util/ipv4.js';
import { Rng } from '../../../src/util/rng.js';
import { TcpFlag } from '../../../src/wire/tcp.js';
import { ep, model, WEB } from './fixtures.js';

const S = 1e9;
const VIP = parseIPv4('10.233.17.37');
const CLIENT = parseIPv4('10.233.64.50');

function node(svcs = [WEB], opts: { scheduler?: string } = {}) {
  const ipvs = new IpvsNode({ rng: new Rng(42) });
  ipvs.sync(compileIpvs(model(svcs), 'node1', opts));
  return ipvs;
}

function pkt(
  saddr: number,
  sport: number,
  daddr: number,
  dport: number,
  nowS: number,
  proto = 6,
): PacketMeta {
  const m = newPacketMeta();
  m.saddr = saddr;
  m.sport = sport;
  m.daddr = daddr;
  m.dport = dport;
  m.proto = proto;
  m.length = 60;
  m.nowNs = nowS * S;
  return m;
}

/** Sends client → VIP:80 and returns the chosen real server "ip:port" (or the verdict). */
function send(ipvs: IpvsNode, sport: number, flags: number, nowS: number, saddr = CLIENT): string {
  const v = ipvs.datapath.request(pkt(saddr, sport, VIP, 80, nowS), flags);
  if (v !== IpvsVerdict.FORWARD) return `verdict ${v}`;
  return `${formatIPv4(ipvs.datapath.result.daddr)}:${ipvs.datapath.result.dport}`;
}

function webService(ipvs: IpvsNode) {
  const svc = ipvs.services.find(6, VIP, 80);
  if (svc === undefined) throw new Error('no web service');
  return svc;
}

describe('IPVS datapath (ip_vs_in / ip_vs_out)', () => {
  it('DNATs a SYN to a real server and un-NATs the reply back to the VIP', () => {
    const ipvs = node();
    const dest = send(ipvs, 40000, TcpFlag.SYN, 0);
    expect(dest).toMatch(/^10\.233\.6[456]\.2:8080$/);
    const [ip, port] = dest.split(':');
    const v = ipvs.datapath.reply(pkt(parseIPv4(ip), +port, CLIENT, 40000, 0.001), TcpFlag.SYN | TcpFlag.ACK);
    expect(v).toBe(IpvsVerdict.FORWARD);
    expect(formatIPv4(ipvs.datapath.result.saddr)).toBe('10.233.17.37');
    expect(ipvs.datapath.result.sport).toBe(80);
    expect(ipvs.datapath.result.daddr).toBe(CLIENT);
  });

  it('rr spreads successive new connections over the real servers in kernel list order', () => {
    const ipvs = node();
    const picks = [0, 1, 2, 3].map((i) => send(ipvs, 40000 + i, TcpFlag.SYN, 0));
    // Real servers were added in sorted order, each at the list head: the list is reversed.
    expect(picks).toEqual(['10.233.66.2:8080', '10.233.65.2:8080', '10.233.64.2:8080', '10.233.66.2:8080']);
  });

  it('leaves non-SYN TCP without a connection alone and rejects when there is no real server', () => {
    const ipvs = node();
    expect(send(ipvs, 40000, TcpFlag.ACK, 0)).toBe(`verdict ${IpvsVerdict.NOT_IPVS}`);
    expect(ipvs.datapath.request(pkt(CLIENT, 1, VIP, 81, 0), TcpFlag.SYN)).toBe(IpvsVerdict.NOT_IPVS);
    const empty = node([{ ...WEB, endpoints: [] }]);
    expect(send(empty, 40000, TcpFlag.SYN, 0)).toBe(`verdict ${IpvsVerdict.REJECT}`);
  });

  it('counts a connection active from SYN to ESTABLISHED and inactive from FIN on, then expires it', () => {
    const ipvs = node();
    const d = send(ipvs, 40000, TcpFlag.SYN, 0);
    const dest = webService(ipvs).dests.find((x) => `${formatIPv4(x.addr)}:${x.port}` === d);
    if (dest === undefined) throw new Error('dest');
    const cp = ipvs.datapath.result.conn;
    expect([dest.activeConns, dest.inactConns, ipvs.conns.state[cp]]).toEqual([1, 0, IpvsTcpState.SYN_RECV]);
    send(ipvs, 40000, TcpFlag.ACK, 1);
    expect(ipvs.conns.state[cp]).toBe(IpvsTcpState.ESTABLISHED);
    send(ipvs, 40000, TcpFlag.FIN | TcpFlag.ACK, 2); // client FIN: ESTABLISHED → CLOSE_WAIT (input table)
    expect([ipvs.conns.state[cp], dest.activeConns, dest.inactConns]).toEqual([
      IpvsTcpState.CLOSE_WAIT,
      0,
      1,
    ]);
    const [ip, port] = d.split(':');
    ipvs.datapath.reply(pkt(parseIPv4(ip), +port, CLIENT, 40000, 2.1), TcpFlag.FIN | TcpFlag.ACK); // → TIME_WAIT
    send(ipvs, 40000, TcpFlag.ACK, 2.2);
    expect(ipvs.conns.state[cp]).toBe(IpvsTcpState.TIME_WAIT);
    // TIME_WAIT lasts 120 s after the last packet.
    expect(ipvs.conns.expireDue((2.2 + 119.9) * S)).toBe(0);
    expect(ipvs.conns.expireDue((2.2 + 120) * S)).toBe(1);
    expect([dest.activeConns, dest.inactConns, ipvs.conns.count]).toEqual([0, 0, 0]);
  });

  it('expires idle connections after the kernel timeouts: established 900 s, SYN_RECV 60 s, UDP 300 s', () => {
    const ipvs = node();
    send(ipvs, 1, TcpFlag.SYN, 0);
    send(ipvs, 1, TcpFlag.ACK, 0);
    send(ipvs, 2, TcpFlag.SYN, 0);
    expect(ipvs.conns.expireDue(59.999 * S)).toBe(0);
    expect(ipvs.conns.expireDue(60 * S)).toBe(1); // the half-open one
    expect(ipvs.conns.expireDue(899.999 * S)).toBe(0);
    expect(ipvs.conns.expireDue(900 * S)).toBe(1);

    const dns = node([{ ...WEB, protocol: 'UDP', nodePort: 0, type: 'ClusterIP' }]);
    const v = dns.datapath.request(pkt(CLIENT, 5353, VIP, 80, 0, 17), 0);
    expect(v).toBe(IpvsVerdict.FORWARD);
    const d = dns.conns.dest[dns.datapath.result.conn];
    expect([d?.activeConns, d?.inactConns]).toEqual([0, 1]); // UDP entries are never "active"
    expect(dns.conns.expireDue(299 * S)).toBe(0);
    expect(dns.conns.expireDue(300 * S)).toBe(1);
  });

  it('a new SYN on a TIME_WAIT entry is rescheduled (conn_reuse_mode 1)', () => {
    const ipvs = node();
    const first = send(ipvs, 40000, TcpFlag.SYN, 0);
    send(ipvs, 40000, TcpFlag.ACK, 0.5);
    send(ipvs, 40000, TcpFlag.RST, 1); // ESTABLISHED → CLOSE (an RST in SYN_RECV would keep SYN_RECV)
    expect(ipvs.conns.state[ipvs.datapath.result.conn]).toBe(IpvsTcpState.CLOSE);
    const second = send(ipvs, 40000, TcpFlag.SYN, 2);
    expect(second).not.toBe(first);
    expect(ipvs.conns.count).toBe(1);
  });

  it('persistence (ClientIP affinity) sticks within the timeout and not after it', () => {
    const sticky = { ...WEB, sessionAffinity: 'ClientIP' as const, stickyMaxAgeSeconds: 100 };
    const ipvs = node([sticky]);
    /** A whole short connection: SYN, ACK, RST (ESTABLISHED → CLOSE, expiring 10 s later). */
    const shortConn = (sport: number, t: number, saddr = CLIENT): string => {
      const d = send(ipvs, sport, TcpFlag.SYN, t, saddr);
      send(ipvs, sport, TcpFlag.ACK, t, saddr);
      send(ipvs, sport, TcpFlag.RST, t, saddr);
      return d;
    };
    const first = shortConn(40000, 0);
    for (let i = 1; i <= 5; i++) expect(shortConn(40000 + i, i * 10)).toBe(first);
    // Another client is scheduled independently (rr moves on).
    expect(shortConn(50000, 55, parseIPv4('10.233.65.50'))).not.toBe(first);
    // The template's timer was last re-armed at t=50: it holds until t=150.
    expect(shortConn(40100, 149.9)).toBe(first);
    // Re-armed at 149.9; once it fires (249.9) the client is scheduled afresh.
    ipvs.conns.expireDue(249.9 * S);
    expect(send(ipvs, 40200, TcpFlag.SYN, 250)).not.toBe(first);
  });

  it('a persistence template lapses once the connections it controls have timed out (TIME_WAIT 120 s) and its own timer fires', () => {
    const sticky = { ...WEB, sessionAffinity: 'ClientIP' as const, stickyMaxAgeSeconds: 10 };
    const ipvs = node([sticky]);
    /** A closed connection: SYN, ACK, client FIN, server FIN+ACK, client ACK → TIME_WAIT. */
    const closedConn = (sport: number, t: number): string => {
      const d = send(ipvs, sport, TcpFlag.SYN, t);
      const [ip, port] = d.split(':');
      const reply = (flags: number) =>
        ipvs.datapath.reply(pkt(parseIPv4(ip), +port, CLIENT, sport, t), flags);
      reply(TcpFlag.SYN | TcpFlag.ACK);
      send(ipvs, sport, TcpFlag.ACK, t);
      send(ipvs, sport, TcpFlag.FIN | TcpFlag.ACK, t);
      reply(TcpFlag.FIN | TcpFlag.ACK);
      send(ipvs, sport, TcpFlag.ACK, t);
      return d;
    };
    const first = closedConn(40000, 0);
    expect(renderIpvsadmConnections(ipvs.conns, 0)).toContain('TIME_WAIT');
    // 11 s later the 10 s template is due but still controls the TIME_WAIT entry: re-armed, same pick.
    expect(closedConn(40001, 11)).toBe(first);
    // Both connections' TIME_WAIT timers (120 s) have run by t=200; the template's re-armed
    // timer is due, nothing holds it: the client is scheduled afresh (rr moves on) with no
    // explicit expireDue from the caller.
    expect(closedConn(40002, 200)).not.toBe(first);
  });

  it('shows connections and templates like ipvsadm -Lnc', () => {
    const sticky = { ...WEB, sessionAffinity: 'ClientIP' as const, stickyMaxAgeSeconds: 10800 };
    const ipvs = node([sticky]);
    const d = send(ipvs, 40000, TcpFlag.SYN, 0);
    send(ipvs, 40000, TcpFlag.ACK, 0);
    const text = renderIpvsadmConnections(ipvs.conns, 75 * S);
    const lines = text.split('\n');
    expect(lines.slice(0, 2)).toEqual([
      'IPVS connection entries',
      'pro expire state       source             virtual            destination',
    ]);
    expect(lines.slice(2, 4).sort()).toEqual(
      [
        `TCP 13:45  ESTABLISHED 10.233.64.50:40000 10.233.17.37:80    ${d}`,
        `TCP 178:45 ASSURED     10.233.64.50:0     10.233.17.37:80    ${d}`,
      ].sort(),
    );
    expect(renderIpvsadmList(ipvs.services)).toMatch(/Masq {4}1 {6}1 {10}0 {9}\n/);
  });

  it('counts connections, packets and bytes like ipvsadm -Ln --stats', () => {
    const ipvs = node();
    const d = send(ipvs, 40000, TcpFlag.SYN, 0);
    const [ip, port] = d.split(':');
    ipvs.datapath.reply(pkt(parseIPv4(ip), +port, CLIENT, 40000, 0), TcpFlag.SYN | TcpFlag.ACK);
    send(ipvs, 40000, TcpFlag.ACK, 0);
    const lines = renderIpvsadmList(ipvs.services, { stats: true }).split('\n');
    expect(lines[1]).toBe('Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes');
    expect(lines[2]).toBe('  -> RemoteAddress:Port');
    // "%-33s" then print_largenum's "%9llu" per counter.
    expect(lines).toContain(
      `${'TCP  10.233.17.37:80'.padEnd(33)}        1        2        1      120       60`,
    );
    expect(lines).toContain(`  -> ${d.padEnd(28)}        1        2        1      120       60`);
  });

  it('graceful termination: a removed TCP real server goes to weight 0 until its connections drain', () => {
    const ipvs = node();
    const d = send(ipvs, 40000, TcpFlag.SYN, 0);
    send(ipvs, 40000, TcpFlag.ACK, 0);
    const [ip] = d.split(':');
    const remaining = WEB.endpoints.filter((e) => e.ip !== ip);
    ipvs.sync(compileIpvs(model([{ ...WEB, endpoints: remaining }]), 'node1'));
    const gone = webService(ipvs).dests.find((x) => formatIPv4(x.addr) === ip);
    expect(gone?.weight).toBe(0);
    // The established connection keeps flowing to it; new ones never pick it.
    expect(send(ipvs, 40000, TcpFlag.ACK, 1)).toBe(d);
    for (let i = 1; i <= 6; i++) expect(send(ipvs, 40000 + i, TcpFlag.SYN, 1)).not.toBe(d);
    expect(ipvs.gracefulTick(60 * S)).toBe(0);
    expect(ipvs.gracefulTick(901 * S)).toBe(1);
    expect(webService(ipvs).dests.some((x) => formatIPv4(x.addr) === ip)).toBe(false);
  });

  it('a removed UDP real server is deleted at once and its entries are dropped on their next packet', () => {
    const udp = { ...WEB, protocol: 'UDP' as const, type: 'ClusterIP' as const, nodePort: 0 };
    const ipvs = node([udp]);
    expect(ipvs.datapath.request(pkt(CLIENT, 5000, VIP, 80, 0, 17), 0)).toBe(IpvsVerdict.FORWARD);
    const ip = formatIPv4(ipvs.datapath.result.daddr);
    ipvs.sync(compileIpvs(model([{ ...udp, endpoints: udp.endpoints.filter((e) => e.ip !== ip) }]), 'node1'));
    expect(ipvs.services.find(17, VIP, 80)?.dests).toHaveLength(2);
    expect(ipvs.datapath.request(pkt(CLIENT, 5000, VIP, 80, 1, 17), 0)).toBe(IpvsVerdict.DROP);
    expect(ipvs.conns.count).toBe(0);
    expect(ipvs.datapath.request(pkt(CLIENT, 5000, VIP, 80, 2, 17), 0)).toBe(IpvsVerdict.FORWARD);
  });

  it('keeps per-destination counters consistent with the connection table under arbitrary churn', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('lc', 'wlc', 'sed', 'nq'),
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('open' as const), port: fc.integer({ min: 1, max: 30 }) }),
            fc.record({ op: fc.constant('ack' as const), port: fc.integer({ min: 1, max: 30 }) }),
            fc.record({ op: fc.constant('close' as const), port: fc.integer({ min: 1, max: 30 }) }),
            fc.record({ op: fc.constant('wait' as const), seconds: fc.integer({ min: 1, max: 200 }) }),
          ),
          { maxLength: 80 },
        ),
        (scheduler, ops) => {
          const svc4 = {
            ...WEB,
            endpoints: [...WEB.endpoints, ep('10.233.64.3', 8080, 'node1')],
          };
          const ipvs = node([svc4], { scheduler });
          const svc = webService(ipvs);
          let now = 0;
          for (const o of ops) {
            if (o.op === 'wait') {
              now += o.seconds;
              ipvs.conns.expireDue(now * S);
              continue;
            }
            if (o.op === 'open') {
              // Expected choice from the counters the kernel sees at scheduling time.
              const existing = ipvs.conns.findIn(6, CLIENT, o.port, VIP, 80);
              if (existing >= 0) {
                send(ipvs, o.port, TcpFlag.SYN, now);
                continue;
              }
              const avail = svc.dests.filter((d) => d.weight > 0);
              const cost = (d: (typeof avail)[number]) =>
                scheduler === 'lc' || scheduler === 'wlc' ? connOverhead(d) : d.activeConns + 1;
              let best = avail[0];
              if (scheduler === 'nq' && avail.some((d) => d.activeConns === 0)) {
                best = avail.find((d) => d.activeConns === 0) ?? best;
              } else {
                for (const d of avail.slice(1)) {
                  const w = scheduler === 'lc' ? 1 : d.weight;
                  const bw = scheduler === 'lc' ? 1 : best.weight;
                  if (cost(d) * bw < cost(best) * w) best = d;
                }
              }
              const got = send(ipvs, o.port, TcpFlag.SYN, now);
              if (got !== `${formatIPv4(best.addr)}:${best.port}`) return false;
            } else {
              send(ipvs, o.port, o.op === 'ack' ? TcpFlag.ACK : TcpFlag.RST, now);
            }
            // Counters must equal what the table holds.
            for (const d of svc.dests) {
              let a = 0;
              let ina = 0;
              for (const i of ipvs.conns.listOrder()) {
                if (ipvs.conns.dest[i] !== d || ipvs.conns.isTemplate(i)) continue;
                if (ipvs.conns.flags[i] & 0x0100) ina++;
                else a++;
              }
              if (a !== d.activeConns || ina !== d.inactConns) return false;
            }
          }
          return true;
        },
      ),
      { numRuns: 60 },
    );
  });
});
