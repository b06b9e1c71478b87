/**
 * The scale scenario (issue 11 item 11) as a manifest a user would pass to `dpsim … -f`: a
 * dpsim `Cluster` document with four /16 pod nodes, 10k ReplicaSets × 10 pods and 10k Services
 * (the first a NodePort on 31000), in one multi-document YAML file (~4 MB).
 * Run alone to write it: `npx tsx bench/scale-manifest.ts OUT.yaml`.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export const SCALE_SERVICES = 10_000;
export const SCALE_PODS_PER_SERVICE = 10;
export const SCALE_NODES = 4;

/** The manifest text of the scale scenario. */
export function scaleManifestYaml(services = SCALE_SERVICES, replicas = SCALE_PODS_PER_SERVICE): string {
  const parts: string[] = [
    [
      'apiVersion: dpsim/v1alpha1',
      'kind: Cluster',
      'metadata:',
      '  name: scale',
      'spec:',
      '  clusterCIDR: 10.64.0.0/14',
      '  nodeCIDRMaskSize: 16',
      '  nodes:',
      ...Array.from({ length: SCALE_NODES }, (_, i) => [
        `  - name: node${i + 1}`,
        `    ip: 192.168.100.${100 + i}`,
      ]).flat(),
    ].join('\n'),
  ];
  for (let i = 0; i < services; i++) {
    parts.push(
      [
        'apiVersion: apps/v1',
        'kind: ReplicaSet',
        'metadata:',
        `  name: web${i}`,
        'spec:',
        `  replicas: ${replicas}`,
        '  selector:',
        '    matchLabels:',
        `      app: web${i}`,
        '  template:',
        '    metadata:',
        '      labels:',
        `        app: web${i}`,
        '    spec:',
        '      containers:',
        '      - name: web',
        '        image: go-myweb:1.0',
      ].join('\n'),
      [
        'apiVersion: v1',
        'kind: Service',
        'metadata:',
        `  name: web${i}`,
        'spec:',
        `  type: ${i === 0 ? 'NodePort' : 'ClusterIP'}`,
        '  selector:',
        `    app: web${i}`,
        '  ports:',
        '  - port: 80',
        '    targetPort: 8080',
        ...(i === 0 ? ['    nodePort: 31000'] : []),
      ].join('\n'),
    );
  }
  return `${parts.join('\n---\n')}\n`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = process.argv[2];
  if (out === undefined) {
    console.error('usage: npx tsx bench/scale-manifest.ts OUT.yaml');
    process.exit(2);
  }
  writeFileSync(out, scaleManifestYaml());
}
