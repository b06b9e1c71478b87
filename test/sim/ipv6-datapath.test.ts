/**
 * The IPv6 datapath end to end, in every mode: the origin scenario built dual-stack (a
 * PreferDualStack NodePort Service on `--dual-stack`) answers curl on every node's IPv6 address
 * and NodePort from the client and from every pod, and on its IPv6 ClusterIP from every pod —
 * through the IPv6 routes, static neighbours and each mode's IPv6 form: ip6tables rules, the
 * `ip6 kube-proxy` table, IPv6 IPVS virtual servers (with IPv6 conntrack and NAT), or Cilium's
 * IPv6 tc programs over the lb6 maps.
 */
import { describe, expect, it } from 'vitest';
import type { Simulation } from '../../src/sim/simulation.js';
import { DropReason } from '../../src/trace/drop-reasons.js';
import { ipv6Bytes, parseIPv6 } from '../../src/util/ipv6.js';
import { writeTcp6Frame } from '../../src/wire/build6.js';
import { TcpFlag } from '../../src/wire/tcp.js';
import { buildSmall, fixture, MODES, NODE_NAMES } from './harness.js';

const DUAL = { clusterOptions: { dualStack: true } } as const;

function originDualStack(mode: (typeof MODES)[number] = 'iptables', seed = 1): Simulation {
  return buildSmall({ manifests: fixture('origin-dual-stack.yaml'), ...DUAL, mode, seed });
}

function service(sim: Simulation, name = 'myweb-svc-np') {
  const svc = sim.cluster.services().find((s) => s.metadata?.name === name);
  if (svc === undefined) throw new Error(`no Service ${name}`);
  return { clusterIP6: svc.spec!.clusterIPs![1], nodePort: svc.spec!.ports![0].nodePort! };
}

function nodeIPv6s(sim: Simulation): string[] {
  return [...sim.cluster.config.ipv6!.nodes.values()].map((n) => n.ip);
}

function webPods(sim: Simulation): string[] {
  return [...sim.topology.pods.keys()].map((k) => k.split('/')[1]).filter((n) => n.startsWith('myweb-rs-'));
}

function podIPv6(sim: Simulation, pod: string): string {
  const p = sim.cluster.pods().find((x) => x.metadata?.name === pod)!;
  return p.status!.podIPs!.find((a) => a.ip!.includes(':'))!.ip!;
}

function nodeIPv6Of(sim: Simulation, pod: string): string {
  const node = sim.cluster.pods().find((x) => x.metadata?.name === pod)!.spec!.nodeName!;
  return sim.cluster.config.ipv6!.nodes.get(node)!.ip;
}

/** A curl from the first web pod to the IPv6 ClusterIP, and its node's IPv6 flow listing after it. */
function curlClusterIP6(mode: (typeof MODES)[number]) {
  const sim = originDualStack(mode);
  const { clusterIP6 } = service(sim);
  const pod = webPods(sim)[0];
  const o = sim.curl({ from: `pod/${pod}`, url: `http://[${clusterIP6}]:80/` });
  expect(o.exitCode).toBe(0);
  const node = sim.cluster.pods().find((p) => p.metadata?.name === pod)!.spec!.nodeName!;
  return { sim, clusterIP6, pod, o, node, v6: sim.conntrackList(node, 'ipv6') };
}

/** Cilium's default IPv6 service loopback: the source a pod reaching itself through a Service shows. */
const SERVICE_LOOPBACK6 = 'fe80::1';

/**
 * The source a backend sees for a NodePort connection from `caller` (`from`, its IPv6) to
 * `node`. kube-proxy masquerades NodePort traffic to the node's address. Cilium translates a
 * pod's connection to its own node's NodePort in the pod's program (cil_from_container: no
 * SNAT), and SNATs one arriving from outside (cil_from_netdev) to the node's address only when
 * the backend is on another node; the caller itself shows as the service loopback.
 */
