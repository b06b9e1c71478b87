/**
 * Issue 4's acceptance, part 1: the origin transcript end to end, in every wired proxy
 * mode — curls from the external client to each node's NodePort (auto-allocated, then
 * fixed at 31313), every pod reached, a node without a local pod still answering, the
 * ClusterIP from a node and from a pod, and the run's pcapng clean under tshark.
 */
import { describe, expect, it } from 'vitest';
import { podApps } from '../../src/sim/pod-apps.js';
import type { Simulation } from '../../src/sim/simulation.js';
import { describeWithTshark } from '../helpers/tshark.js';
import {
  buildSmall,
  CLIENT_IP,
  capturedFrames,
  fixture,
  MODES,
  NODE_IPS,
  observe,
  podIP,
  podsByNode,
  service,
  splitPeer,
  type WiredMode,
} from './harness.js';
import { checkInterfacesWithTshark } from './tshark-groups.js';

const ORIGIN = fixture('origin.yaml');
const ORIGIN_31313 = fixture('origin-nodeport-31313.yaml');
/** A pod that backs no Service: the source of pod → ClusterIP curls (no hairpin). */
const CLIENT_POD = `
---
apiVersion: v1
kind: Pod
metadata: { name: a-client, labels: { role: client } }
spec:
  nodeName: node3
  containers:
    - { name: client, image: curl:8 }
`;
/** Kubernetes' random-suffix alphabet (no vowels, no 0/1/3). */
const POD_NAME = /^myweb-rs-[bcdfghjklmnpqrstvwxz2456789]{5}$/;
const BODY = /^Hello World!\n(myweb-rs-[a-z0-9]{5})\n$/;

function rsPods(sim: Simulation): string[] {
  return podApps(sim.cluster.pods())
    .filter((p) => p.name.startsWith('myweb-rs-'))
    .map((p) => p.name);
}

/** Nine curls, three per node IP, asserting the transcript's answer and who served it. */
function nineCurls(sim: Simulation, nodePort: number): string[] {
  const pods = rsPods(sim);
  const served: string[] = [];
  for (const nodeIP of NODE_IPS) {
    for (let i = 0; i < 3; i++) {
      const o = observe(sim, { from: 'client', url: `http://${nodeIP}:${nodePort}` });
      expect(o.outcome.exitCode, o.outcome.stderr).toBe(0);
      const m = BODY.exec(o.outcome.stdout);
      expect(m, o.outcome.stdout).not.toBeNull();
      const name = m![1];
      expect(name).toMatch(POD_NAME);
      expect(pods).toContain(name);
      // The body names the pod whose socket accepted the connection.
      expect(o.outcome.servedBy?.pod).toBe(name);
      served.push(name);
    }
  }
  return served;
}

