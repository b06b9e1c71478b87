/**
 * Calico's two overlays (`--overlay ipip|vxlan`, src/topology/tunnel.ts and the host's
 * encap/decap) end to end: first on the bare topology (a handshake to a pod on the other
 * node, every captured frame's outer and inner checksums verified by dpsim's own wire code),
 * then through a whole simulated cluster in every proxy mode (curl to a NodePort whose only
 * pod is on another node), and every capture checked by tshark interface by interface.
 */
import { describe, expect, it } from 'vitest';
import type { Simulation } from '../../src/sim/simulation.js';
import type { OverlayKind } from '../../src/topology/tunnel.js';
import { formatIPv4 } from '../../src/util/ipv4.js';
import {
  type FiveTuple,
  IpProtocol,
  newFiveTuple,
  ParseStatus,
  parseFiveTuple,
  verifyIpv4HeaderChecksum,
  verifyTcpChecksum,
  verifyUdpChecksum,
} from '../../src/wire/index.js';
import { describeWithTshark } from '../helpers/tshark.js';
import {
  buildSmall,
  capturedFrames,
  MODES,
  NODE_IPS,
  podIP,
  splitPeer,
  type WiredMode,
} from '../sim/harness.js';
import { checkInterfacesWithTshark } from '../sim/tshark-groups.js';
import { bareTopology, capturedByInterface, clientSyn, NODE1, NODE2, POD2 } from './fixtures.js';

const OVERLAYS = ['ipip', 'vxlan'] as const;
const VXLAN_PORT = 4789;
const CALICO_VNI = 4096;

/** What one captured frame carries: its outer header and, for tunnel traffic, the inner packet. */
interface Decoded {
  readonly outer: { src: string; dst: string; proto: number; dport: number };
  readonly inner: { src: string; dst: string; sport: number; dport: number; flags: number } | null;
  readonly vni?: number;
}

/** Every checksum of the frame valid (outer IPv4 and UDP, inner IPv4 and TCP), or throws saying which. */
function decodeChecked(frame: Uint8Array, where: string): Decoded {
  const ft = newFiveTuple();
  expect(parseFiveTuple(frame, ft), `${where}: outer parses`).toBe(ParseStatus.OK);
  expect(verifyIpv4HeaderChecksum(frame, ft.ipOffset), `${where}: outer IPv4 checksum`).toBe(true);
  const outer = { src: formatIPv4(ft.saddr), dst: formatIPv4(ft.daddr), proto: ft.proto, dport: ft.dport };
  let innerFrame: Uint8Array | null = null;
  let vni: number | undefined;
  if (ft.proto === IpProtocol.IPIP) {
    // The inner IPv4 packet follows the outer header: give it an Ethernet header to parse.
    const ipBytes = frame.subarray(ft.l4Offset, ft.ipOffset + ft.ipTotalLength);
    innerFrame = new Uint8Array(14 + ipBytes.length);
    innerFrame.set([0x08, 0x00], 12);
    innerFrame.set(ipBytes, 14);
  } else if (ft.proto === IpProtocol.UDP && ft.dport === VXLAN_PORT) {
    expect(
      verifyUdpChecksum(frame, ft.l4Offset, ft.l4Length, ft.saddr, ft.daddr),
      `${where}: outer UDP checksum`,
    ).toBe(true);
    const vx = ft.l4Offset + 8;
    expect(frame[vx] & 0x08, `${where}: VXLAN I flag`).toBe(0x08);
    vni = (frame[vx + 4] << 16) | (frame[vx + 5] << 8) | frame[vx + 6];
    innerFrame = frame.subarray(vx + 8, ft.ipOffset + ft.ipTotalLength);
  } else if (ft.proto === IpProtocol.TCP) {
    expectTcpValid(frame, ft, where);
    return { outer, inner: null };
  }
  if (innerFrame === null) return { outer, inner: null };
  const it = newFiveTuple();
  expect(parseFiveTuple(innerFrame, it), `${where}: inner parses`).toBe(ParseStatus.OK);
  expect(verifyIpv4HeaderChecksum(innerFrame, it.ipOffset), `${where}: inner IPv4 checksum`).toBe(true);
  expectTcpValid(innerFrame, it, `${where} (inner)`);
  return {
    outer,
    inner: {
      src: formatIPv4(it.saddr),
      dst: formatIPv4(it.daddr),
      sport: it.sport,
      dport: it.dport,
      flags: it.tcpFlags,
    },
    ...(vni !== undefined ? { vni } : {}),
  };
}