function nodePortPeer(
  mode: string,
  sim: Simulation,
  from: string,
  caller: string,
  node: string,
  served: string,
): string {
  if (mode !== 'ebpf') return node;
  const ownNode = from.startsWith('pod/') && nodeIPv6Of(sim, from.slice(4)) === node;
  if (!ownNode && nodeIPv6Of(sim, served) !== node) return node;
  return caller === podIPv6(sim, served) ? SERVICE_LOOPBACK6 : caller;
}

for (const mode of MODES) {
  describe(`IPv6 datapath (${mode} mode): the origin scenario built dual-stack`, () => {
    it('answers curl http://[node IPv6]:NodePort on each node from the client and from all three pods, the backend seeing the source the mode gives it', () => {
      const sim = originDualStack(mode);
      const { nodePort } = service(sim);
      const pods = webPods(sim);
      expect(pods).toHaveLength(3);
      const served = new Set<string>();
      const callers: [string, string][] = [
        ['client', sim.cluster.config.ipv6!.clientIP],
        ...pods.map((p): [string, string] => [`pod/${p}`, podIPv6(sim, p)]),
      ];
      for (const [from, caller] of callers) {
        for (const node of nodeIPv6s(sim)) {
          const o = sim.curl({ from, url: `http://[${node}]:${nodePort}/` });
          expect(o.exitCode, `${from} → [${node}]:${nodePort}: ${o.stderr}`).toBe(0);
          expect(o.stdout).toMatch(/^Hello World!\nmyweb-rs-\w+\n$/);
          const peer = nodePortPeer(mode, sim, from, caller, node, o.servedBy!.pod);
          expect(o.servedBy!.peer.startsWith(`[${peer}]:`), `${from} → ${node}: ${o.servedBy!.peer}`).toBe(
            true,
          );
          served.add(o.servedBy!.pod);
        }
      }
      expect(served.size).toBeGreaterThan(1);
      expect(sim.network.drops.byReason[DropReason.NEIGH_FAILED]).toBe(0);
    });

    it("answers curl on each node's IPv4 address and NodePort too, from the client and all three pods (the dual-stack cluster keeps its IPv4 side)", () => {
      const sim = originDualStack(mode);
      const { nodePort } = service(sim);
      for (const from of ['client', ...webPods(sim).map((p) => `pod/${p}`)])
        for (const node of sim.cluster.config.nodes.map((n) => n.ip)) {
          const o = sim.curl({ from, url: `http://${node}:${nodePort}/` });
          expect(o.exitCode, `${from} → ${node}:${nodePort}: ${o.stderr}`).toBe(0);
          expect(o.stdout).toMatch(/^Hello World!\nmyweb-rs-\w+\n$/);
        }
    });

    it('answers curl http://[ClusterIP6]:80 from all three pods, the pod keeping its own IPv6 source', () => {
      const sim = originDualStack(mode);
      const { clusterIP6 } = service(sim);
      expect(clusterIP6).toMatch(/^fd85:ee78:d8a6:8607::1[0-9a-f]{3}$/);
      for (const pod of webPods(sim)) {
        const served = new Set<string>();
        for (let i = 0; i < 6; i++) {
          const o = sim.curl({ from: `pod/${pod}`, url: `http://[${clusterIP6}]:80/` });
          expect(o.exitCode, o.stderr).toBe(0);
          served.add(o.servedBy!.pod);
          // No masquerade for pod → ClusterIP: the backend sees the pod's IPv6 address — except a
          // hairpin to itself: kube-proxy masquerades it to the node (the endpoint chain's
          // KUBE-MARK-MASQ, IPVS's KUBE-LOOP-BACK), Cilium SNATs it to its service loopback.
          const hairpin = mode === 'ebpf' ? SERVICE_LOOPBACK6 : nodeIPv6Of(sim, pod);
          const expected = o.servedBy!.pod === pod ? hairpin : podIPv6(sim, pod);
          expect(o.servedBy!.peer.startsWith(`[${expected}]:`), o.servedBy!.peer).toBe(true);
        }
        expect(served.size, `${pod} reached ${[...served]}`).toBeGreaterThan(1);
      }
    });

    it('answers curl http://[ClusterIP6]:80 from every node itself (eBPF: its connect6 socket-LB picks the backend; the app still sees the ClusterIP)', () => {
      const sim = originDualStack(mode);
      const { clusterIP6 } = service(sim);
      for (const node of NODE_NAMES) {
        const o = sim.curl({ from: node, url: `http://[${clusterIP6}]/` });
        expect(o.exitCode, `${node}: ${o.stderr}`).toBe(0);
        expect(o.stdout).toMatch(/^Hello World!\nmyweb-rs-\w+\n$/);
      }
    });

    it('curl -6 takes an IPv6 literal and refuses an IPv4 one as unresolvable (6), as getaddrinfo(AF_INET6) does', () => {
      const sim = originDualStack(mode);
      const { clusterIP6 } = service(sim);
      const pod = `pod/${webPods(sim)[0]}`;
      expect(sim.curl({ from: pod, url: `http://[${clusterIP6}]/`, ipFamily: 6 }).exitCode).toBe(0);
      const v4 = sim.curl({ from: pod, url: 'http://10.233.0.1/', ipFamily: 6 });
      expect(v4.exitCode).toBe(6);
      expect(v4.stderr).toBe('curl: (6) Could not resolve host: 10.233.0.1');
    });

    it('-v prints the IPv6 address in brackets in Trying, bare in Connected, and Host: [addr]:port', () => {
      const sim = originDualStack(mode);
      const { nodePort } = service(sim);
      const node = nodeIPv6s(sim)[1];
      const o = sim.curl({ from: 'client', url: `http://[${node}]:${nodePort}/` });
      const text = o.verbose.map((l) => `${l.kind} ${l.text}`);
      expect(text).toContain(`*   Trying [${node}]:${nodePort}...`);
      expect(text).toContain(`* Connected to ${node} (${node}) port ${nodePort} (#0)`);
      expect(text).toContain(`> Host: [${node}]:${nodePort}\r\n`);
    });

    // nf_conntrack holds kube-proxy's IPv6 flows; Cilium keeps its own in the cilium_ct6 maps.
    if (mode !== 'ebpf')
      it('tracks IPv6 connections in a separate table: conntrack -L -f ipv6 shows the DNAT to the pod, the IPv4 table none of them', () => {
        const { sim, clusterIP6, pod, o, node, v6 } = curlClusterIP6(mode);
        const backend = podIPv6(sim, o.servedBy!.pod);
        const line = v6.split('\n').find((l) => l.includes(`dst=${clusterIP6} `))!;
        expect(line).toMatch(
          new RegExp(
            `^tcp {6}6 \\d+ TIME_WAIT src=${podIPv6(sim, pod)} dst=${clusterIP6} sport=\\d+ dport=80 src=${backend} dst=${podIPv6(sim, pod)} sport=8080 dport=\\d+ \\[ASSURED\\] mark=0 use=1$`,
          ),
        );
        expect(v6).toMatch(/conntrack v1\.4\.7 \(conntrack-tools\): \d+ flow entries have been shown\.\n$/);
        expect(sim.conntrackList(node)).not.toContain(clusterIP6);
      });
    else
      it('tracks IPv6 flows in the cilium_ct6 maps: ct list -f ipv6 shows the service entry and the translated flow, the IPv4 maps none of them', () => {
        const { sim, clusterIP6, pod, o, node, v6 } = curlClusterIP6(mode);
        const client = podIPv6(sim, pod);
        const source = o.servedBy!.pod === pod ? SERVICE_LOOPBACK6 : client;
        // Printed as cilium-dbg prints a CT key (the C struct's daddr with the first port field first).
        expect(v6).toMatch(
          new RegExp(`^TCP OUT \\[${clusterIP6}\\]:\\d+ -> \\[${client}\\]:80 service expires=`, 'm'),
        );
        expect(v6).toMatch(
          new RegExp(
            `^TCP OUT \\[${source}\\]:8080 -> \\[${podIPv6(sim, o.servedBy!.pod)}\\]:\\d+ expires=`,
            'm',
          ),
        );
        expect(sim.conntrackList(node)).not.toContain(clusterIP6);
      });

    it('a Service without endpoints is rejected with ICMPv6 port unreachable: curl (7) at once', () => {
      const sim = buildSmall({
        manifests: `${fixture('origin-dual-stack.yaml')}
---
apiVersion: v1
kind: Service
metadata: {name: empty}
spec: {ipFamilyPolicy: PreferDualStack, selector: {app: nothing}, ports: [{port: 82}]}
`,
        ...DUAL,
        mode,
      });
      const { clusterIP6 } = service(sim, 'empty');
      const o = sim.curl({ from: `pod/${webPods(sim)[0]}`, url: `http://[${clusterIP6}]:82/` });
      expect(o.exitCode).toBe(7);
      expect(o.stderr).toBe(
        `curl: (7) Failed to connect to ${clusterIP6} port 82 after 0 ms: Couldn't connect to server`,
      );
      // kube-proxy's rules REJECT it; Cilium's tail_no_service_ipv6 turns it into the error in place.
      if (mode === 'ebpf') expect(sim.network.drops.byReason[DropReason.NETFILTER_REJECT]).toBe(0);
      else expect(sim.network.drops.byReason[DropReason.NETFILTER_REJECT]).toBe(1);
    });

    it('forwarding a packet whose hop limit is 1 drops it (IP_TTL_EXCEEDED) and answers ICMPv6 time exceeded', () => {
      const sim = originDualStack(mode);
      const client = sim.topology.client;
      const pod = webPods(sim)[0];
      const pool = sim.network.pool;
      const slot = pool.acquire();
      pool.lengths[slot] = writeTcp6Frame(pool.view(slot), 0, {
        srcMac: new Uint8Array(6),
        dstMac: new Uint8Array(6),
        src: ipv6Bytes(parseIPv6(sim.cluster.config.ipv6!.clientIP)),
        dst: ipv6Bytes(parseIPv6(podIPv6(sim, pod))),
        hopLimit: 1,
        sport: 40000,
        dport: 8080,
        seq: 1,
        flags: TcpFlag.SYN,
        window: 64240,
      });
      const delivered = client.drops.delivered;
      client.v6!.output(slot);
      sim.settle();
      expect(sim.network.drops.byReason[DropReason.IP_TTL_EXCEEDED]).toBe(1);
      // The time-exceeded error came back to the client (it quotes a segment no socket owns).
      expect(client.drops.delivered).toBe(delivered + 1);
    });

    it('a pod deleted and recreated by its ReplicaSet is reachable on its new IPv6 address, the old one unrouted', () => {
      const sim = originDualStack(mode);
      const [gone] = webPods(sim);
      const oldIp = podIPv6(sim, gone);
      sim.cluster.apply({ type: 'deletePod', name: gone });
      sim.syncFromCluster();
      const pods = webPods(sim);
      expect(pods).not.toContain(gone);
      const fresh = pods.find((p) => !p.startsWith(gone))!;
      const { clusterIP6 } = service(sim);
      for (let i = 0; i < 9; i++)
        expect(sim.curl({ from: `pod/${fresh}`, url: `http://[${clusterIP6}]/` }).exitCode).toBe(0);
      expect(pods.map((p) => podIPv6(sim, p))).not.toContain(oldIp);
    });
  });
}

describe('IPv6 on a single-stack cluster', () => {
  it('a single-stack cluster refuses an IPv6 URL with one line', () => {
    const sim = buildSmall({ manifests: fixture('origin.yaml') });
    expect(() => sim.curl({ from: 'client', url: 'http://[fd00::1]:80/' })).toThrow(
      'IPv6 not supported here: [fd00::1]:80 (the cluster is single-stack: use --dual-stack or a v4,v6 --service-cluster-ip-range)',
    );
  });
});