describe.each(MODES)('%s mode, origin scenario', (mode: WiredMode) => {
  it('answers nine curls from the client (three per node IP) on the auto-allocated NodePort and on nodePort 31313 with "Hello World!" and a myweb-rs pod name', () => {
    const auto = buildSmall({ manifests: ORIGIN, mode, seed: 7 });
    const sp = service(auto, 'myweb-svc-np');
    expect(sp.type).toBe('NodePort');
    expect(sp.nodePort).toBeGreaterThanOrEqual(30000);
    expect(sp.nodePort).toBeLessThanOrEqual(32767);
    expect(nineCurls(auto, sp.nodePort)).toHaveLength(9);

    const fixed = buildSmall({ manifests: ORIGIN_31313, mode, seed: 7 });
    expect(service(fixed, 'myweb-svc-np').nodePort).toBe(31313);
    expect(nineCurls(fixed, 31313)).toHaveLength(9);
  });

  it('reaches each of the three pods within 30 curls spread over the node IPs', () => {
    const sim = buildSmall({ manifests: ORIGIN_31313, mode, seed: 3 });
    const seen = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const o = sim.curl({ from: 'client', url: `http://${NODE_IPS[i % 3]}:31313/` });
      expect(o.exitCode).toBe(0);
      seen.set(o.servedBy!.pod, (seen.get(o.servedBy!.pod) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual(rsPods(sim).sort());
  });

  it('answers on the NodePort of a node without a local pod (2 replicas on 3 nodes), masqueraded to that node’s IP', () => {
    const sim = buildSmall({ manifests: ORIGIN_31313.replace('replicas: 3', 'replicas: 2'), mode, seed: 5 });
    // The scheduler puts each pod on the least-loaded node, ties to the first: node1, node2.
    const placement = podsByNode(sim);
    expect(placement.get('node1')).toHaveLength(1);
    expect(placement.get('node2')).toHaveLength(1);
    expect(placement.get('node3')).toEqual([]);
    const served = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const o = sim.curl({ from: 'client', url: 'http://192.168.100.102:31313/' });
      expect(o.exitCode, o.stderr).toBe(0);
      expect(o.stdout).toMatch(BODY);
      // Every endpoint is remote from node3: SNAT to node3's address (externalTrafficPolicy Cluster).
      expect(splitPeer(o.servedBy!.peer)[0]).toBe('192.168.100.102');
      served.add(o.servedBy!.pod);
    }
    expect([...served].sort()).toEqual(rsPods(sim).sort());
  });

  it('answers the ClusterIP on port 80 from a pod that backs nothing (a-client on node3), the pod IP preserved', () => {
    const sim = buildSmall({ manifests: ORIGIN_31313 + CLIENT_POD, mode, seed: 11 });
    const clusterIP = service(sim, 'myweb-svc-np').clusterIP;
    const seen = new Set<string>();
    for (let i = 0; i < 9; i++) {
      const o = sim.curl({ from: 'pod/a-client', url: `http://${clusterIP}/` });
      expect(o.exitCode, o.stderr).toBe(0);
      expect(o.stdout).toMatch(BODY);
      // Pod-to-Service traffic from inside the cluster CIDR is not masqueraded.
      expect(splitPeer(o.servedBy!.peer)[0]).toBe(podIP(sim, 'a-client'));
      seen.add(o.servedBy!.pod);
    }
    expect(seen.size).toBeGreaterThan(1);
  });
});

describe.each(MODES)('%s mode, origin scenario, from a node', (mode) => {
  it('answers the ClusterIP on port 80 from every node, the node’s own address as the source', () => {
    const sim = buildSmall({ manifests: ORIGIN_31313, mode, seed: 13 });
    const clusterIP = service(sim, 'myweb-svc-np').clusterIP;
    for (const [i, node] of ['node1', 'node2', 'node3'].entries()) {
      const o = sim.curl({ from: node, url: `http://${clusterIP}:80/` });
      expect(o.exitCode, o.stderr).toBe(0);
      expect(o.stdout).toMatch(BODY);
      expect(splitPeer(o.servedBy!.peer)[0]).toBe(NODE_IPS[i]);
    }
  });
});

describeWithTshark('origin run captures', () => {
  it('pass tshark on every captured interface of every mode: checksums verified, no malformed frame, no TCP analysis flag', async () => {
    // One seed per mode: the runs' client ports differ, so interfaces of different runs can
    // share a tshark file without sharing a conversation (see tshark-groups.ts).
    const runs = MODES.map((mode, i) => {
      const sim = buildSmall({ manifests: ORIGIN_31313 + CLIENT_POD, mode, seed: 17 + i });
      nineCurls(sim, 31313);
      const clusterIP = service(sim, 'myweb-svc-np').clusterIP;
      expect(sim.curl({ from: 'pod/a-client', url: `http://${clusterIP}/` }).exitCode).toBe(0);
      expect(sim.curl({ from: 'node2', url: `http://${clusterIP}/` }).exitCode).toBe(0);
      return { label: mode, pcap: sim.capture!.toBuffer(), sim };
    });
    const result = await checkInterfacesWithTshark(runs, ['tcp.port==31313,http', 'tcp.port==8080,http']);
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    // Every interface of every run was read by tshark, all its frames.
    for (const run of runs) {
      const frames = capturedFrames(run.sim);
      const perIface = new Map<string, number>();
      for (const f of frames) perIface.set(f.iface, (perIface.get(f.iface) ?? 0) + 1);
      expect(perIface.get('client/eth0')).toBeGreaterThan(0);
      for (const [iface, n] of perIface) expect(result.framesChecked.get(`${run.label} ${iface}`)).toBe(n);
    }
    // Client-side frames carry only the client's and the nodes' addresses.
    const clientFrames = capturedFrames(runs[0].sim).filter((f) => f.iface === 'client/eth0');
    for (const f of clientFrames) expect([f.src, f.dst]).toContain(CLIENT_IP);
  });
});
