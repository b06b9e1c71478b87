/**
 * Control-plane benchmark: allocate and build EndpointSlices for 10k Services × 10 pods.
 *
 * Cases:
 * - "allocate 10k ClusterIPs": the bitmap allocator alone (random start, forward scan).
 * - "10k Services over 100k pods (alloc + EndpointSlices)": the pods already run; each sample
 *   creates the 10k Services (defaulting, ClusterIP allocation, validation) and lets the
 *   EndpointSlice controller build their slices, then deletes them again.
 * - "toProxyModel of 10k Services × 10 endpoints".
 *
 * Run alone: `npx tsx bench/controlplane.bench.ts` (results in bench/results/controlplane.json).
 */
import { pathToFileURL } from 'node:url';
import b from 'benny';
import type { Service } from 'kubernetes-types/core/v1.js';
import { ClusterIPAllocator } from '../src/k8s/allocators.js';
import { Cluster } from '../src/k8s/cluster.js';
import { toProxyModel } from '../src/k8s/proxy-model.js';
import { Rng } from '../src/util/rng.js';

export const SERVICES = 10_000;
export const PODS_PER_SERVICE = 10;
const NODES = 400; // 100k pods at 250 per /24 node subnet

/** A cluster running SERVICES × PODS_PER_SERVICE pods (one ReplicaSet per future Service). */
export function buildPods(): Cluster {
  const cluster = new Cluster({
    seed: 7,
    serviceClusterIPRange: '10.96.0.0/16',
    clusterCIDR: '10.128.0.0/12',
    clusterSpec: {
      nodes: Array.from({ length: NODES }, (_, i) => ({
        name: `node${i}`,
        ip: `192.168.${(i >> 7) + 1}.${(i & 127) + 1}`,
      })),
    },
  });
  for (let i = 0; i < SERVICES; i++) {
    const out = cluster.applyObject({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: `app${i}` },
      spec: {
        replicas: PODS_PER_SERVICE,
        selector: { matchLabels: { app: `app${i}` } },
        template: {
          metadata: { labels: { app: `app${i}` } },
          spec: { containers: [{ name: 'c', image: 'img', ports: [{ name: 'http', containerPort: 8080 }] }] },
        },
      },
    });
    if (out.status !== 'created') throw new Error(out.message);
  }
  return cluster;
}

function service(i: number): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `svc${i}` },
    spec: { selector: { app: `app${i}` }, ports: [{ port: 80, targetPort: 'http' }] },
  };
}

export function addServices(cluster: Cluster): void {
  for (let i = 0; i < SERVICES; i++) {
    const out = cluster.apply({ type: 'addService', service: service(i) });
    if (!out.ok) throw new Error(out.message);
  }
}

export function removeServices(cluster: Cluster): void {
  for (let i = 0; i < SERVICES; i++) cluster.apply({ type: 'removeService', name: `svc${i}` });
}

export default async function run(): Promise<void> {
  const t0 = performance.now();
  const cluster = buildPods();
  const t1 = performance.now();
  addServices(cluster);
  const t2 = performance.now();
  const model = toProxyModel(cluster);
  const t3 = performance.now();
  const endpoints = model.servicePorts.reduce((n, p) => n + p.endpoints.length, 0);
  console.log(
    `setup: ${SERVICES * PODS_PER_SERVICE} pods in ${(t1 - t0).toFixed(0)} ms; ` +
      `${SERVICES} Services + slices in ${(t2 - t1).toFixed(0)} ms; ` +
      `toProxyModel (${model.servicePorts.length} ports, ${endpoints} endpoints) in ${(t3 - t2).toFixed(0)} ms`,
  );
  removeServices(cluster);
  // benny prepares every case before running any, so the model case gets its own cluster.
  const withServices = buildPods();
  addServices(withServices);

  await b.suite(
    'controlplane',
    b.add(
      'allocate 10k ClusterIPs',
      () => {
        const a = new ClusterIPAllocator('10.96.0.0/16', new Rng(1));
        for (let i = 0; i < SERVICES; i++) a.allocateNext();
      },
      { minSamples: 5, maxTime: 1.5 },
    ),
    b.add(
      '10k Services over 100k pods (alloc + EndpointSlices)',
      () => {
        addServices(cluster);
        removeServices(cluster);
      },
      { minSamples: 3, maxTime: 2 },
    ),
    b.add('toProxyModel of 10k Services x 10 endpoints', () => toProxyModel(withServices), {
      minSamples: 3,
      maxTime: 1.5,
    }),
    b.cycle(),
    b.complete((summary) => {
      // benny rounds ops/s to whole numbers, which hides everything slower than ~2 ops/s.
      for (const r of summary.results) {
        const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;
        console.log(
          `  ${r.name}: mean ${ms(r.details.mean)}, median ${ms(r.details.median)}, ` +
            `min ${ms(r.details.min)} (${r.samples} samples)`,
        );
      }
    }),
    b.save({ file: 'controlplane', folder: 'bench/results', format: 'json', details: true }),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run();
}
