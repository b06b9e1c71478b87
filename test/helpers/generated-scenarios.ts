/** Small generated scenarios (1–3 Services over ReplicaSets) for the dump round-trip properties. */
import fc from 'fast-check';

export interface GenService {
  readonly type: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  readonly replicas: number;
  readonly etpLocal: boolean;
  readonly affinity: boolean;
}

export const genService = fc.record({
  type: fc.constantFrom('ClusterIP' as const, 'NodePort' as const, 'LoadBalancer' as const),
  replicas: fc.integer({ min: 0, max: 4 }),
  etpLocal: fc.boolean(),
  affinity: fc.boolean(),
});

export function scenario(services: readonly GenService[]): string {
  return services
    .map((s, i) => {
      const ext = s.type !== 'ClusterIP' && s.etpLocal ? '\n  externalTrafficPolicy: Local' : '';
      const aff = s.affinity ? '\n  sessionAffinity: ClientIP' : '';
      return `apiVersion: apps/v1
kind: ReplicaSet
metadata: { name: app${i} }
spec:
  replicas: ${s.replicas}
  selector: { matchLabels: { app: app${i} } }
  template:
    metadata: { labels: { app: app${i} } }
    spec: { containers: [ { name: web, image: go-myweb } ] }
---
apiVersion: v1
kind: Service
metadata: { name: svc${i} }
spec:
  type: ${s.type}${ext}${aff}
  selector: { app: app${i} }
  ports: [ { port: 80, targetPort: 8080 } ]`;
    })
    .join('\n---\n');
}
