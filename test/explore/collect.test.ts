/**
 * What `dpsim explore` embeds, checked without a browser: for every mode, every traced
 * rule points at a dump line of its own text, hop frames are the packets the capture holds
 * at those numbers, the NAT recorded is what the packets show, and the rules'
 * probabilities sum to one.
 */
import { describe, expect, it } from 'vitest';
import { readCapture } from '../../src/capture/index.js';
import { collectMode } from '../../src/explore/collect.js';
import { ruleProbabilities } from '../../src/explore/probabilities.js';
import { PROXY_MODES } from '../../src/proxy/common/datapath.js';
import { Simulation } from '../../src/sim/simulation.js';
import { formatIPv4 } from '../../src/util/ipv4.js';
import { decodeFrame, findLayer } from '../../src/wire/index.js';

type Mode = (typeof PROXY_MODES)[number];
const collected = new Map<Mode, ReturnType<typeof collectMode>>();
/** One collection per mode, shared by the tests below (each reads it, none changes it). */
function collect(mode: Mode): ReturnType<typeof collectMode> {
  let c = collected.get(mode);
  if (c === undefined) {
    c = collectMode(mode, {
      simulate: async (m, capture) => new Simulation({ mode: m, capture, seed: 1 }),
      loadFlows: 200,
      seed: 1,
      captureFile: (m) => `capture-${m}.pcapng`,
    });
    collected.set(mode, c);
  }
  return c;
}

