/**
 * Issue 4's acceptance, part 3: properties of the simulated dataplane over generated
 * seeds, modes and curl sequences (small simulations, few runs: each run builds a cluster).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readCapture } from '../../src/capture/index.js';
import type { Simulation } from '../../src/sim/simulation.js';
import {
  newFiveTuple,
  ParseStatus,
  parseFiveTuple,
  verifyIcmpChecksum,
  verifyIpv4HeaderChecksum,
  verifyTcpChecksum,
} from '../../src/wire/index.js';
import { TcpFlag } from '../../src/wire/tcp.js';
import {
  buildSmall,
  CLIENT_IP,
  capturedFrames,
  fixture,
  framesOf,
  MODES,
  NODE_IPS,
  type Observed,
  observe,
  podIP,
  service,
  splitPeer,
} from './harness.js';
import { BEHAVIOUR_YAML } from './scenarios.js';

const ORIGIN_31313 = fixture('origin-nodeport-31313.yaml');
const WITH_CLIENT_POD = `${ORIGIN_31313}
---
apiVersion: v1
kind: Pod
metadata: { name: a-client }
spec:
  nodeName: node2
  containers:
    - { name: client, image: curl:8 }
`;

/** A curl of the origin scenario: the client to a node's NodePort, or a pod to the ClusterIP. */
const originCurl = fc.oneof(
  fc.record({ kind: fc.constant('nodePort' as const), node: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('podToClusterIP' as const) }),
);
type OriginCurl = typeof originCurl extends fc.Arbitrary<infer T> ? T : never;

function runOrigin(sim: Simulation, curls: readonly OriginCurl[]): Observed[] {
  const clusterIP = service(sim, 'myweb-svc-np').clusterIP;
  return curls.map((c) =>
    c.kind === 'nodePort'
      ? observe(sim, { from: 'client', url: `http://${NODE_IPS[c.node]}:31313/` })
      : observe(sim, { from: 'pod/a-client', url: `http://${clusterIP}/` }),
  );
}

const seed = fc.integer({ min: 1, max: 1_000_000 });
const mode = fc.constantFrom(...MODES);

describe('dataplane properties', () => {
  it('every packet of one flow reaches the same pod: for each connection exactly one pod sees frames, the pod that answered, from its SYN to its FIN', () => {
    fc.assert(
      fc.property(seed, mode, fc.array(originCurl, { minLength: 2, maxLength: 6 }), (s, m, curls) => {
        const sim = buildSmall({ manifests: WITH_CLIENT_POD, mode: m, seed: s });
        const runs = runOrigin(sim, curls);
        const frames = capturedFrames(sim);
        for (const o of runs) {
          expect(o.outcome.exitCode, o.outcome.stderr).toBe(0);
          const podFrames = framesOf(frames, o).filter((f) => f.iface.startsWith('myweb-rs-'));
          const pods = new Set(podFrames.map((f) => f.iface.slice(0, -'/eth0'.length)));
          expect([...pods]).toEqual([o.outcome.servedBy!.pod]);
          // One connection on the pod's side: a single address/port pair, opened and closed.
          const ip = podIP(sim, o.outcome.servedBy!.pod);
          const peers = new Set(
            podFrames.map((f) => (f.dst === ip ? `${f.src}:${f.sport}` : `${f.dst}:${f.dport}`)),
          );
          expect([...peers]).toEqual([o.outcome.servedBy!.peer]);
          expect(podFrames.some((f) => f.tcpFlags === TcpFlag.SYN)).toBe(true);
          expect(podFrames.filter((f) => f.tcpFlags & TcpFlag.FIN)).toHaveLength(2);
        }
      }),
      { numRuns: 12 },
    );
  });

  it('the reply tuple restores the original destination: every frame the caller receives comes from the address and port it called, to its own port', () => {
    fc.assert(
      fc.property(seed, mode, fc.array(originCurl, { minLength: 2, maxLength: 6 }), (s, m, curls) => {
        const sim = buildSmall({ manifests: WITH_CLIENT_POD, mode: m, seed: s });
        const runs = runOrigin(sim, curls);
        const frames = capturedFrames(sim);
        for (const o of runs) {
          const caller = o.request.from === 'client' ? CLIENT_IP : podIP(sim, 'a-client');
          const iface = o.request.from === 'client' ? 'client/eth0' : 'a-client/eth0';
          const replies = framesOf(frames, o).filter((f) => f.iface === iface && f.dst === caller);
          expect(replies.length).toBeGreaterThanOrEqual(3);
          for (const f of replies)
            expect([f.src, f.sport, f.dport]).toEqual([o.target.addr, o.target.port, o.outcome.localPort]);
          // What the pod saw as its peer is where its replies went before un-NAT.
          const pod = o.outcome.servedBy!.pod;
          const [peerAddr, peerPort] = splitPeer(o.outcome.servedBy!.peer);
          const podReplies = framesOf(frames, o).filter(
            (f) => f.iface === `${pod}/eth0` && f.src === podIP(sim, pod),
          );
          for (const f of podReplies) expect([f.sport, f.dst, f.dport]).toEqual([8080, peerAddr, peerPort]);
        }
      }),
      { numRuns: 12 },
    );
  });

  /** Curls of the behaviour scenario, including refused (ICMP) and dropped (timeout) ones. */
  const behaviourCurl = fc.record({
    node: fc.integer({ min: 0, max: 2 }),
    nodePort: fc.constantFrom(30080, 30081, 30082, 30083, 30084, 30085),
  });

  function runBehaviour(m: (typeof MODES)[number], s: number, curls: { node: number; nodePort: number }[]) {
    const sim = buildSmall({ manifests: BEHAVIOUR_YAML, mode: m, seed: s });
    const counts: { acquired: number; accounted: number }[] = [];
    for (const c of curls) {
      sim.curl({ from: 'client', url: `http://${NODE_IPS[c.node]}:${c.nodePort}/`, connectTimeoutMs: 150 });
      const net = sim.network;
      counts.push({
        acquired: net.pool.acquired,
        accounted: net.drops.delivered + net.drops.totalDropped + net.framesInFlight,
      });
    }
    return { sim, counts };
  }

  it('every emitted frame’s checksums verify: IPv4 header, TCP (pseudo-header included) and ICMP, on every interface', () => {
    fc.assert(
      fc.property(seed, mode, fc.array(behaviourCurl, { minLength: 3, maxLength: 8 }), (s, m, curls) => {
        const { sim } = runBehaviour(m, s, curls);
        const file = readCapture(sim.capture!.toBuffer());
        expect(file.packets.length).toBeGreaterThan(0);
        const ft = newFiveTuple();
        for (const p of file.packets) {
          expect(parseFiveTuple(p.data, ft)).toBe(ParseStatus.OK);
          expect(verifyIpv4HeaderChecksum(p.data, ft.ipOffset)).toBe(true);
          if (ft.proto === 6)
            expect(verifyTcpChecksum(p.data, ft.l4Offset, ft.l4Length, ft.saddr, ft.daddr)).toBe(true);
          else if (ft.proto === 1) expect(verifyIcmpChecksum(p.data, ft.l4Offset, ft.l4Length)).toBe(true);
          else throw new Error(`unexpected IP protocol ${ft.proto} in the capture`);
        }
      }),
      { numRuns: 10 },
    );
  });

  it('packets are conserved: every frame a host created is delivered, dropped with a reason, or still in flight — after every curl, served, refused or timed out', () => {
    fc.assert(
      fc.property(seed, mode, fc.array(behaviourCurl, { minLength: 3, maxLength: 8 }), (s, m, curls) => {
        const { sim, counts } = runBehaviour(m, s, curls);
        for (const c of counts) expect(c.accounted).toBe(c.acquired);
        // Each drop is attributed to exactly one host.
        const net = sim.network;
        let perHost = 0;
        let delivered = 0;
        for (const h of net.hosts) {
          perHost += h.drops.totalDropped;
          delivered += h.drops.delivered;
        }
        expect(perHost).toBe(net.drops.totalDropped);
        expect(delivered).toBe(net.drops.delivered);
      }),
      { numRuns: 10 },
    );
  });
});

