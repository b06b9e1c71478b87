/**
 * Scale benchmark (issue 11 item 11): 100k pods behind 10k Services on four nodes, end to end
 * as a user meets it — build the cluster (10k ReplicaSets × 10 pods, 10k Services and their
 * EndpointSlices), `get svc`, build the simulation in a mode (topology with a veth per pod, the
 * mode's rules on every node, an app in every pod), `rules` on one node, and one `curl`
 * through a NodePort.
 *
 * Cases (benny, one sample is one whole build, so few samples):
 * - "control plane: 100k pods + 10k Services"
 * - "get svc (10k rows)"
 * - "<mode>: simulation build + rules + one curl" for nftables and eBPF (maps sized for 110k
 *   service slots: Cilium's default bpf-lb-map-max of 65536 cannot hold 10k Services × 10 backends).
 *
 * Before the suite, one timed pass prints each phase on its own (the figures the README quotes).
 * Run alone: `npx tsx bench/scale.bench.ts` (results in bench/results/scale.json).
 */
import { pathToFileURL } from 'node:url';
import b from 'benny';
import { Cluster } from '../src/k8s/cluster.js';
import { runGet } from '../src/k8s/printers.js';
import { DEFAULT_MAP_SIZES } from '../src/proxy/ebpf/index.js';
import { buildSimulation } from '../src/sim/simulation.js';

export const SERVICES = 10_000;
export const PODS_PER_SERVICE = 10;
const NODES = 4;

/** 4 nodes with a /16 of pods each, 10k ReplicaSets × 10 pods, 10k Services (the first a NodePort). */
export function buildScaleCluster(): Cluster {
  const cluster = new Cluster({
    seed: 11,
    clusterSpec: {
      clusterCIDR: '10.64.0.0/14',
      nodeCIDRMaskSize: 16,
      nodes: Array.from({ length: NODES }, (_, i) => ({
        name: `node${i + 1}`,
        ip: `192.168.100.${100 + i}`,
      })),
    },
  });
  for (let i = 0; i < SERVICES; i++) {
    const rs = cluster.applyObject({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: `web${i}` },
      spec: {
        replicas: PODS_PER_SERVICE,
        selector: { matchLabels: { app: `web${i}` } },
        template: {
          metadata: { labels: { app: `web${i}` } },
          spec: { containers: [{ name: 'web', image: 'go-myweb:1.0' }] },
        },
      },
    });
    if (rs.status !== 'created') throw new Error(rs.message);
    const svc = cluster.applyObject({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `web${i}` },
      spec: {
        type: i === 0 ? 'NodePort' : 'ClusterIP',
        selector: { app: `web${i}` },
        ports: [{ port: 80, targetPort: 8080, ...(i === 0 ? { nodePort: 31000 } : {}) }],
      },
    });
    if (svc.status !== 'created') throw new Error(svc.message);
  }
  return cluster;
}

const EBPF_SIZES = { ...DEFAULT_MAP_SIZES, lbMapMax: 131072 };

type ScaleMode = 'iptables' | 'nftables' | 'ebpf';

/** Builds the simulation, dumps node1's rules and runs one curl; returns what the curl printed. */
export function simulateOnce(cluster: Cluster, mode: ScaleMode): { rulesBytes: number; stdout: string } {
  const sim = buildSimulation({
    cluster,
    mode,
    conntrackMax: 65536,
    ...(mode === 'ebpf' ? { ebpfMapSizes: EBPF_SIZES } : {}),
  });
  const rules = sim.rules('node1');
  const out = sim.curl({ from: 'client', url: 'http://192.168.100.100:31000/' });
  if (out.exitCode !== 0) throw new Error(`curl failed in ${mode} mode: ${out.stderr}`);
  return { rulesBytes: rules.length, stdout: out.stdout };
}

function timed<T>(label: string, f: () => T): T {
  const t = performance.now();
  const v = f();
  console.log(`  ${label}: ${((performance.now() - t) / 1000).toFixed(2)} s`);
  return v;
}

export default async function run(): Promise<void> {
  console.log(`one pass, ${SERVICES * PODS_PER_SERVICE} pods / ${SERVICES} Services on ${NODES} nodes:`);
  const cluster = timed('control plane (ReplicaSets, pods, Services, EndpointSlices)', buildScaleCluster);
  timed('get svc', () => runGet(cluster, { args: ['svc'] }));
  for (const mode of ['iptables', 'nftables', 'ebpf'] as const) {
    const sim = timed(`${mode}: simulation build`, () =>
      buildSimulation({
        cluster,
        mode,
        conntrackMax: 65536,
        ...(mode === 'ebpf' ? { ebpfMapSizes: EBPF_SIZES } : {}),
      }),
    );
    timed(`${mode}: rules --node node1`, () => sim.rules('node1'));
    const out = timed(`${mode}: one curl`, () =>
      sim.curl({ from: 'client', url: 'http://192.168.100.100:31000/' }),
    );
    if (out.exitCode !== 0) throw new Error(out.stderr);
  }

  await b.suite(
    'scale',
    b.add(
      'control plane: 100k pods + 10k Services',
      () => {
        buildScaleCluster();
      },
      { minSamples: 1, maxTime: 1 },
    ),
    b.add(
      'get svc (10k rows)',
      () => {
        runGet(cluster, { args: ['svc'] });
      },
      { minSamples: 2, maxTime: 1 },
    ),
    b.add(
      'nftables: simulation build + rules + one curl',
      () => {
        simulateOnce(cluster, 'nftables');
      },
      { minSamples: 1, maxTime: 1 },
    ),
    b.add(
      'ebpf: simulation build + rules + one curl',
      () => {
        simulateOnce(cluster, 'ebpf');
      },
      { minSamples: 1, maxTime: 1 },
    ),
    b.cycle(),
    b.complete((summary) => {
      for (const r of summary.results) {
        const s = (x: number) => `${x.toFixed(2)} s`;
        console.log(`  ${r.name}: mean ${s(r.details.mean)}, min ${s(r.details.min)} (${r.samples} samples)`);
      }
    }),
    b.save({ file: 'scale', folder: 'bench/results', format: 'json', details: true }),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run();
}
