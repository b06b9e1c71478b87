/**
 * Issue 11 item 2: containerPort is informational. The pod's app decides where it listens
 * (the origin's go-myweb: 8080, whatever the manifest says); a port nobody listens on answers
 * the SYN with a RST, so curl fails at once with (7) instead of timing out with (28).
 */
import type { Pod } from 'kubernetes-types/core/v1.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { imageRepository, LISTEN_PORTS_ANNOTATION, listenPortsOf } from '../../src/sim/pod-apps.js';
import { buildSimulation, type Simulation } from '../../src/sim/simulation.js';
import { MODES, type WiredMode } from './harness.js';

/** Two web pods that declare no containerPort, behind a Service to 8080 and one to 81. */
const NO_CONTAINER_PORT_YAML = `
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: go-myweb:1.0
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: web81}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 81, nodePort: 30081}]
`;

function pod(spec: Partial<Pod['spec']> & object, annotations?: Record<string, string>): Pod {
  return {
    metadata: { name: 'p', namespace: 'default', ...(annotations ? { annotations } : {}) },
    spec: { containers: [], ...spec },
  } as Pod;
}

describe.each(MODES)('%s mode: a pod template without containerPort', (mode: WiredMode) => {
  let sim: Simulation;
  beforeAll(() => {
    sim = buildSimulation({ manifests: NO_CONTAINER_PORT_YAML, mode, seed: 3, conntrackMax: 4096 });
  });

  it('is served on 8080, where the default app listens whatever the manifest declares', () => {
    const out = sim.curl({ from: 'client', url: 'http://192.168.100.100:30080/' });
    expect(out.stderr).toBe('');
    expect(out.exitCode).toBe(0);
    expect(out.stdout).toMatch(/^Hello World!\nweb-[a-z0-9]{5}\n$/);
  });

  it('answers a port the app does not listen on with a RST: curl: (7) at once, not a 10 s timeout', () => {
    const out = sim.curl({ from: 'client', url: 'http://192.168.100.100:30081/' });
    expect(out.exitCode).toBe(7);
    expect(out.stderr).toBe(
      "curl: (7) Failed to connect to 192.168.100.100 port 30081 after 0 ms: Couldn't connect to server",
    );
  });
});

describe('which ports a pod app listens on', () => {
  it('is 8080 plus every declared TCP containerPort for an unknown image', () => {
    expect(listenPortsOf(pod({ containers: [{ name: 'a', image: 'go-myweb:1.0' }] }))).toEqual([8080]);
    expect(
      listenPortsOf(
        pod({
          containers: [
            {
              name: 'a',
              image: 'registry.local/team/app@sha256:00',
              ports: [{ containerPort: 9090 }, { containerPort: 53, protocol: 'UDP' }],
            },
          ],
        }),
      ),
    ).toEqual([8080, 9090]);
  });

  it('is the image default for nginx and httpd (80)', () => {
    expect(
      listenPortsOf(pod({ containers: [{ name: 'a', image: 'docker.io/library/nginx:1.27' }] })),
    ).toEqual([80]);
    expect(imageRepository('quay.io/x/httpd:2.4@sha256:ab')).toBe('httpd');
  });

  it(`is exactly the ${LISTEN_PORTS_ANNOTATION} annotation's list when given`, () => {
    const p = pod(
      { containers: [{ name: 'a', image: 'x', ports: [{ containerPort: 8080 }] }] },
      {
        [LISTEN_PORTS_ANNOTATION]: '9000, 81',
      },
    );
    expect(listenPortsOf(p)).toEqual([81, 9000]);
  });

  it('rejects a malformed annotation with a one-line error naming the pod', () => {
    const p = pod({ containers: [] }, { [LISTEN_PORTS_ANNOTATION]: '80,http' });
    expect(() => listenPortsOf(p)).toThrow(
      'pod default/p: annotation dpsim.io/listen-ports "80,http": "http" is not a port number (1-65535)',
    );
  });
});
