/**
 * Issue 5.6: endpoint churn while traffic flows. Control-plane events go through
 * `cluster.apply`, then `syncFromCluster` plugs/unplugs pods and re-syncs every node's
 * rules, as kube-proxy does after an EndpointSlice change.
 */
import { describe, expect, it } from 'vitest';
import type { TcpConnection, TcpStack } from '../../src/apps/index.js';
import type { ClusterEvent } from '../../src/k8s/cluster.js';
import { podApps } from '../../src/sim/pod-apps.js';
import type { Simulation } from '../../src/sim/simulation.js';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { TcpFlag } from '../../src/wire/tcp.js';
import {
  buildSmall,
  CLIENT_IP,
  capturedFrames,
  fixture,
  MODES,
  NODE_IPS,
  type WiredMode,
} from './harness.js';

const ORIGIN_31313 = fixture('origin-nodeport-31313.yaml');

function apply(sim: Simulation, event: ClusterEvent): void {
  const result = sim.cluster.apply(event);
  expect(result.ok, result.message).toBe(true);
  sim.syncFromCluster();
}

function rsPods(sim: Simulation): string[] {
  return podApps(sim.cluster.pods())
    .filter((p) => p.name.startsWith('myweb-rs-'))
    .map((p) => p.name)
    .sort();
}

/** Who serves `n` new connections spread over the three node IPs. */
function servedBy(sim: Simulation, n: number): Map<string, number> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const o = sim.curl({ from: 'client', url: `http://${NODE_IPS[i % 3]}:31313/` });
    expect(o.exitCode, o.stderr).toBe(0);
    seen.set(o.servedBy!.pod, (seen.get(o.servedBy!.pod) ?? 0) + 1);
  }
  return seen;
}

