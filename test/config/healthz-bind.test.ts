/** healthzBindAddress of the KubeProxyConfiguration: the port kube-proxy's /healthz answers on. */
import { describe, expect, it } from 'vitest';
import { buildSmall } from '../sim/harness.js';

const KPC = 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n';
const SVC = 'apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec: { ports: [{ port: 80 }] }\n';

describe('healthzBindAddress', () => {
  it('moves kube-proxy’s healthz from :10256 to the configured port', () => {
    const moved = buildSmall({
      manifests: `${SVC}---\n${KPC}healthzBindAddress: 0.0.0.0:10300\n`,
      capture: false,
    });
    const at = (sim: typeof moved, port: number) =>
      sim.curl({ from: 'client', url: `http://192.168.100.100:${port}/healthz`, connectTimeoutMs: 1000 })
        .exitCode;
    expect(at(moved, 10300)).toBe(0);
    expect(at(moved, 10256)).toBe(7);
    const plain = buildSmall({ manifests: `${SVC}---\n${KPC}mode: iptables\n`, capture: false });
    expect(at(plain, 10256)).toBe(0);
  });
});
