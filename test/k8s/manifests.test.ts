import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { applyManifests, loadManifests } from '../../src/k8s/manifests.js';
import { originNodePort31313Yaml, originScenarioYaml } from '../../src/k8s/scenarios/origin.js';

const read = (f: string) => readFileSync(new URL(`../../fixtures/${f}`, import.meta.url), 'utf8');

describe('embedded scenarios', () => {
  it('match the fixture files byte for byte', () => {
    expect(read('origin.yaml')).toBe(originScenarioYaml);
    expect(read('origin-nodeport-31313.yaml')).toBe(originNodePort31313Yaml);
  });
});

describe('loadManifests', () => {
  it('reports each document on its own; a bad one never stops the others', () => {
    const text = `apiVersion: v1
kind: Service
metadata: {name: good}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: bad}
spec: {ports: [{port: 80, protocol: FOO}]}
---
apiVersion: example.com/v1
kind: Foo
metadata: {name: x}
---
apiVersion: v1
kind: Service
metadata: {name: also-good}
spec: {ports: [{port: 81}]}
`;
    const r = loadManifests(text, { source: 'mixed.yaml' });
    expect(r.rejected).toBe(true);
    expect(r.outcomes.map((o) => [o.documentIndex, o.status, o.message])).toEqual([
      [0, 'created', 'service/good created'],
      [
        1,
        'rejected',
        'The Service "bad" is invalid: spec.ports[0].protocol: Unsupported value: "FOO": supported values: "SCTP", "TCP", "UDP"',
      ],
      [
        2,
        'rejected',
        'error: resource mapping not found for name: "x" namespace: "" from "mixed.yaml": no matches for kind "Foo" in version "example.com/v1"\nensure CRDs are installed first',
      ],
      [3, 'created', 'service/also-good created'],
    ]);
    expect(r.cluster.getService('also-good')).toBeDefined();
  });

  it('names the document and line of malformed YAML', () => {
    const text = `apiVersion: v1
kind: Namespace
metadata: {name: ok}
---
apiVersion: v1
kind: Service
metadata:
  name: broken
   labels: x
`;
    const r = loadManifests(text, { source: 'broken.yaml' });
    expect(r.rejected).toBe(true);
    const bad = r.outcomes.find((o) => o.status === 'rejected')!;
    expect(bad.documentIndex).toBe(1);
    expect(bad.message).toMatch(/^error: error parsing broken\.yaml: document 2 \(line 8\): Nested mappings/);
    expect(r.outcomes[0].message).toBe('namespace/ok created');
  });

  it("rejects objects without kind or apiVersion with kubectl's client-side wording", () => {
    const r = loadManifests('apiVersion: v1\nmetadata: {name: x}\n', { source: 'f.yaml' });
    expect(r.outcomes[0].message).toBe(
      'error: error validating "f.yaml": error validating data: kind not set; if you choose to ignore these errors, turn validation off with --validate=false',
    );
  });

  it('needs the namespace to exist, unless an earlier document creates it', () => {
    const svc =
      'apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: shop}\nspec: {ports: [{port: 80}]}\n';
    expect(loadManifests(svc, { source: 's.yaml' }).outcomes[0].message).toBe(
      'Error from server (NotFound): error when creating "s.yaml": namespaces "shop" not found',
    );
    const r = loadManifests(`apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n${svc}`);
    expect(r.rejected).toBe(false);
    expect(r.cluster.getService('s', 'shop')).toBeDefined();
  });

  it('reads the Cluster document first, wherever it is, and lets options override it', () => {
    const text = `apiVersion: v1
kind: Service
metadata: {name: s}
spec: {type: NodePort, ports: [{port: 80}]}
---
apiVersion: dpsim/v1alpha1
kind: Cluster
metadata: {name: lab}
spec:
  nodes: [{name: a, ip: 172.16.0.10}, {name: b, ip: 172.16.0.11}]
  serviceCIDR: 10.96.0.0/16
  clusterCIDR: 10.244.0.0/16
  serviceNodePortRange: 31000-31010
  proxyMode: nftables
`;
    const r = loadManifests(text, { proxyMode: 'ipvs' });
    expect(r.rejected).toBe(false);
    const c = r.cluster;
    expect(c.config.name).toBe('lab');
    expect(c.proxyMode).toBe('ipvs');
    expect(c.nodes().map((n) => n.spec?.podCIDR)).toEqual(['10.244.0.0/24', '10.244.1.0/24']);
    expect(c.getService('kubernetes')!.spec!.clusterIP).toBe('10.96.0.1');
    const np = c.getService('s')!.spec!.ports![0].nodePort!;
    expect(np >= 31000 && np <= 31010).toBe(true);
  });

  it('reports a broken Cluster document and carries on with the default cluster', () => {
    const r = loadManifests('apiVersion: dpsim/v1alpha1\nkind: Cluster\nspec: {serviceCIDR: 10.0.0.0/33}\n');
    expect(r.rejected).toBe(true);
    expect(r.outcomes[0].message).toBe(
      'error: Cluster: --service-cluster-ip-range: invalid CIDR address: 10.0.0.0/33',
    );
    expect(r.cluster.config.serviceCIDR).toBe('10.233.0.0/18');
  });

  it('applies later manifests to a running cluster as configured / unchanged', () => {
    const { cluster } = loadManifests(originScenarioYaml);
    const again = applyManifests(cluster, originScenarioYaml, 'origin.yaml');
    expect(again.map((o) => o.message)).toEqual([
      'replicaset.apps/myweb-rs unchanged',
      'service/myweb-svc-np unchanged',
    ]);
    const scaled = applyManifests(
      cluster,
      originScenarioYaml.replace('replicas: 3', 'replicas: 5'),
      'origin.yaml',
    );
    expect(scaled[0].message).toBe('replicaset.apps/myweb-rs configured');
    expect(cluster.pods().filter((p) => p.metadata?.namespace === 'default')).toHaveLength(5);
  });

  it('validates workloads: the selector must match the template labels', () => {
    const r = loadManifests(
      originScenarioYaml.replace(
        '      labels:\n        app: web\n        env: dev\n    spec:',
        '      labels:\n        app: other\n    spec:',
      ),
    );
    expect(r.outcomes[0].message).toBe(
      'The ReplicaSet "myweb-rs" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`',
    );
  });
});
