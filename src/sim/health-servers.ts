/**
 * A node's health servers, as its service proxy opens them: kube-proxy's :10256 healthz in the
 * kube-proxy modes, and one server per Service with a `healthCheckNodePort` (kube-proxy's, or
 * Cilium's in eBPF mode, which runs no kube-proxy and so has no :10256). Re-synced with the
 * model: a new Service opens its port, a deleted one closes it, and the local endpoint count
 * is read at request time from the last synced model.
 */

import { type HttpResponder, startHttpResponder } from '../apps/http-responder.js';
import {
  ciliumServiceHealthHandler,
  KUBE_PROXY_HEALTHZ_PORT,
  kubeProxyServiceHealthHandler,
  proxyHealthzHandler,
} from '../apps/kube-proxy-health.js';
import type { TcpStack } from '../apps/tcp-stack.js';
import type { ProxyMode } from '../proxy/common/datapath.js';
import type { ProxyModel } from '../proxy/common/model.js';

export interface NodeHealthServersOptions {
  readonly nodeName: string;
  readonly stack: TcpStack;
  readonly mode: ProxyMode;
  /** Wall clock (ms since the epoch) at simulated time 0. */
  readonly clockEpochMs: number;
  /** How long before simulated time 0 the proxy started, ms (Go's monotonic clock origin). */
  readonly startedBeforeMs: number;
  /** The healthz port (healthzBindAddress of the KubeProxyConfiguration; default 10256). */
  readonly healthzPort?: number;
}

export class NodeHealthServers {
  private model: ProxyModel | null = null;
  /** Open per-Service servers by healthCheckNodePort, with the Service they answer for. */
  private readonly services = new Map<number, { key: string; server: HttpResponder }>();

  constructor(private readonly options: NodeHealthServersOptions) {
    const { stack, mode, clockEpochMs } = options;
    const healthzPort = options.healthzPort ?? KUBE_PROXY_HEALTHZ_PORT;
    if (mode === 'ebpf' || stack.hasListener(healthzPort)) return;
    const epochNs = BigInt(Math.round(clockEpochMs)) * 1_000_000n;
    const handle = proxyHealthzHandler({
      wallNs: () => epochNs + BigInt(Math.round(stack.transport.nowNs())),
      startedWallNs: epochNs - BigInt(Math.round(options.startedBeforeMs)) * 1_000_000n,
    });
    startHttpResponder(stack, {
      port: healthzPort,
      podName: 'kube-proxy',
      clockEpochMs,
      handler: (request) => handle(request),
    });
  }

  /** Opens and closes the per-Service servers to match `model`. */
  sync(model: ProxyModel): void {
    this.model = model;
    const wanted = new Map<number, { namespace: string; name: string }>();
    for (const sp of model.servicePorts)
      if (sp.healthCheckNodePort !== 0) wanted.set(sp.healthCheckNodePort, sp);
    for (const [port, open] of this.services) {
      const want = wanted.get(port);
      if (want !== undefined && `${want.namespace}/${want.name}` === open.key) continue;
      open.server.stop();
      this.services.delete(port);
    }
    for (const [port, svc] of wanted) {
      if (this.services.has(port) || this.options.stack.hasListener(port)) continue;
      const handlerOptions = {
        namespace: svc.namespace,
        name: svc.name,
        localEndpoints: () => this.localReadyEndpoints(svc.namespace, svc.name),
      };
      const handle =
        this.options.mode === 'ebpf'
          ? ciliumServiceHealthHandler(handlerOptions)
          : kubeProxyServiceHealthHandler(handlerOptions);
      const server = startHttpResponder(this.options.stack, {
        port,
        podName: 'kube-proxy',
        clockEpochMs: this.options.clockEpochMs,
        handler: () => handle(),
      });
      this.services.set(port, { key: `${svc.namespace}/${svc.name}`, server });
    }
  }

  /**
   * The Service's ready endpoints on this node, counted by address across its ports, as
   * kube-proxy's LocalReadyEndpoints does (Cilium counts its active local backends the same way
   * for one port).
   */
  private localReadyEndpoints(namespace: string, name: string): number {
    const ips = new Set<string>();
    for (const sp of this.model?.servicePorts ?? []) {
      if (sp.namespace !== namespace || sp.name !== name) continue;
      for (const ep of sp.endpoints) if (ep.ready && ep.nodeName === this.options.nodeName) ips.add(ep.ip);
    }
    return ips.size;
  }
}
