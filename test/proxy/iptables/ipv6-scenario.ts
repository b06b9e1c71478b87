/** A dual-stack cluster whose Services exercise the IPv6 proxier's rule kinds. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Service } from 'kubernetes-types/core/v1.js';
import { parseAllDocuments } from 'yaml';
import { Cluster } from '../../../src/k8s/cluster.js';

export const DUAL_STACK_MANIFESTS = `
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template: {metadata: {labels: {app: web}}, spec: {containers: [{name: w, image: go-myweb}]}}
---
apiVersion: v1
kind: Service
metadata: {name: web-np}
spec: {type: NodePort, ipFamilyPolicy: PreferDualStack, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-v6}
spec: {ipFamilies: [IPv6], selector: {app: web}, ports: [{name: http, port: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  ipFamilyPolicy: RequireDualStack
  selector: {app: web}
  sessionAffinity: ClientIP
  externalIPs: ["fd00:192:168:100::250"]
  ports: [{port: 81, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: empty}
spec: {type: NodePort, ipFamilyPolicy: PreferDualStack, selector: {app: nothing}, ports: [{port: 82}]}
---
apiVersion: v1
kind: Service
metadata: {name: local}
spec: {type: NodePort, externalTrafficPolicy: Local, ipFamilyPolicy: PreferDualStack, selector: {app: web}, ports: [{port: 83, targetPort: 8080}]}
`;

export function dualStackCluster(): Cluster {
  const cluster = new Cluster({ dualStack: true });
  for (const doc of parseAllDocuments(DUAL_STACK_MANIFESTS)) {
    const out = cluster.applyObject(doc.toJSON() as Service, 'ipv6-scenario.yaml');
    if (out.status === 'rejected') throw new Error(out.message);
  }
  return cluster;
}

/** The manifests in a temporary file, for CLI tests (`-f FILE`). */
export function writeDualStackManifests(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'dpsim-ds-')), 'dual-stack.yaml');
  writeFileSync(file, DUAL_STACK_MANIFESTS);
  return file;
}
