import fc from 'fast-check';
import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderBody } from '../../src/apps/http-responder.js';
import { Cluster, type KubeObject } from '../../src/k8s/cluster.js';
import { resolveDns } from '../../src/k8s/cluster-dns.js';
import { MAX_ENDPOINTS_PER_SLICE } from '../../src/k8s/controllers/endpointslice.js';
import { loadManifests } from '../../src/k8s/manifests.js';
import { originScenarioYaml } from '../../src/k8s/scenarios/origin.js';
import { podApps } from '../../src/sim/pod-apps.js';
import { cidrContains, parseCidr, parseIPv4 } from '../../src/util/ipv4.js';

const POD_NAME = /^myweb-rs-[bcdfghjklmnpqrstvwxz2456789]{5}$/;

function obj(yaml: string): KubeObject {
  return parse(yaml) as KubeObject;
}

function rsYaml(name: string, replicas: number, labels = 'app: web'): string {
  return `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: ${name}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {${labels}}}
  template:
    metadata: {labels: {${labels}}}
    spec:
      containers:
        - name: c
          image: img
          ports: [{name: http, containerPort: 8080}, {name: dns, containerPort: 5353, protocol: UDP}]
`;
}

/** Pod IPs the Service's controller-managed slices list, per condition. */
function sliceEndpoints(c: Cluster, svcName: string) {
  const svc = c.getService(svcName)!;
  return c.slicesOfService(svc).flatMap((s) =>
    s.endpoints.map((e) => ({
      ip: e.addresses[0],
      ports: (s.ports ?? []).map((p) => p.port),
      ...e.conditions,
      pod: e.targetRef?.name,
    })),
  );
}

describe('origin scenario', () => {
  const { cluster, rejected } = loadManifests(originScenarioYaml, { source: 'origin.yaml' });

  it("loads without rejections and runs three pods, one per node, from each node's podCIDR", () => {
    expect(rejected).toBe(false);
    // The default namespace's pods; kube-system holds kubespray's two CoreDNS pods after them.
    const apps = podApps(cluster.pods()).filter((a) => a.namespace === 'default');
    expect(apps).toHaveLength(3);
    expect(
      cluster
        .pods()
        .filter((p) => p.metadata?.namespace === 'kube-system')
        .map((p) => p.metadata?.name),
    ).toEqual([expect.stringMatching(/^coredns-[a-z0-9]+-[a-z0-9]{5}$/), expect.stringMatching(/^coredns-/)]);
    expect(new Set(apps.map((a) => a.nodeName))).toEqual(new Set(['node1', 'node2', 'node3']));
    for (const a of apps) {
      expect(a.name).toMatch(POD_NAME);
      const node = cluster.nodes().find((n) => n.metadata?.name === a.nodeName)!;
      expect(cidrContains(parseCidr(node.spec!.podCIDR!), parseIPv4(a.ip))).toBe(true);
      expect(a.ip.endsWith('.2')).toBe(true); // .0 network, .1 gateway
      expect(a.tcpPorts).toEqual([8080]);
      expect(renderBody(a.bodyTemplate, a.name)).toBe(`Hello World!\n${a.name}\n`);
    }
    expect(cluster.nodes().map((n) => n.spec?.podCIDR)).toEqual([
      '10.233.64.0/24',
      '10.233.65.0/24',
      '10.233.66.0/24',
    ]);
  });

  it('has the kubernetes Service at the first address with the apiserver endpoint', () => {
    const k = cluster.getService('kubernetes')!;
    expect(k.spec?.clusterIP).toBe('10.233.0.1');
    expect(sliceEndpoints(cluster, 'kubernetes').map((e) => [e.ip, e.ports])).toEqual([
      ['192.168.100.100', [6443]],
    ]);
  });

  it('gives the NodePort Service a dynamic-band nodePort and a ClusterIP in 10.233.0.0/18', () => {
    const s = cluster.getService('myweb-svc-np')!;
    const np = s.spec!.ports![0].nodePort!;
    expect(np).toBeGreaterThanOrEqual(30086);
    expect(np).toBeLessThanOrEqual(32767);
    expect(cidrContains(parseCidr('10.233.0.0/18'), parseIPv4(s.spec!.clusterIP!))).toBe(true);
    expect(sliceEndpoints(cluster, 'myweb-svc-np').map((e) => e.ports)).toEqual([[8080], [8080], [8080]]);
  });

  it('is reproducible under the same seed and differs under another', () => {
    const a = loadManifests(originScenarioYaml, { seed: 9 }).cluster;
    const b = loadManifests(originScenarioYaml, { seed: 9 }).cluster;
    const c = loadManifests(originScenarioYaml, { seed: 10 }).cluster;
    const sig = (x: Cluster) =>
      JSON.stringify([podApps(x.pods()).map((p) => p.name), x.getService('myweb-svc-np')!.spec]);
    expect(sig(a)).toBe(sig(b));
    expect(sig(a)).not.toBe(sig(c));
  });
});

