/**
 * Issue 13 item 5: stale UDP conntrack. A client keeps streaming from one source port to a
 * UDP Service (a statsd-like one-way stream: every entry stays [UNREPLIED], every packet
 * refreshes its 30 s timeout) while the Service's only backend is replaced or scaled to
 * zero and back. Without clean-up the flow stays DNATed to the dead pod; kube-proxy's
 * clean-ups (≤ 1.31 on endpoint deletion, the 1.32+ reconciler) recover it — except the
 * 1.32 reconciler while the Service has no endpoint (kubernetes#139628).
 */
import { describe, expect, it } from 'vitest';
import type { ClusterEvent } from '../../src/k8s/cluster.js';
import type { UdpConntrackCleanup } from '../../src/proxy/common/udp-conntrack-cleanup.js';
import type { Simulation } from '../../src/sim/simulation.js';
import { formatIPv4, parseIPv4 } from '../../src/util/ipv4.js';
import { IpProtocol } from '../../src/wire/ip-protocol.js';
import { buildSmall } from '../sim/harness.js';
import { clusterIPOf } from './helpers.js';
import { UDP_YAML } from './scenarios.js';

function apply(sim: Simulation, event: ClusterEvent): void {
  const result = sim.cluster.apply(event);
  expect(result.ok, result.message).toBe(true);
  sim.syncFromCluster();
}

function statsdPod(sim: Simulation): string {
  const pods = sim.cluster.pods().filter((p) => p.metadata?.name?.startsWith('statsd-'));
  expect(pods).toHaveLength(1);
  return pods[0].metadata!.name!;
}

/** A one-way stream: one datagram every 100 ms from pod/udp-client port 40000 to statsd's ClusterIP. */
class Stream {
  private readonly socket;
  private readonly vip: number;
  constructor(private readonly sim: Simulation) {
    this.socket = sim.udpStack('pod/udp-client').bind({ port: 40000 });
    this.vip = parseIPv4(clusterIPOf(sim, 'statsd'));
  }
  /** Sends for `seconds` of simulated time. */
  run(seconds: number): void {
    for (let i = 0; i < seconds * 10; i++) {
      this.socket.sendTo(this.vip, 8125, new TextEncoder().encode('requests:1|c'));
      this.sim.advance(100);
    }
  }
}

/** The DNAT target (reply source) of node1's entry for the stream, or undefined. */
function streamTarget(sim: Simulation): string | undefined {
  const ct = sim.proxies.get('node1')!.conntrack!;
  const client = sim.cluster.getPod('udp-client')!.status!.podIP!;
  const ref = ct.find(
    parseIPv4(client),
    parseIPv4(clusterIPOf(sim, 'statsd')),
    40000,
    8125,
    IpProtocol.UDP,
    sim.network.nowNs,
  );
  return ref < 0 ? undefined : formatIPv4(ct.replySaddr[ref >>> 1]);
}

function received(sim: Simulation): number {
  return sim.udpSink(statsdPod(sim), 8125)?.datagrams ?? 0;
}

const RECOVERING: readonly UdpConntrackCleanup[] = ['endpoint-deletion', 'reconciler-v1.32', 'reconciler'];

describe('stale UDP conntrack when the only backend is replaced', () => {
  for (const mode of ['iptables', 'nftables'] as const) {
    it(`${mode}, no clean-up: the stream stays DNATed to the deleted pod and its replacement receives nothing`, () => {
      const sim = buildSmall({
        manifests: UDP_YAML,
        mode,
        seed: 1,
        capture: false,
        udpConntrackCleanup: 'none',
      });
      const stream = new Stream(sim);
      stream.run(1);
      const old = statsdPod(sim);
      const oldIP = sim.cluster.getPod(old)!.status!.podIP!;
      expect(received(sim)).toBe(10);
      apply(sim, { type: 'deletePod', name: old });
      expect(statsdPod(sim)).not.toBe(old);
      stream.run(5);
      expect(received(sim)).toBe(0);
      expect(streamTarget(sim)).toBe(oldIP);
      // Every datagram after the delete is lost on the way to the dead pod's address.
      expect(sim.network.drops.totalDropped).toBe(50);
    });

    for (const cleanup of RECOVERING) {
      it(`${mode}, ${cleanup}: the entry pinned to the deleted pod is removed at the sync and the stream reaches the replacement`, () => {
        const sim = buildSmall({
          manifests: UDP_YAML,
          mode,
          seed: 1,
          capture: false,
          udpConntrackCleanup: cleanup,
        });
        const stream = new Stream(sim);
        stream.run(1);
        apply(sim, { type: 'deletePod', name: statsdPod(sim) });
        const replacement = statsdPod(sim);
        stream.run(5);
        expect(received(sim)).toBe(50);
        expect(streamTarget(sim)).toBe(sim.cluster.getPod(replacement)!.status!.podIP);
        expect(sim.udpConntrackDeleted.get('node1')).toBe(1);
        expect(sim.network.drops.totalDropped).toBe(0);
      });
    }
  }
});

describe('scale to zero and back (kubernetes#139628)', () => {
  function scaleRun(cleanup: UdpConntrackCleanup) {
    const sim = buildSmall({
      manifests: UDP_YAML,
      mode: 'iptables',
      seed: 1,
      capture: false,
      udpConntrackCleanup: cleanup,
    });
    const stream = new Stream(sim);
    stream.run(1);
    const oldIP = sim.cluster.getPod(statsdPod(sim))!.status!.podIP!;
    apply(sim, { type: 'scaleDeployment', name: 'statsd', replicas: 0 });
    stream.run(60);
    const whileZero = { target: streamTarget(sim), drops: sim.network.drops.toRecord() };
    apply(sim, { type: 'scaleDeployment', name: 'statsd', replicas: 1 });
    stream.run(2);
    return { sim, oldIP, whileZero, afterBack: received(sim) };
  }

  it('reconciler-v1.32: while scaled to zero the 60 s stream keeps its entry DNATed to the deleted pod (refreshed, never expiring) instead of hitting the REJECT; scaling back up clears it', () => {
    const { whileZero, oldIP, afterBack } = scaleRun('reconciler-v1.32');
    expect(whileZero.target).toBe(oldIP);
    expect(whileZero.drops.NETFILTER_REJECT).toBeUndefined();
    expect(Object.values(whileZero.drops).reduce((a, b) => a + b, 0)).toBe(600);
    expect(afterBack).toBe(20);
  });

  for (const cleanup of ['endpoint-deletion', 'reconciler'] as const) {
    it(`${cleanup}: scaling to zero clears the entry, so the stream is REJECTed with ICMP port unreachable (no entry kept), and reaches the new pod after scaling back`, () => {
      const { whileZero, afterBack } = scaleRun(cleanup);
      expect(whileZero.target).toBeUndefined();
      // Each rejected datagram: the REJECT, and the ICMP error the unconnected socket ignores.
      expect(whileZero.drops).toEqual({ NETFILTER_REJECT: 600, ICMP_NO_SOCKET: 600 });
      expect(afterBack).toBe(20);
    });
  }
});