function expectTcpValid(frame: Uint8Array, ft: FiveTuple, where: string): void {
  expect(ft.proto, where).toBe(IpProtocol.TCP);
  expect(
    verifyTcpChecksum(frame, ft.l4Offset, ft.l4Length, ft.saddr, ft.daddr),
    `${where}: TCP checksum`,
  ).toBe(true);
}

describe.each(OVERLAYS)('%s overlay on the bare topology', (overlay) => {
  it('carries a handshake to a pod on the other node node-to-node in the tunnel, every outer and inner checksum valid', () => {
    const t = bareTopology(overlay);
    clientSyn(t, POD2);
    t.topology.network.run(1e9);
    expect(t.received.get('pod2')!.map((s) => s.flags)).toEqual([0x02, 0x10]);
    expect(t.received.get('client')!.map((s) => s.flags)).toEqual([0x12]);
    const captured = capturedByInterface(t);
    // node1 → node2 only through the tunnel: the SYN and the ACK, each seen leaving node1 and
    // reaching node2. (The SYN/ACK goes from node2 straight to the client on the segment.)
    const eth0 = [...(captured.get('node1/eth0') ?? []), ...(captured.get('node2/eth0') ?? [])].map((f, i) =>
      decodeChecked(f, `eth0 frame ${i}`),
    );
    const tunnelled = eth0.filter((d) => d.outer.src !== '192.168.100.1' && d.outer.dst !== '192.168.100.1');
    expect(tunnelled.map((d) => d.inner?.flags)).toEqual([0x02, 0x10, 0x02, 0x10]);
    for (const d of tunnelled) {
      expect([d.outer.src, d.outer.dst]).toEqual([NODE1, NODE2]);
      expect(d.outer.proto).toBe(overlay === 'ipip' ? IpProtocol.IPIP : IpProtocol.UDP);
      if (overlay === 'vxlan') expect([d.outer.dport, d.vni]).toEqual([VXLAN_PORT, CALICO_VNI]);
      expect([d.inner?.src, d.inner?.dst]).toEqual(['192.168.100.1', POD2]);
    }
    const synAck = (captured.get('node2/eth0') ?? []).map((f, i) => decodeChecked(f, `node2/eth0 ${i}`));
    expect(synAck.filter((d) => d.outer.dst === '192.168.100.1').map((d) => d.outer.proto)).toEqual([
      IpProtocol.TCP,
    ]);
    // Nothing dropped anywhere.
    for (const h of [t.client, t.node1, t.node2, t.pod1, t.pod2])
      expect(h.drops.totalDropped, h.name).toBe(0);
  });
});

/** The origin Deployment squeezed onto node2: a NodePort on node1 must cross the overlay. */
const ONE_POD_ON_NODE2 = `apiVersion: v1
kind: Pod
metadata: { name: web, labels: { app: myweb } }
spec:
  nodeName: node2
  containers: [{ name: web, image: hello-world-web:1.0, ports: [{ containerPort: 8080 }] }]
---
apiVersion: v1
kind: Service
metadata: { name: myweb-svc-np }
spec:
  type: NodePort
  selector: { app: myweb }
  ports: [{ port: 80, targetPort: 8080, nodePort: 31313 }]
---
apiVersion: v1
kind: Pod
metadata: { name: a-client }
spec:
  nodeName: node1
  containers: [{ name: curl, image: curl:8 }]
`;

interface OverlayFlowTest {
  readonly name: string;
  readonly from: 'client' | 'pod/a-client';
  /** Where the request goes: a node's NodePort or the Service's ClusterIP. */
  readonly to: 'nodePort@node1' | 'clusterIP';
  /** Who the pod sees as its peer: the caller, or the ingress node (masqueraded). */
  readonly masq: 'caller' | 'node1-tunnel' | 'node1';
}