describe('explore data for the origin scenario', () => {
  for (const mode of PROXY_MODES) {
    it(`${mode}: one path per ClusterIP and per node NodePort; every NodePort answered by a pod, any failure shown as a drop with curl's error`, async () => {
      const { view } = await collect(mode);
      const myweb = view.services.find((s) => s.id === 'default/myweb-svc-np')!;
      expect(myweb.entries.map((e) => e.entry)).toEqual(['clusterIP', 'node1', 'node2', 'node3']);
      expect(view.paths).toHaveLength(5);
      for (const p of view.paths) {
        if (p.entry !== 'clusterIP') expect(p.exitCode, p.url).toBe(0);
        if (p.exitCode === 0) {
          expect(p.request.at(-1)!.stage).toBe('deliver');
          expect(p.reply.at(-1)).toMatchObject({ stage: 'deliver', host: 'client' });
        } else {
          // e.g. eBPF mode drops a ClusterIP reached from outside the cluster (DROP_IS_CLUSTER_IP).
          expect(p.request.at(-1)!.stage).toBe('drop');
          expect(p.answer).toMatch(/^curl: \(\d+\) /);
          expect(p.reply).toEqual([]);
        }
      }
      const podKeys = view.topology.pods.map((x) => x.key);
      for (const p of view.paths.filter((x) => x.service === myweb.id && x.exitCode === 0))
        expect(podKeys).toContain(p.servedBy);
    });

    it(`${mode}: every traced rule with dump lines points at lines that are that rule (property: highlight = matched rule)`, async () => {
      const { view } = await collect(mode);
      let located = 0;
      for (const p of view.paths)
        for (const hop of [...p.request, ...p.reply])
          for (const r of hop.rules) {
            const dump = view.dumps[hop.host] ?? [];
            for (const line of r.lines) {
              expect(line).toBeGreaterThanOrEqual(0);
              expect(line).toBeLessThan(dump.length);
            }
            if (r.lines.length === 0) continue;
            located++;
            const first = dump[r.lines[0]];
            if (r.table === 'nat' || r.table === 'filter')
              expect(r.text.startsWith('-A') ? first : first.startsWith(`:${r.chain} `)).toBe(
                r.text.startsWith('-A') ? r.text : true,
              );
            else if (r.table === 'ip kube-proxy') expect(first.trim()).toContain(r.text);
            else if (r.table === 'ipvs') expect(first).toContain(r.text.split(' → ')[1]);
            else expect(r.lines.map((i) => dump[i]).join(' ')).toMatch(/key:/);
          }
      // The first SYN's rules are located for every mode (eBPF: its map entries).
      expect(located).toBeGreaterThan(5);
    });

    it(`${mode}: hop frames are the packets the capture holds at those numbers, within the connection's range`, async () => {
      const { view, capture } = await collect(mode);
      const file = readCapture(capture);
      expect(file.packets).toHaveLength(view.captureFrames);
      for (const p of view.paths) {
        for (const hop of [...p.request, ...p.reply]) {
          if (hop.packet === undefined) continue;
          const f = hop.packet.frame;
          expect(f).toBeGreaterThanOrEqual(p.frames.first);
          expect(f).toBeLessThanOrEqual(p.frames.last);
          expect(file.interfaces[file.packets[f - 1].interfaceId].name).toBe(hop.iface);
          const layers = decodeFrame(file.packets[f - 1].data).layers;
          const ip = findLayer(layers, 'ipv4')!;
          const tcp = findLayer(layers, 'tcp')!;
          expect(hop.packet.src).toBe(`${formatIPv4(ip.repr.src)}:${tcp.repr.srcPort}`);
          expect(hop.packet.dst).toBe(`${formatIPv4(ip.repr.dst)}:${tcp.repr.dstPort}`);
        }
        // The request's first captured frame is the SYN leaving the client.
        const first = p.request.find((h) => h.packet !== undefined)!;
        expect(first.packet!.frame).toBe(p.frames.first);
        expect(first.packet!.flags).toBe('S');
      }
    });

    it(`${mode}: node2's NodePort is DNATed on node2 to the pod that answered, and conntrack holds the connection`, async () => {
      const { view } = await collect(mode);
      const sp = view.services.find((s) => s.id === 'default/myweb-svc-np')!;
      const path = view.paths[sp.entries.find((e) => e.entry === 'node2')!.path];
      const pod = view.topology.pods.find((x) => x.key === path.servedBy)!;
      expect(path.nat).toContainEqual({
        host: 'node2',
        kind: 'DNAT',
        from: `192.168.100.101:${sp.nodePort}`,
        to: `${pod.ip}:8080`,
        leg: 'request',
      });
      // The pod's node masquerades only when the pod is elsewhere (Cilium keeps the client's address for a local backend).
      const snat = path.nat.find((n) => n.kind === 'SNAT' && n.leg === 'request');
      if (pod.node !== 'node2' || mode !== 'ebpf') expect(snat?.to.split(':')[0]).toBe('192.168.100.101');
      const node2 = path.conntrack.find((c) => c.node === 'node2');
      expect(node2, JSON.stringify(path.conntrack)).toBeDefined();
      // nf_conntrack's original tuple; eBPF: cilium-dbg's service entry for the NodePort.
      expect(node2!.lines.join('\n')).toContain(
        mode === 'ebpf' ? `:${sp.nodePort} service` : `dport=${sp.nodePort}`,
      );
    });

    it(`${mode}: the rules' backend probabilities sum to 1 and the load run reached every backend`, async () => {
      const { view } = await collect(mode);
      const d = view.distributions.find((x) => x.service === 'default/myweb-svc-np')!;
      expect(d.backends).toHaveLength(3);
      const sum = d.backends.reduce((a, b) => a + b.ruleProbability, 0);
      expect(sum).toBeCloseTo(1, 6);
      for (const b of d.backends) {
        expect(b.ruleProbability).toBeCloseTo(1 / 3, 6);
        expect(b.observedFlows).toBeGreaterThan(0);
      }
    });
  }

  it('iptables probabilities follow the statistic cascade, not an equal split', () => {
    const dump = [
      '-A KUBE-SVC-X -m comment --comment "ns/s -> 10.0.0.1:80" -m statistic --mode random --probability 0.25000000000 -j KUBE-SEP-A',
      '-A KUBE-SVC-X -m comment --comment "ns/s -> 10.0.0.2:80" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-B',
      '-A KUBE-SVC-X -m comment --comment "ns/s -> 10.0.0.3:80" -j KUBE-SEP-C',
    ];
    const sp = { servicePortName: 'ns/s' } as Parameters<typeof ruleProbabilities>[2];
    const p = ruleProbabilities('iptables', dump, sp).byEndpoint;
    expect(p.get('10.0.0.1:80')).toBeCloseTo(0.25);
    expect(p.get('10.0.0.2:80')).toBeCloseTo(0.375);
    expect(p.get('10.0.0.3:80')).toBeCloseTo(0.375);
  });
});
