/**
 * IPVS mode on a node: the remaining iptables rules and the IPVS hooks answering the
 * node's netfilter path, first hook by hook with hand-made PacketMeta values, then end to
 * end on the simulated cluster with real frames.
 */
import { describe, expect, it } from 'vitest';
import { CtState } from '../../../src/conntrack/constants.js';
import { HookResult, HookVerdict, NatKind, type RuleTraceEvent } from '../../../src/proxy/common/datapath.js';
import type { ServicePort } from '../../../src/proxy/common/model.js';
import { NfHook, newPacketMeta, type PacketMeta } from '../../../src/proxy/common/packet-meta.js';
import {
  compileIpvs,
  type IpvsCompileOptions,
  IpvsNode,
  renderIpvsadmConnections,
  renderIpvsadmList,
} from '../../../src/proxy/ipvs/index.js';
import { IpvsNodeProgram } from '../../../src/proxy/ipvs/node-program.js';
import { attachMode } from '../../../src/sim/modes.js';
import { buildClusterTopology, CALICO_VETH_MAC, podKey } from '../../../src/topology/build.js';
import type { CaptureSink } from '../../../src/topology/network.js';
import { formatIPv4, parseIPv4 } from '../../../src/util/ipv4.js';
import { Rng } from '../../../src/util/rng.js';
import { newFiveTuple, ParseStatus, parseFiveTuple, writeTcpFrame } from '../../../src/wire/index.js';
import { IpProtocol } from '../../../src/wire/ip-protocol.js';
import { ep, model, NODES, ORIGIN, servicePort, WEB } from './fixtures.js';

const SYN = 0x02;
const ACK = 0x10;
const NODE1 = '192.168.100.100';
const CLIENT = '192.168.100.1';
const MASQ_MARK = 0x4000;
const WEB_PODS = ['10.233.64.2', '10.233.65.2', '10.233.66.2'];

function programFor(svcs: readonly ServicePort[], opts: IpvsCompileOptions = {}) {
  const state = compileIpvs(model(svcs), 'node1', opts);
  const ipvs = new IpvsNode({ rng: new Rng(3) });
  ipvs.sync(state);
  const program = new IpvsNodeProgram(ipvs, state, { rng: new Rng(4), nodeAddresses: [NODE1] });
  return { state, ipvs, program };
}

function newPacket(src: string, sport: number, dst: string, dport: number, tcpFlags = SYN): PacketMeta {
  const m = newPacketMeta();
  Object.assign(m, {
    saddr: parseIPv4(src),
    sport,
    daddr: parseIPv4(dst),
    dport,
    proto: IpProtocol.TCP,
    tcpFlags,
    length: 60,
    ctState: tcpFlags === SYN ? CtState.NEW : CtState.ESTABLISHED,
  });
  return m;
}

/** Runs one hook on `meta` (kept across hooks, as the node's netfilter keeps it). */
function hook(program: IpvsNodeProgram, meta: PacketMeta, h: NfHook, inIface: string, outIface: string) {
  meta.hook = h;
  meta.inIface = inIface;
  meta.outIface = outIface;
  const out = new HookResult();
  program.runHook(meta, out, null);
  return out;
}

/**
 * A new connection arriving from `inIface` for a local address (VIP or node IP):
 * PREROUTING → INPUT; when IPVS answers DNAT, conntrack rewrites the destination and the
 * packet is routed out through POSTROUTING. Returns what each hook answered.
 */
function deliverNew(program: IpvsNodeProgram, meta: PacketMeta, inIface: string, outIfaceAfterDnat = 'eth0') {
  const pre = hook(program, meta, NfHook.PREROUTING, inIface, '');
  const markAfterPrerouting = meta.mark;
  const input = hook(program, meta, NfHook.INPUT, inIface, '');
  let post: HookResult | null = null;
  if (input.verdict === HookVerdict.ACCEPT && input.nat === NatKind.DNAT) {
    meta.daddr = input.natAddr;
    meta.dport = input.natPortMin;
    post = hook(program, meta, NfHook.POSTROUTING, inIface, outIfaceAfterDnat);
  }
  return {
    pre,
    markAfterPrerouting,
    input,
    post,
    target: `${formatIPv4(input.natAddr)}:${input.natPortMin}`,
  };
}

