/**
 * The paced RollingUpdate (pkg/controller/deployment/rolling.go arithmetic): whatever order
 * pods become ready in, a roll-out never runs more than replicas + maxSurge pods, never has
 * fewer than replicas − maxUnavailable available, and ends with every pod on the new template.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPodReady, isPodTerminating } from '../../src/k8s/controllers/pods.js';
import { resolveIntOrPercent, rollingFenceposts } from '../../src/k8s/controllers/rolling-update.js';
import { type Cluster, loadManifests } from '../../src/k8s/index.js';

function deploymentYaml(
  replicas: number,
  maxSurge: string | number,
  maxUnavailable: string | number,
): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: ${replicas}
  strategy: { type: RollingUpdate, rollingUpdate: { maxSurge: ${JSON.stringify(maxSurge)}, maxUnavailable: ${JSON.stringify(maxUnavailable)} } }
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [ { name: web, image: "web:1" } ] }
`;
}

/** The Deployment's pods (kube-system's CoreDNS pods are not part of the roll-out). */
function webPods(cluster: Cluster) {
  return cluster.pods().filter((p) => p.metadata?.namespace === 'default');
}

function live(cluster: Cluster) {
  return webPods(cluster).filter((p) => !isPodTerminating(p));
}

function imageOf(p: ReturnType<Cluster['pods']>[number]): string | undefined {
  return p.spec?.containers?.[0]?.image;
}

describe('RollingUpdate fenceposts', () => {
  it('resolve percentages as the controller does: surge rounds up, unavailable down, both 0 ⇒ 1 unavailable', () => {
    expect(resolveIntOrPercent('25%', '25%', 3, true)).toBe(1);
    expect(resolveIntOrPercent('25%', '25%', 3, false)).toBe(0);
    expect(resolveIntOrPercent(2, '25%', 3, false)).toBe(2);
    const base = { selector: {}, template: {} };
    const dep = {
      spec: { ...base, replicas: 4, strategy: { rollingUpdate: { maxSurge: 0, maxUnavailable: 0 } } },
    };
    expect(rollingFenceposts(dep)).toEqual({ maxSurge: 0, maxUnavailable: 1 });
    expect(rollingFenceposts({ spec: { ...base, replicas: 10 } })).toEqual({
      maxSurge: 3,
      maxUnavailable: 2,
    });
  });
});

describe('paced roll-out', () => {
  it('property: pods ≤ replicas + maxSurge and available ≥ replicas − maxUnavailable at every step, whatever order pods become ready in; it ends on the new template', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constantFrom('25%', '50%', '100%')),
        fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constantFrom('0%', '25%', '50%')),
        fc.array(fc.nat(), { minLength: 40, maxLength: 40 }),
        (replicas, surge, unavailable, choices) => {
          const { cluster } = loadManifests(deploymentYaml(replicas, surge, unavailable), { seed: 1 });
          cluster.store.pacedRollouts = true;
          const dep = cluster.deployments()[0];
          const { maxSurge, maxUnavailable } = rollingFenceposts(dep);
          const check = () => {
            const pods = live(cluster);
            expect(pods.length).toBeLessThanOrEqual(replicas + maxSurge);
            expect(pods.filter(isPodReady).length).toBeGreaterThanOrEqual(
              Math.max(0, replicas - maxUnavailable),
            );
          };
          const copy = JSON.parse(JSON.stringify(dep));
          copy.spec.template.spec.containers[0].image = 'web:2';
          delete copy.status;
          cluster.applyObject(copy);
          check();
          for (let step = 0; step < 200; step++) {
            const pods = live(cluster);
            if (pods.length === replicas && pods.every((p) => imageOf(p) === 'web:2' && isPodReady(p))) break;
            // Either a new pod becomes ready or a terminating pod finishes, chosen by the test.
            const notReady = pods.filter((p) => !isPodReady(p));
            const terminating = webPods(cluster).filter(isPodTerminating);
            const pick = choices[step % choices.length];
            if (notReady.length > 0 && (terminating.length === 0 || pick % 2 === 0)) {
              const p = notReady[pick % notReady.length];
              cluster.apply({ type: 'setPodReady', name: p.metadata!.name!, ready: true });
            } else if (terminating.length > 0) {
              const p = terminating[pick % terminating.length];
              cluster.apply({ type: 'deletePod', name: p.metadata!.name! });
            }
            cluster.resyncDeployments();
            check();
          }
          const end = live(cluster);
          expect(end).toHaveLength(replicas);
          expect(end.every((p) => imageOf(p) === 'web:2' && isPodReady(p))).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('maxUnavailable 0: no old pod is taken down before a new one is available', () => {
    const { cluster } = loadManifests(deploymentYaml(3, 1, 0), { seed: 1 });
    cluster.store.pacedRollouts = true;
    const copy = JSON.parse(JSON.stringify(cluster.deployments()[0]));
    copy.spec.template.spec.containers[0].image = 'web:2';
    delete copy.status;
    cluster.applyObject(copy);
    // One surge pod, not ready yet; all three old pods still running.
    expect(live(cluster).filter((p) => imageOf(p) === 'web:2')).toHaveLength(1);
    expect(cluster.pods().filter(isPodTerminating)).toHaveLength(0);
    const fresh = live(cluster).find((p) => imageOf(p) === 'web:2')!;
    cluster.apply({ type: 'setPodReady', name: fresh.metadata!.name!, ready: true });
    cluster.resyncDeployments();
    // Now one old pod terminates and the next new pod is created.
    expect(cluster.pods().filter(isPodTerminating)).toHaveLength(1);
    expect(live(cluster).filter((p) => imageOf(p) === 'web:2')).toHaveLength(2);
  });
});