describe('ReplicaSet controller', () => {
  it('names pods <rs>-<5 chars of the kube alphabet> that never collide, across scale-ups and scale-downs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 6 }),
        (seed, scales) => {
          const c = new Cluster({ seed });
          c.applyObject(obj(rsYaml('myweb-rs', 3)));
          const check = () => {
            for (const p of c.pods()) expect(p.metadata!.name).toMatch(POD_NAME);
            expect(new Set(c.pods().map((p) => p.metadata!.name)).size).toBe(c.pods().length);
          };
          check();
          for (const n of scales) {
            c.apply({ type: 'scaleReplicaSet', name: 'myweb-rs', replicas: n });
            expect(c.pods()).toHaveLength(n);
            check();
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('spreads pods least-loaded over nodes', () => {
    const c = new Cluster();
    c.applyObject(obj(rsYaml('web', 7)));
    const perNode = new Map<string, number>();
    for (const p of c.pods()) perNode.set(p.spec!.nodeName!, (perNode.get(p.spec!.nodeName!) ?? 0) + 1);
    expect([...perNode.values()].sort()).toEqual([2, 2, 3]);
  });

  it('replaces a deleted pod and a terminating pod, keeping the terminating one until its grace period ends', () => {
    const c = new Cluster();
    c.applyObject(obj(rsYaml('web', 3)));
    c.applyObject(
      obj(
        'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}, ports: [{port: 80, targetPort: http}]}',
      ),
    );
    const [first, second] = c.pods().map((p) => p.metadata!.name!);
    const g0 = c.generation;
    const r1 = c.apply({ type: 'deletePod', name: first });
    expect(r1.ok).toBe(true);
    expect(r1.generation).toBe(g0 + 1);
    expect(r1.changedServices).toEqual(['default/web']);
    expect(c.getPod(first)).toBeUndefined();
    expect(c.pods()).toHaveLength(3);

    c.apply({ type: 'terminatePod', name: second, gracePeriodSeconds: 30 });
    expect(c.pods()).toHaveLength(4);
    const term = sliceEndpoints(c, 'web').find((e) => e.pod === second)!;
    expect(term).toMatchObject({ ready: false, serving: true, terminating: true });
    c.apply({ type: 'advanceClock', seconds: 29 });
    expect(c.getPod(second)).toBeDefined();
    c.apply({ type: 'advanceClock', seconds: 1 });
    expect(c.getPod(second)).toBeUndefined();
    expect(sliceEndpoints(c, 'web')).toHaveLength(3);
  });

  it('reports unknown objects in events without bumping the generation', () => {
    const c = new Cluster();
    const g = c.generation;
    const r = c.apply({ type: 'deletePod', name: 'nope' });
    expect(r).toMatchObject({
      ok: false,
      generation: g,
      message: 'Error from server (NotFound): pods "nope" not found',
    });
  });
});

describe('Deployment controller', () => {
  it('creates <deploy>-<pod-template-hash> and pods carrying the hash label', () => {
    const c = new Cluster();
    const out = c.applyObject(
      obj(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: img}]}
`),
    );
    expect(out.message).toBe('deployment.apps/web created');
    const rs = c.replicaSets();
    expect(rs).toHaveLength(1);
    const hash = rs[0].metadata!.labels!['pod-template-hash'];
    expect(hash).toMatch(/^[4-9bcdf]{1,10}$/);
    expect(rs[0].metadata!.name).toBe(`web-${hash}`);
    for (const p of c.pods())
      expect(p.metadata!.name).toMatch(new RegExp(`^web-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
    c.apply({ type: 'scaleDeployment', name: 'web', replicas: 4 });
    expect(c.pods()).toHaveLength(4);
    expect(c.deployments()[0].status).toMatchObject({ replicas: 4, readyReplicas: 4 });
  });
});

describe('EndpointSlice controller', () => {
  const svcYaml = (extra = '') =>
    `apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}, ports: [{name: h, port: 80, targetPort: http}, {name: d, port: 53, targetPort: dns, protocol: UDP}]${extra}}`;

  it('holds exactly the ready pods matching the selector, with named targetPorts resolved by name and protocol', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.integer({ min: 0, max: 12 }),
        fc.array(fc.tuple(fc.nat(), fc.boolean()), { maxLength: 10 }),
        (seed, replicas, flips) => {
          const c = new Cluster({ seed });
          c.applyObject(obj(rsYaml('web', replicas)));
          c.applyObject(obj(rsYaml('other', 2, 'app: other')));
          c.applyObject(obj(svcYaml()));
          const names = c
            .pods()
            .filter((p) => p.metadata!.labels!.app === 'web')
            .map((p) => p.metadata!.name!);
          for (const [i, ready] of flips)
            if (names.length > 0) c.apply({ type: 'setPodReady', name: names[i % names.length], ready });
          const readyPods = c
            .pods()
            .filter((p: Pod) => p.metadata!.labels!.app === 'web')
            .filter((p) => p.status!.conditions!.some((x) => x.type === 'Ready' && x.status === 'True'))
            .map((p) => p.status!.podIP!)
            .sort();
          const eps = sliceEndpoints(c, 'web');
          expect(
            eps
              .filter((e) => e.ready)
              .map((e) => e.ip)
              .sort(),
          ).toEqual(readyPods);
          expect(eps).toHaveLength(names.length);
          for (const e of eps) expect(e.ports).toEqual([8080, 5353]);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('omits a port the pod does not expose by that name and protocol', () => {
    const c = new Cluster();
    c.applyObject(obj(rsYaml('web', 1)));
    c.applyObject(
      obj(
        'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}, ports: [{name: h, port: 80, targetPort: http}, {name: x, port: 81, targetPort: dns}]}',
      ),
    );
    // "dns" is a UDP container port; the Service port is TCP, so it does not resolve.
    expect(sliceEndpoints(c, 'web').map((e) => e.ports)).toEqual([[8080]]);
  });

  it('splits more than 100 endpoints into slices named <svc>-<5 chars> with the service-name label', () => {
    const c = new Cluster({
      clusterSpec: {
        nodes: Array.from({ length: 3 }, (_, i) => ({ name: `n${i}`, ip: `192.168.1.${i + 10}` })),
      },
    });
    c.applyObject(obj(rsYaml('web', 250)));
    c.applyObject(obj(svcYaml()));
    const slices = c.slicesOfService(c.getService('web')!);
    expect(slices.map((s) => s.endpoints.length).sort((a, b) => a - b)).toEqual([50, 100, 100]);
    for (const s of slices) {
      expect(s.endpoints.length).toBeLessThanOrEqual(MAX_ENDPOINTS_PER_SLICE);
      expect(s.metadata!.name).toMatch(/^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      expect(s.metadata!.labels!['kubernetes.io/service-name']).toBe('web');
      expect(s.addressType).toBe('IPv4');
    }
    c.apply({ type: 'scaleReplicaSet', name: 'web', replicas: 0 });
    const after = c.slicesOfService(c.getService('web')!);
    expect(after).toHaveLength(1); // the placeholder
    expect(after[0].endpoints).toEqual([]);
    expect(after[0].ports).toBeUndefined();
  });

  it('marks endpoints ready for not-ready pods when publishNotReadyAddresses is set', () => {
    const c = new Cluster();
    c.applyObject(obj(rsYaml('web', 1)));
    c.applyObject(obj(svcYaml(', publishNotReadyAddresses: true')));
    c.apply({ type: 'setPodReady', name: c.pods()[0].metadata!.name!, ready: false });
    expect(sliceEndpoints(c, 'web')[0]).toMatchObject({ ready: true, serving: false, terminating: false });
  });

  it('removes managed slices with their Service', () => {
    const c = new Cluster();
    c.applyObject(obj(rsYaml('web', 2)));
    c.applyObject(obj(svcYaml()));
    expect(c.endpointSlices().some((s) => s.metadata!.name!.startsWith('web-'))).toBe(true);
    const r = c.apply({ type: 'removeService', name: 'web' });
    expect(r.ok).toBe(true);
    expect(c.endpointSlices().some((s) => s.metadata!.name!.startsWith('web-'))).toBe(false);
  });
});

describe('DNS view', () => {
  it('answers CNAME for ExternalName, the ClusterIP for normal Services and pod IPs for headless ones', () => {
    const c = new Cluster();
    c.applyObject(obj(rsYaml('web', 2)));
    c.applyObject(
      obj(
        'apiVersion: v1\nkind: Service\nmetadata: {name: ext}\nspec: {type: ExternalName, externalName: db.example.com}',
      ),
    );
    c.applyObject(
      obj(
        'apiVersion: v1\nkind: Service\nmetadata: {name: hl}\nspec: {clusterIP: None, selector: {app: web}, ports: [{port: 8080}]}',
      ),
    );
    expect(resolveDns(c, 'ext.default.svc.cluster.local')).toEqual({
      type: 'CNAME',
      target: 'db.example.com',
    });
    expect(resolveDns(c, 'kubernetes')).toEqual({ type: 'A', addresses: ['10.233.0.1'] });
    const ips = c
      .pods()
      .map((p) => p.status!.podIP!)
      .sort();
    const hl = resolveDns(c, 'hl.default');
    expect(hl?.type === 'A' ? [...hl.addresses].sort() : []).toEqual(ips);
    expect(resolveDns(c, 'missing')).toBeUndefined();
  });
});

describe('Services from events', () => {
  it('addService / addEndpointSlice bump the generation and report the Service', () => {
    const c = new Cluster();
    const g = c.generation;
    const r = c.apply({
      type: 'addService',
      service: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'db' },
        spec: { ports: [{ name: 'pg', port: 5432 }] },
      } as Service,
    });
    expect(r).toMatchObject({ ok: true, generation: g + 1, changedServices: ['default/db'] });
    const r2 = c.apply({
      type: 'addEndpointSlice',
      slice: {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'db-1', labels: { 'kubernetes.io/service-name': 'db' } },
        addressType: 'IPv4',
        ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }],
        endpoints: [{ addresses: ['192.168.100.150'] }],
      },
    });
    expect(r2).toMatchObject({ ok: true, generation: g + 2, changedServices: ['default/db'] });
    expect(c.apply({ type: 'removeEndpointSlice', name: 'db-1' }).generation).toBe(g + 3);
  });
});

describe('applyObject events', () => {
  it('report the Services whose endpoints a new workload changed', () => {
    const c = new Cluster();
    c.applyObject(
      obj(
        'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}, ports: [{port: 80, targetPort: http}]}',
      ),
    );
    const r = c.apply({ type: 'applyObject', object: obj(rsYaml('web', 2)) });
    expect(r).toMatchObject({
      ok: true,
      message: 'replicaset.apps/web created',
      changedServices: ['default/web'],
    });
  });
});
