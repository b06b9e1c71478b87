/**
 * Cilium's load-balancer values for the eBPF mode: each key changes what it should (the test
 * fails if the key is ignored), dsr/hybrid and other unmodelled settings are rejected by
 * name, and unknown keys are named.
 */
import { describe, expect, it } from 'vitest';
import { CiliumValuesError, parseCiliumValues } from '../../src/config/cilium-values.js';
import type { EbpfSocketLb } from '../../src/proxy/ebpf/socket-lb.js';
import { buildSimulation, type Simulation } from '../../src/sim/simulation.js';

const APP = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 1
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      nodeName: node2
      containers: [{ name: web, image: hello-world-web:1.0, ports: [{ containerPort: 8080 }] }]
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  type: NodePort
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }]
`;

const SMALL = 'bpf: { lbMapMax: 1024, ctTcpMax: 4096, ctAnyMax: 4096 }\n';

function sim(values: string, extra: Partial<Parameters<typeof buildSimulation>[0]> = {}): Simulation {
  return buildSimulation({
    manifests: `${APP}---\napiVersion: dpsim/v1alpha1\nkind: CiliumValues\n${values}`,
    mode: 'ebpf',
    conntrackMax: 4096,
    ...extra,
  });
}

const lbOf = (s: Simulation) => (s.host('node1').socketLb as EbpfSocketLb | null)?.lb;

describe('Cilium values change the eBPF mode as they should', () => {
  it('loadBalancer.algorithm maglev: the Maglev outer map is filled (random leaves it empty)', () => {
    const maglev = sim(`${SMALL}loadBalancer: { algorithm: maglev }\nmaglev: { tableSize: 251 }\n`);
    const random = sim(SMALL);
    expect(lbOf(maglev)!.algorithm).toBe('maglev');
    expect(maglev.proxies.get('node1')!.dump()).toMatch(/cilium_lb4_maglev[\s\S]*key:/);
    expect(lbOf(random)!.algorithm).toBe('random');
  });

  it('--maglev stays a shorthand and wins over the values', () => {
    expect(lbOf(sim(SMALL, { ebpfAlgorithm: 'maglev' }))!.algorithm).toBe('maglev');
  });

  it('maglev.tableSize and maglev.hashSeed: the table size and the seeds the hash uses', () => {
    const a = lbOf(
      sim(
        `${SMALL}loadBalancer: { algorithm: maglev }\nmaglev: { tableSize: 509, hashSeed: AAAAAAAAAAAAAAAA }\n`,
      ),
    )!;
    expect(a.maglevTableSize).toBe(509);
    expect(a.maglevSeeds.jhash0).toBe(0);
    const b = lbOf(sim(`${SMALL}loadBalancer: { algorithm: maglev }\nmaglev: { tableSize: 509 }\n`))!;
    expect(b.maglevSeeds.jhash0).not.toBe(0);
  });

  it('bpf.lbMapMax, bpf.ctTcpMax, bpf.ctAnyMax: the maps’ capacities', () => {
    const lb = lbOf(sim('bpf: { lbMapMax: 512, ctTcpMax: 2048, ctAnyMax: 1024 }\n'))!;
    expect(lb.maps.sizes).toMatchObject({ lbMapMax: 512, ctTcpMax: 2048, ctAnyMax: 1024 });
  });

  it('socketLB.enabled false: the node’s own connect() to a ClusterIP is no longer translated at the socket', () => {
    const on = sim(SMALL);
    const off = sim(`${SMALL}socketLB: { enabled: false }\n`);
    expect(on.host('node1').socketLb).not.toBeNull();
    expect(off.host('node1').socketLb).toBeNull();
    const ip = on.model.servicePorts.find((p) => p.servicePortName === 'default/web')!.clusterIP;
    expect(on.curl({ from: 'node1', url: `http://${ip}/`, connectTimeoutMs: 2000 }).exitCode).toBe(0);
    expect(off.curl({ from: 'node1', url: `http://${ip}/`, connectTimeoutMs: 2000 }).exitCode).not.toBe(0);
  });

  it('bpf.lbExternalClusterIP: a ClusterIP reached from outside the cluster is load-balanced instead of dropped', () => {
    const closed = sim(SMALL);
    const open = sim(`bpf: { lbMapMax: 1024, ctTcpMax: 4096, ctAnyMax: 4096, lbExternalClusterIP: true }\n`);
    const ip = closed.model.servicePorts.find((p) => p.servicePortName === 'default/web')!.clusterIP;
    // The client reaches ClusterIPs through node1 (its default route).
    expect(closed.curl({ from: 'client', url: `http://${ip}/`, connectTimeoutMs: 2000 }).exitCode).toBe(28);
    expect(open.curl({ from: 'client', url: `http://${ip}/`, connectTimeoutMs: 2000 }).exitCode).toBe(0);
  });

  it('nodePort.range: NodePort SNAT ports start above the range’s maximum', () => {
    const s = sim(`${SMALL}nodePort: { range: "30000,50000" }\n`);
    const ports: number[] = [];
    for (let i = 0; i < 6; i++) {
      const out = s.curl({ from: 'client', url: 'http://192.168.100.100:30080/' });
      expect(out.exitCode).toBe(0);
      ports.push(Number(out.servedBy!.peer.split(':')[1]));
    }
    expect(ports.every((p) => p > 50000)).toBe(true);
    expect(parseCiliumValues({}).nodePortRange).toEqual([30000, 32767]);
  });
});

describe('Cilium values: rejected by name', () => {
  it.each([
    [
      { loadBalancer: { mode: 'dsr' } },
      'loadBalancer.mode: "dsr" (direct server return) is not modelled by dpsim; only "snat" is',
    ],
    [
      { loadBalancer: { mode: 'hybrid' } },
      'loadBalancer.mode: "hybrid" (direct server return) is not modelled by dpsim',
    ],
    [
      { loadBalancer: { serviceTopology: true } },
      'loadBalancer.serviceTopology: true is not modelled by dpsim',
    ],
    [
      { socketLB: { hostNamespaceOnly: false } },
      'socketLB.hostNamespaceOnly: false (socket-LB inside pods) is not modelled',
    ],
    [{ kubeProxyReplacement: false }, 'kubeProxyReplacement: false: without kube-proxy replacement'],
    [{ maglev: { tableSize: 1000 } }, 'maglev.tableSize: 1000 is not one of 251, 509'],
    [{ loadBalancer: { algorithm: 'rr' } }, 'loadBalancer.algorithm: "rr" is not one of random, maglev'],
    [{ bpf: { masquerade: true } }, 'bpf.masquerade: unknown or unmodelled Cilium value'],
    [{ ipam: { mode: 'kubernetes' } }, 'ipam: unknown or unmodelled Cilium value'],
    [{ serviceNoBackendResponse: 'icmp' }, 'serviceNoBackendResponse: "icmp" is not one of reject, drop'],
  ])('%j', (values, message) => {
    expect(() => parseCiliumValues(values, 'values.yaml')).toThrow(CiliumValuesError);
    expect(() => parseCiliumValues(values, 'values.yaml')).toThrow(`values.yaml: ${message}`);
  });

  it('accepts the modelled defaults written out', () => {
    expect(() =>
      parseCiliumValues({
        kubeProxyReplacement: true,
        loadBalancer: { mode: 'snat', serviceTopology: false },
        socketLB: { enabled: true, hostNamespaceOnly: true },
        serviceNoBackendResponse: 'reject',
      }),
    ).not.toThrow();
  });
});