const OVERLAY_FLOWS: readonly OverlayFlowTest[] = [
  {
    name: 'external client → NodePort on node1 → pod on node2',
    from: 'client',
    to: 'nodePort@node1',
    masq: 'node1-tunnel',
  },
  {
    name: 'pod on node1 → ClusterIP → pod on node2 (not masqueraded)',
    from: 'pod/a-client',
    to: 'clusterIP',
    masq: 'caller',
  },
];

function buildOverlay(overlay: OverlayKind, mode: WiredMode, seed: number): Simulation {
  return buildSmall({ manifests: ONE_POD_ON_NODE2, mode, seed, overlay });
}

/** What address the pod should see for `masq` in this mode (eBPF SNATs to the node IP it leaves by). */
function expectedPeer(sim: Simulation, tc: OverlayFlowTest, mode: WiredMode): string {
  if (tc.masq === 'caller') return podIP(sim, 'a-client');
  const node1 = sim.topology.nodes.get('node1')!;
  const tunnel = node1.tunnel!.device.addr;
  // kube-proxy's MASQUERADE picks the address of the interface the packet leaves by: the
  // tunnel device; Cilium-style eBPF SNATs NodePort traffic to the node's own IP.
  return mode === 'ebpf' ? NODE_IPS[0] : formatIPv4(tunnel);
}

describe.each(OVERLAYS)('%s overlay, whole cluster', (overlay) => {
  describe.each(MODES)('%s mode', (mode) => {
    it.each(OVERLAY_FLOWS)('$name', (tc) => {
      const sim = buildOverlay(overlay, mode, 5);
      const sp = sim.model.servicePorts.find((s) => s.name === 'myweb-svc-np')!;
      const url = tc.to === 'clusterIP' ? `http://${sp.clusterIP}/` : `http://${NODE_IPS[0]}:31313/`;
      const o = sim.curl({ from: tc.from, url, connectTimeoutMs: 2000 });
      expect(o.exitCode, o.stderr).toBe(0);
      expect(o.servedBy?.pod).toBe('web');
      expect(splitPeer(o.servedBy!.peer)[0]).toBe(expectedPeer(sim, tc, mode));
    });
  });
});

describeWithTshark('overlay captures under tshark', () => {
  it('both overlays in every mode: every captured interface passes tshark (checksums verified, outer and inner; no malformed frame, no TCP analysis flag), tunnelled frames dissected inside their wrapper', async () => {
    const runs = OVERLAYS.flatMap((overlay, i) =>
      MODES.map((mode, j) => {
        // A seed per run: different client ports, so runs can share a tshark file (tshark-groups.ts).
        const sim = buildOverlay(overlay, mode, 30 + 4 * i + j);
        const sp = sim.model.servicePorts.find((s) => s.name === 'myweb-svc-np')!;
        expect(sim.curl({ from: 'client', url: `http://${NODE_IPS[0]}:31313/` }).exitCode).toBe(0);
        expect(sim.curl({ from: 'pod/a-client', url: `http://${sp.clusterIP}/` }).exitCode).toBe(0);
        return { label: `${overlay}-${mode}`, pcap: sim.capture!.toBuffer(), sim, overlay };
      }),
    );
    const result = await checkInterfacesWithTshark(runs, ['tcp.port==31313,http', 'tcp.port==8080,http']);
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    for (const run of runs) {
      // tshark read every frame of every interface, and the tunnel devices carried traffic.
      const perIface = new Map<string, number>();
      for (const f of capturedFrames(run.sim)) perIface.set(f.iface, (perIface.get(f.iface) ?? 0) + 1);
      for (const [iface, n] of perIface) expect(result.framesChecked.get(`${run.label} ${iface}`)).toBe(n);
      // The node-to-node hop was tunnelled, and tshark dissected inside the wrapper.
      const outer = run.overlay === 'ipip' ? 4 : 17;
      expect(
        capturedFrames(run.sim).some((f) => f.iface === 'node1/eth0' && f.proto === outer),
        run.label,
      ).toBe(true);
    }
  });
});