describe('iptables-save round trip', () => {
  /** Origin plus an affinity Service and one without endpoints: the same rules on every node. */
  const ROUND_TRIP_YAML = `${ORIGIN_31313}
---
apiVersion: v1
kind: Service
metadata: { name: sticky }
spec:
  type: NodePort
  sessionAffinity: ClientIP
  sessionAffinityConfig: { clientIP: { timeoutSeconds: 10 } }
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080, nodePort: 30083 }]
---
apiVersion: v1
kind: Service
metadata: { name: empty }
spec:
  type: NodePort
  selector: { app: nothing-runs-this }
  ports: [{ port: 80, targetPort: 8080, nodePort: 30082 }]
`;

  it('compile → iptables-save text → parse → evaluate behaves exactly like evaluating the compiled rules: same answers, same pods and peers, same rule counters under one seed', () => {
    fc.assert(
      fc.property(
        seed,
        fc.array(
          fc.record({ node: fc.integer({ min: 0, max: 2 }), nodePort: fc.constantFrom(31313, 30083, 30082) }),
          { minLength: 3, maxLength: 10 },
        ),
        (s, curls) => {
          const compiled = buildSmall({
            manifests: ROUND_TRIP_YAML,
            mode: 'iptables',
            seed: s,
            capture: false,
          });
          const text = compiled.rules('node1');
          // One dump serves every node only if the nodes' rules are the same (no Local policy here).
          expect(compiled.rules('node2')).toBe(text);
          expect(compiled.rules('node3')).toBe(text);
          const parsed = buildSmall({
            manifests: ROUND_TRIP_YAML,
            mode: 'iptables',
            seed: s,
            capture: false,
            iptablesSave: text,
          });
          expect(parsed.rules('node1')).toBe(text);
          for (const c of curls) {
            const url = `http://${NODE_IPS[c.node]}:${c.nodePort}/`;
            const a = compiled.curl({ from: 'client', url });
            const b = parsed.curl({ from: 'client', url });
            expect(b).toEqual(a);
            expect(a.exitCode).toBe(c.nodePort === 30082 ? 7 : 0);
          }
          for (const node of ['node1', 'node2', 'node3']) {
            expect(parsed.rules(node, { counters: true })).toBe(compiled.rules(node, { counters: true }));
            expect(parsed.conntrackList(node)).toBe(compiled.conntrackList(node));
          }
        },
      ),
      { numRuns: 10 },
    );
  });
});