describe.each(MODES)('%s mode, endpoint churn', (mode: WiredMode) => {
  it('sends new flows to the pods a scale-up adds', () => {
    const sim = buildSmall({ manifests: ORIGIN_31313, mode, seed: 31, capture: false });
    apply(sim, { type: 'scaleReplicaSet', name: 'myweb-rs', replicas: 5 });
    const pods = rsPods(sim);
    expect(pods).toHaveLength(5);
    expect([...servedBy(sim, 45).keys()].sort()).toEqual(pods);
  });

  it('keeps new flows off an endpoint marked not ready, and returns to it once it is ready again', () => {
    const sim = buildSmall({ manifests: ORIGIN_31313, mode, seed: 32, capture: false });
    const [unready] = rsPods(sim);
    apply(sim, { type: 'setPodReady', name: unready, ready: false });
    const ep = sim.model.servicePorts
      .find((s) => s.name === 'myweb-svc-np')!
      .endpoints.find((e) => e.podName === unready);
    expect(ep?.ready).toBe(false);
    const during = servedBy(sim, 30);
    expect(during.has(unready)).toBe(false);
    expect(during.size).toBe(2);
    apply(sim, { type: 'setPodReady', name: unready, ready: true });
    expect(servedBy(sim, 30).has(unready)).toBe(true);
  });

  /**
   * Opens a connection from the client to node1's NodePort, completes the handshake, then
   * deletes the pod that accepted it and sends the request on the established connection.
   */
  function deleteMidFlow(sim: Simulation) {
    const stack = sim.host('client').tcp as TcpStack;
    const received: Uint8Array[] = [];
    const errors: string[] = [];
    const opened = stack.connect({
      localAddr: parseIPv4(CLIENT_IP),
      remoteAddr: parseIPv4('192.168.100.100'),
      remotePort: 31313,
      events: {
        onData: (_c, data) => received.push(data),
        onError: (_c, e) => errors.push(e.errno),
      },
    });
    expect(opened.ok).toBe(true);
    const connection = (opened as { connection: TcpConnection }).connection;
    const rxBefore = new Map(rsPods(sim).map((p) => [p, sim.host(`pod/${p}`).interfaces[0].rxPackets]));
    sim.network.run(sim.network.nowNs + 5e6);
    expect(connection.state).toBe('ESTABLISHED');
    // The pod that took the handshake is the one whose eth0 received it.
    const victims = rsPods(sim).filter(
      (p) => sim.host(`pod/${p}`).interfaces[0].rxPackets > rxBefore.get(p)!,
    );
    expect(victims).toHaveLength(1);
    const victim = victims[0];

    apply(sim, { type: 'deletePod', name: victim });
    expect(rsPods(sim)).not.toContain(victim);
    expect(rsPods(sim)).toHaveLength(3); // the ReplicaSet replaced it
    expect(sim.topology.pods.has(`default/${victim}`)).toBe(false);

    const framesBefore = sim.capture!.frames;
    const podRx = rsPods(sim).map((p) => sim.host(`pod/${p}`).interfaces[0].rxPackets);
    connection.send(new TextEncoder().encode('GET / HTTP/1.1\r\nHost: 192.168.100.100:31313\r\n\r\n'));
    sim.network.run(sim.network.nowNs + 3e9);
    const frames = capturedFrames(sim).slice(framesBefore);
    const podRxAfter = rsPods(sim).map((p) => sim.host(`pod/${p}`).interfaces[0].rxPackets);
    return { connection, received, errors, frames, podRx, podRxAfter, victim };
  }

  /** After the churn, new flows reach the three live pods, the replacement included. */
  function newFlowsAvoid(sim: Simulation, victim: string): void {
    const seen = servedBy(sim, 30);
    expect(seen.has(victim)).toBe(false);
    expect([...seen.keys()].sort()).toEqual(rsPods(sim));
  }

  if (mode === 'ebpf') {
    it('resets a connection whose backend was deleted mid-flow: the CT entry’s backend is gone, so the next packet picks a live backend, which answers RST (Cilium’s documented reselection), while new flows avoid the deleted pod', () => {
      const sim = buildSmall({ manifests: ORIGIN_31313, mode, seed: 33 });
      const r = deleteMidFlow(sim);
      expect(r.received).toEqual([]);
      expect(r.errors).toEqual(['ECONNRESET']);
      expect(r.connection.state).toBe('CLOSED');
      // The RST reaches the client reverse-NATed: from the address and port it called.
      const rst = r.frames.filter(
        (f) => f.iface === 'client/eth0' && f.dst === CLIENT_IP && f.tcpFlags & TcpFlag.RST,
      );
      expect(rst.map((f) => [f.src, f.sport])).toEqual([['192.168.100.100', 31313]]);
      // It came from one of the live pods.
      const fromPods = r.frames.filter((f) => f.iface.startsWith('myweb-rs-') && f.tcpFlags & TcpFlag.RST);
      expect(fromPods).toHaveLength(1);
      expect(rsPods(sim)).toContain(fromPods[0].iface.slice(0, -'/eth0'.length));
      newFlowsAvoid(sim, r.victim);
    });
  } else {
    it('times out a connection whose pod was deleted mid-flow: conntrack still DNATs it to the gone address, so the request is retransmitted unanswered (no RST, nothing reaches any pod), while new flows avoid the deleted pod', () => {
      const sim = buildSmall({ manifests: ORIGIN_31313, mode, seed: 33 });
      const r = deleteMidFlow(sim);
      expect(r.received).toEqual([]);
      expect(r.errors).toEqual([]);
      expect(r.connection.state).toBe('ESTABLISHED');
      const sent = r.frames.filter((f) => f.iface === 'client/eth0' && f.src === CLIENT_IP);
      expect(sent.length).toBeGreaterThanOrEqual(3); // the request and its retransmissions
      expect(r.frames.filter((f) => f.iface === 'client/eth0' && f.dst === CLIENT_IP)).toEqual([]);
      expect(r.frames.some((f) => f.tcpFlags & TcpFlag.RST)).toBe(false);
      expect(r.podRxAfter).toEqual(r.podRx);
      r.connection.abort();
      newFlowsAvoid(sim, r.victim);
    });
  }
});
