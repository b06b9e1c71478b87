/**
 * `dpsim curl -i` against kube-proxy's health servers shows what a cloud load balancer's
 * health check reads: the status line (200 on the node with the local endpoint, 503 on the
 * others), kube-proxy's headers and its JSON.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dpsim } from './harness.js';

const ONE_POD_ETP_LOCAL = `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: web, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web-lb}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  healthCheckNodePort: 32000
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`;

describe('dpsim curl to the health servers', () => {
  it('curl -i <node>:<healthCheckNodePort>: 200 on exactly one node, 503 on the two without a local endpoint', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'dpsim-hc-')), 'lb.yaml');
    writeFileSync(file, ONE_POD_ETP_LOCAL);
    const statuses: string[] = [];
    for (const ip of ['192.168.100.100', '192.168.100.101', '192.168.100.102']) {
      const r = await dpsim(['curl', '-i', '-f', file, `${ip}:32000`]);
      expect(r.exitCode).toBe(0);
      const [head, body] = r.stdout.split('\r\n\r\n');
      const lines = head.split('\r\n');
      statuses.push(lines[0]);
      expect(lines.slice(1, 3)).toEqual([
        'Content-Type: application/json',
        'X-Content-Type-Options: nosniff',
      ]);
      const n = lines[0] === 'HTTP/1.1 200 OK' ? 1 : 0;
      expect(body).toBe(
        `{\n\t"service": {\n\t\t"namespace": "default",\n\t\t"name": "web-lb"\n\t},\n\t"localEndpoints": ${n},\n\t"serviceProxyHealthy": true\n}`,
      );
    }
    expect(statuses.sort()).toEqual([
      'HTTP/1.1 200 OK',
      'HTTP/1.1 503 Service Unavailable',
      'HTTP/1.1 503 Service Unavailable',
    ]);
  });

  it('curl <node>:10256/healthz prints kube-proxy healthz JSON', async () => {
    const r = await dpsim(['curl', '192.168.100.100:10256/healthz']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(
      /^\{"lastUpdated": "2025-01-01 00:05:00(\.\d+)? \+0000 UTC m=\+300\.\d{9}","currentTime": "[^"]+", "nodeEligible": true\}$/,
    );
  });
});