describe('IpvsNodeProgram hook by hook', () => {
  it('NodePort SYN from an external client: marked in PREROUTING, DNAT to a real server at INPUT, MASQUERADE at POSTROUTING', () => {
    const { program } = programFor([WEB]);
    const r = deliverNew(program, newPacket(CLIENT, 40000, NODE1, 31313), 'eth0');
    expect(r.pre.verdict).toBe(HookVerdict.ACCEPT);
    expect(r.pre.nat).toBe(NatKind.NONE);
    expect(r.markAfterPrerouting).toBe(MASQ_MARK); // KUBE-NODE-PORT-TCP → KUBE-MARK-MASQ
    expect(r.input.verdict).toBe(HookVerdict.ACCEPT);
    expect(r.input.nat).toBe(NatKind.DNAT);
    expect(WEB_PODS.map((ip) => `${ip}:8080`)).toContain(r.target);
    expect(r.post?.nat).toBe(NatKind.MASQUERADE);
    expect(r.post?.natRandomFully).toBe(true);
  });

  it('ClusterIP from a pod: DNAT at INPUT and no masquerade (the source is inside --cluster-cidr)', () => {
    const { program } = programFor([WEB]);
    const r = deliverNew(program, newPacket('10.233.64.9', 40000, '10.233.17.37', 80), 'cali0123456789a');
    expect(r.markAfterPrerouting).toBe(0);
    expect(r.input.nat).toBe(NatKind.DNAT);
    expect(WEB_PODS.map((ip) => `${ip}:8080`)).toContain(r.target);
    expect(r.post?.nat).toBe(NatKind.NONE);
  });

  it('ClusterIP from outside the cluster CIDR is masqueraded (KUBE-CLUSTER-IP with ! -s clusterCIDR)', () => {
    const { program } = programFor([WEB]);
    const r = deliverNew(program, newPacket(CLIENT, 40001, '10.233.17.37', 80), 'eth0');
    expect(r.markAfterPrerouting).toBe(MASQ_MARK);
    expect(r.post?.nat).toBe(NatKind.MASQUERADE);
  });

  it('a pod reaching itself through its Service is masqueraded by the KUBE-LOOP-BACK hairpin rule', () => {
    const solo = servicePort({
      name: 'solo',
      clusterIP: '10.233.9.9',
      port: 80,
      endpoints: [ep('10.233.64.2', 8080, 'node1')],
    });
    const { program } = programFor([solo]);
    const r = deliverNew(program, newPacket('10.233.64.2', 40000, '10.233.9.9', 80), 'cali0', 'cali0');
    expect(r.target).toBe('10.233.64.2:8080');
    expect(r.markAfterPrerouting).toBe(0);
    expect(r.post?.nat).toBe(NatKind.MASQUERADE);
  });

  it('a Service without endpoints is REJECTed with ICMP port unreachable by IPVS itself', () => {
    const empty = servicePort({
      name: 'empty',
      type: 'NodePort',
      clusterIP: '10.233.8.8',
      port: 80,
      nodePort: 30080,
    });
    const { program } = programFor([empty]);
    for (const [dst, port] of [
      ['10.233.8.8', 80],
      [NODE1, 30080],
    ] as const) {
      const r = deliverNew(program, newPacket('10.233.64.9', 40000, dst, port), 'cali0');
      expect(r.input.verdict).toBe(HookVerdict.REJECT);
      expect(r.input.rejectCode).toBe(3);
    }
  });

  it('a NEW connection to a VIP port that is no service is REJECTed by KUBE-IPVS-FILTER', () => {
    const { program, ipvs } = programFor([WEB]);
    const meta = newPacket('10.233.64.9', 40000, '10.233.17.37', 22);
    hook(program, meta, NfHook.PREROUTING, 'cali0', '');
    const events: RuleTraceEvent[] = [];
    meta.hook = NfHook.INPUT;
    const out = new HookResult();
    program.runHook(meta, out, { record: (e) => events.push(e) });
    expect(out.verdict).toBe(HookVerdict.REJECT);
    expect(out.rejectCode).toBe(3);
    expect(events.at(-1)?.ruleText).toBe(
      '-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT --reject-with icmp-port-unreachable',
    );
    expect(ipvs.conns.count).toBe(0);
  });

  it('round-robin sends successive new connections to each real server in turn', () => {
    const { program } = programFor([WEB]);
    const targets: string[] = [];
    for (let i = 0; i < 6; i++) {
      targets.push(deliverNew(program, newPacket(CLIENT, 41000 + i, NODE1, 31313), 'eth0').target);
    }
    expect(new Set(targets.slice(0, 3))).toEqual(new Set(WEB_PODS.map((ip) => `${ip}:8080`)));
    expect(targets.slice(3)).toEqual(targets.slice(0, 3));
  });

  it('replies and the client’s translated packets at FORWARD advance the IPVS connection to ESTABLISHED', () => {
    const { program, ipvs } = programFor([WEB]);
    const syn = newPacket(CLIENT, 40000, NODE1, 31313);
    const { input } = deliverNew(program, syn, 'eth0');
    const pod = formatIPv4(input.natAddr);
    // SYN-ACK from the real server, after conntrack undid the masquerade in PREROUTING.
    const synAck = newPacket(pod, 8080, CLIENT, 40000, SYN | ACK);
    hook(program, synAck, NfHook.PREROUTING, 'eth0', '');
    expect(hook(program, synAck, NfHook.FORWARD, 'eth0', 'eth0').verdict).toBe(HookVerdict.ACCEPT);
    // The client's ACK, already translated by conntrack to the real server.
    const ack = newPacket(CLIENT, 40000, pod, 8080, ACK);
    hook(program, ack, NfHook.PREROUTING, 'eth0', '');
    expect(hook(program, ack, NfHook.FORWARD, 'eth0', 'eth0').verdict).toBe(HookVerdict.ACCEPT);
    expect(renderIpvsadmConnections(ipvs.conns, ack.nowNs)).toContain(
      `TCP 15:00  ESTABLISHED 192.168.100.1:40000 192.168.100.100:31313 ${pod}:8080`,
    );
    const destLine = renderIpvsadmList(ipvs.services)
      .split('\n')
      .find((l) => l.startsWith(`  -> ${pod}:8080`) && l.includes('Masq    1      1 '));
    expect(destLine).toBeDefined();
  });

  it('the node’s own connection to a ClusterIP is scheduled at OUTPUT (IPVS LOCAL_OUT) and answered with DNAT', () => {
    const { program } = programFor([WEB]);
    const meta = newPacket(NODE1, 50000, '10.233.17.37', 80);
    const out = hook(program, meta, NfHook.OUTPUT, '', 'eth0');
    expect(out.verdict).toBe(HookVerdict.ACCEPT);
    expect(out.nat).toBe(NatKind.DNAT);
    expect(WEB_PODS).toContain(formatIPv4(out.natAddr));
    expect(meta.mark).toBe(MASQ_MARK); // the node IP is outside the cluster CIDR
  });

  it('drops the node’s own connection to an LB IP whose source ranges exclude the node (-m ipvs in KUBE-IPVS-OUT-FILTER)', () => {
    const lb = servicePort({
      name: 'lb',
      type: 'LoadBalancer',
      clusterIP: '10.233.1.3',
      port: 443,
      nodePort: 30443,
      loadBalancerIPs: ['203.0.113.10'],
      loadBalancerSourceRanges: ['198.51.100.0/24'],
      endpoints: [ep('10.233.64.7', 8443, 'node1')],
    });
    const { program } = programFor([lb]);
    // The LB IP is on kube-ipvs0, so the kernel picks it as the source of the node's connection.
    const blocked = hook(
      program,
      newPacket('203.0.113.10', 50000, '203.0.113.10', 443),
      NfHook.OUTPUT,
      '',
      'lo',
    );
    expect(blocked.verdict).toBe(HookVerdict.DROP);
    // The ClusterIP of the same Service stays reachable from the node.
    const allowed = hook(program, newPacket(NODE1, 50001, '10.233.1.3', 443), NfHook.OUTPUT, '', 'eth0');
    expect(allowed.verdict).toBe(HookVerdict.ACCEPT);
    expect(formatIPv4(allowed.natAddr)).toBe('10.233.64.7');
  });

  it('IPVS differs from iptables: eTP=Local with no local endpoint falls back to remote endpoints, without masquerade', () => {
    const local = servicePort({
      ...WEB,
      name: 'local',
      clusterIP: '10.233.5.5',
      nodePort: 30555,
      externalTrafficPolicy: 'Local',
      endpoints: [ep('10.233.65.2', 8080, 'node2')],
    });
    const { program } = programFor([local]);
    const r = deliverNew(program, newPacket(CLIENT, 40000, NODE1, 30555), 'eth0');
    // iptables/nftables would DROP here (no local endpoint); IPVS forwards to node2's pod…
    expect(r.input.verdict).toBe(HookVerdict.ACCEPT);
    expect(r.target).toBe('10.233.65.2:8080');
    // …and KUBE-NODE-PORT-LOCAL-TCP returns before KUBE-MARK-MASQ: the client IP is kept.
    expect(r.markAfterPrerouting).toBe(0);
    expect(r.post?.nat).toBe(NatKind.NONE);
  });
});

