/**
 * The node-configuration documents among the manifests: a `KubeProxyConfiguration`
 * (kubeproxy.config.k8s.io/v1alpha1) and a `dpsim/v1alpha1 CiliumValues` document. They
 * configure the proxies rather than create API objects, so they are taken out before the
 * rest is applied; a broken one is rejected with the reason, like any bad document.
 */
import {
  CILIUM_VALUES_KIND,
  type CiliumConfig,
  CiliumValuesError,
  parseCiliumValues,
} from './cilium-values.js';
import {
  KUBE_PROXY_CONFIG_API_VERSION,
  KUBE_PROXY_CONFIG_KIND,
  type KubeProxyConfig,
  KubeProxyConfigError,
  parseKubeProxyConfiguration,
} from './kube-proxy-config.js';

export const DPSIM_CONFIG_API_VERSION = 'dpsim/v1alpha1';

export interface NodeConfigDocument {
  readonly source: string;
  readonly object?: Record<string, unknown>;
}

export interface NodeConfigDocuments<D> {
  /** The documents that are not node configuration, in order. */
  readonly rest: D[];
  readonly kubeProxy?: KubeProxyConfig;
  readonly cilium?: CiliumConfig;
  /** Documents rejected, with the one-line reason. */
  readonly rejected: { readonly doc: D; readonly message: string }[];
}

export function isKubeProxyConfiguration(o: Record<string, unknown> | undefined): boolean {
  return o?.kind === KUBE_PROXY_CONFIG_KIND && o.apiVersion === KUBE_PROXY_CONFIG_API_VERSION;
}

export function isCiliumValues(o: Record<string, unknown> | undefined): boolean {
  return o?.kind === CILIUM_VALUES_KIND && o.apiVersion === DPSIM_CONFIG_API_VERSION;
}

/** Takes the node-configuration documents out of `docs`; at most one of each kind. */
export function extractNodeConfig<D extends NodeConfigDocument>(docs: readonly D[]): NodeConfigDocuments<D> {
  const rest: D[] = [];
  const rejected: { doc: D; message: string }[] = [];
  let kubeProxy: KubeProxyConfig | undefined;
  let cilium: CiliumConfig | undefined;
  let kubeProxySource: string | undefined;
  let ciliumSource: string | undefined;
  for (const d of docs) {
    if (isKubeProxyConfiguration(d.object)) {
      if (kubeProxySource !== undefined) {
        rejected.push({
          doc: d,
          message: `error: only one ${KUBE_PROXY_CONFIG_KIND} is allowed (another one is in ${kubeProxySource})`,
        });
        continue;
      }
      kubeProxySource = d.source;
      try {
        kubeProxy = parseKubeProxyConfiguration(d.object);
      } catch (e) {
        if (!(e instanceof KubeProxyConfigError)) throw e;
        rejected.push({ doc: d, message: `error: ${d.source}: ${e.message}` });
      }
    } else if (isCiliumValues(d.object)) {
      if (ciliumSource !== undefined) {
        rejected.push({
          doc: d,
          message: `error: only one ${CILIUM_VALUES_KIND} document is allowed (another one is in ${ciliumSource})`,
        });
        continue;
      }
      ciliumSource = d.source;
      const { apiVersion: _a, kind: _k, metadata: _m, ...values } = d.object as Record<string, unknown>;
      try {
        cilium = parseCiliumValues(values, `${d.source}: ${CILIUM_VALUES_KIND}`);
      } catch (e) {
        if (!(e instanceof CiliumValuesError)) throw e;
        rejected.push({ doc: d, message: `error: ${e.message}` });
      }
    } else rest.push(d);
  }
  return {
    rest,
    ...(kubeProxy !== undefined ? { kubeProxy } : {}),
    ...(cilium !== undefined ? { cilium } : {}),
    rejected,
  };
}