/** Records frames per captured interface. */
class MemoryCapture implements CaptureSink {
  readonly names: string[] = [];
  readonly frames: { iface: string; bytes: Uint8Array }[] = [];
  addInterface(name: string): number {
    this.names.push(name);
    return this.names.length - 1;
  }
  record(id: number, _t: number, frame: Uint8Array, length: number): void {
    this.frames.push({ iface: this.names[id], bytes: frame.slice(0, length) });
  }
}

function tuple(bytes: Uint8Array) {
  const ft = newFiveTuple();
  expect(parseFiveTuple(bytes, ft)).toBe(ParseStatus.OK);
  return `${formatIPv4(ft.saddr)}:${ft.sport} > ${formatIPv4(ft.daddr)}:${ft.dport} flags ${ft.tcpFlags}`;
}

describe('IPVS mode on the simulated cluster', () => {
  const pods = WEB.endpoints.map((e, i) => ({
    name: `myweb-${i}`,
    namespace: 'default',
    nodeName: e.nodeName,
    ip: e.ip,
  }));

  function cluster() {
    const topology = buildClusterTopology({ clientIP: CLIENT, nodes: NODES, pods }, new Rng(11));
    const proxies = attachMode('ipvs', topology, ORIGIN, new Rng(12));
    const capture = new MemoryCapture();
    topology.network.capture = capture;
    topology.network.captureInterface(topology.client.interfaces[0]);
    for (const p of topology.pods.values()) topology.network.captureInterface(p.interfaces[0]);
    return { topology, proxies, capture };
  }

  function send(
    topology: ReturnType<typeof cluster>['topology'],
    from: 'client' | string,
    spec: Parameters<typeof writeTcpFrame>[2],
  ) {
    const host = from === 'client' ? topology.client : topology.pods.get(podKey('default', from))!;
    const pool = topology.network.pool;
    const slot = pool.acquire();
    pool.lengths[slot] = writeTcpFrame(pool.view(slot), 0, spec);
    topology.network.transmit(host.interfaces[0], slot);
    topology.network.run();
  }

  it('a NodePort SYN sent to node1 reaches a web pod masqueraded, and the pod’s SYN-ACK returns from the NodePort', () => {
    const { topology, proxies, capture } = cluster();
    const node1 = topology.nodes.get('node1')!;
    // kube-ipvs0's addresses are local on every node.
    expect(node1.isLocal(parseIPv4('10.233.17.37'))).toBe(true);
    expect(node1.isLocal(parseIPv4('10.233.0.1'))).toBe(true);

    send(topology, 'client', {
      srcMac: topology.client.interfaces[0].mac,
      dstMac: node1.interfaces[0].mac,
      src: parseIPv4(CLIENT),
      dst: parseIPv4(NODE1),
      sport: 40000,
      dport: 31313,
      seq: 1000,
      flags: SYN,
      window: 64240,
    });
    const atPods = capture.frames.filter((f) => f.iface.startsWith('myweb-'));
    expect(atPods).toHaveLength(1);
    const podName = atPods[0].iface.split('/')[0];
    const pod = topology.pods.get(podKey('default', podName))!;
    const podIp = formatIPv4(pod.interfaces[0].addr);
    const seen = tuple(atPods[0].bytes);
    // The DNAT IPVS chose is the pod that got the frame; the source is node1's (masquerade).
    expect(proxies.get('node1')!.dump({ part: 'connections' })).toContain(
      `192.168.100.1:40000 192.168.100.100:31313 ${podIp}:8080`,
    );
    expect(seen).toMatch(
      new RegExp(`^${NODE1.replaceAll('.', '\\.')}:\\d+ > ${podIp.replaceAll('.', '\\.')}:8080 flags 2$`),
    );
    expect(pod.drops.delivered).toBe(1); // checksums verified on delivery

    // The pod answers the masqueraded source; node1 undoes both translations.
    const masqPort = Number(seen.split(' ')[0].split(':')[1]);
    send(topology, podName, {
      srcMac: pod.interfaces[0].mac,
      dstMac: CALICO_VETH_MAC,
      src: pod.interfaces[0].addr,
      dst: parseIPv4(NODE1),
      sport: 8080,
      dport: masqPort,
      seq: 5000,
      ack: 1001,
      flags: SYN | ACK,
      window: 65160,
    });
    const atClient = capture.frames.filter((f) => f.iface === 'client/eth0').map((f) => tuple(f.bytes));
    expect(atClient).toEqual([
      '192.168.100.1:40000 > 192.168.100.100:31313 flags 2',
      '192.168.100.100:31313 > 192.168.100.1:40000 flags 18',
    ]);
    expect(topology.client.drops.delivered).toBe(1);
    expect(proxies.get('node1')!.dump({ part: 'ipvsadm', counters: true })).toMatch(
      /^TCP {2}192\.168\.100\.100:31313 +1 +1 +1 /m,
    );
  });

  it('dumps ipvsadm -Ln, ipset list and the remaining iptables-save per node', () => {
    const { proxies } = cluster();
    const p = proxies.get('node2')!;
    expect(p.mode).toBe('ipvs');
    expect(p.dump()).toContain('TCP  192.168.100.101:31313 rr\n');
    expect(p.dump({ part: 'ipset' })).toContain('Name: KUBE-NODE-PORT-TCP\nType: bitmap:port');
    expect(p.dump({ part: 'iptables' })).toContain('# Generated by iptables-save v1.8.9 (nf_tables)');
    expect(p.dump({ part: 'iptables', counters: true })).toMatch(/^\[\d+:\d+\] -A KUBE-SERVICES/m);
  });

  it('sync re-binds kube-ipvs0: a removed Service’s VIP stops being local, a new one becomes local', () => {
    const { topology, proxies } = cluster();
    const node1 = topology.nodes.get('node1')!;
    const other = servicePort({
      name: 'other',
      clusterIP: '10.233.30.30',
      port: 80,
      endpoints: [ep('10.233.64.2', 8080, 'node1')],
    });
    proxies.get('node1')!.sync(model([other]));
    expect(node1.isLocal(parseIPv4('10.233.17.37'))).toBe(false);
    expect(node1.isLocal(parseIPv4('10.233.30.30'))).toBe(true);
    expect(node1.isLocal(parseIPv4(NODE1))).toBe(true);
  });
});
