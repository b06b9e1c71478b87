/**
 * Cluster → ProxyModel, as kube-proxy's ServiceChangeTracker and EndpointSliceCache see it
 * (pkg/proxy/serviceport.go, endpointslicecache.go): one entry per service port, endpoints
 * merged from every slice of the Service (headless-labelled slices skipped), matched to the
 * port by port name and protocol, conditions defaulted (ready/serving nil ⇒ true,
 * terminating nil ⇒ false), de-duplicated by "ip:port" (a ready copy wins) and sorted by that
 * string. ExternalName and headless Services are not proxied and do not appear.
 *
 * A model is of one address family, as each of kube-proxy's per-family proxiers (its
 * MetaProxier on a dual-stack node) sees the cluster: the Services that have a ClusterIP of that
 * family, with that ClusterIP, the external and load-balancer IPs and source ranges of that
 * family, endpoints from the slices of that address type, and the nodes' addresses and
 * ranges of that family. IPv4 is the default; the IPv6 model exists on dual-stack clusters.
 */
import type { Service } from 'kubernetes-types/core/v1.js';
import type {
  Endpoint,
  Protocol,
  ProxyModel,
  ServicePort,
  ServiceType,
  TrafficPolicy,
} from '../proxy/common/model.js';
import { parseCidr } from '../util/ipv4.js';
import type { Cluster } from './cluster.js';
import { LABEL_HEADLESS } from './controllers/endpointslice.js';
import { DEFAULT_AFFINITY_TIMEOUT_SECONDS } from './service-validation.js';

export type IpFamily = 'IPv4' | 'IPv6';

function isOfFamily(text: string, family: IpFamily): boolean {
  return text.includes(':') === (family === 'IPv6');
}

/** The Service's ClusterIP of `family` (clusterIPs[i] where ipFamilies[i] is it), or undefined. */
export function clusterIPOfFamily(svc: Service, family: IpFamily): string | undefined {
  const ips = svc.spec?.clusterIPs ?? (svc.spec?.clusterIP ? [svc.spec.clusterIP] : []);
  return ips.find((ip) => ip !== 'None' && ip !== '' && isOfFamily(ip, family));
}

function isProxied(svc: Service): boolean {
  const ip = svc.spec?.clusterIP;
  return svc.spec?.type !== 'ExternalName' && ip !== undefined && ip !== '' && ip !== 'None';
}

function validSourceRanges(ranges: readonly string[] | undefined, family: IpFamily): string[] {
  const out: string[] = [];
  for (const r of ranges ?? []) {
    const t = r.trim();
    if (family === 'IPv6') {
      if (t.includes('/') && isOfFamily(t, family)) out.push(t);
      continue;
    }
    try {
      if (t.includes('/')) {
        parseCidr(t);
        out.push(t);
      }
    } catch {
      // kube-proxy ignores invalid ranges.
    }
  }
  return out;
}

function endpointsFor(
  cluster: Cluster,
  svc: Service,
  portName: string,
  protocol: Protocol,
  family: IpFamily,
): Endpoint[] {
  const byKey = new Map<string, Endpoint>();
  const slices = cluster
    .slicesOfService(svc)
    .filter((s) => s.addressType === family && s.metadata?.labels?.[LABEL_HEADLESS] === undefined)
    .sort((a, b) => (a.metadata!.name! < b.metadata!.name! ? -1 : 1));
  for (const slice of slices) {
    const sp = (slice.ports ?? []).find(
      (p) => (p.name ?? '') === portName && (p.protocol ?? 'TCP') === protocol,
    );
    if (sp === undefined || sp.port === undefined) continue;
    for (const e of slice.endpoints) {
      const ip = e.addresses[0];
      if (ip === undefined) continue;
      const ep: Endpoint = {
        ip,
        port: sp.port,
        nodeName: e.nodeName ?? '',
        ready: e.conditions?.ready ?? true,
        serving: e.conditions?.serving ?? true,
        terminating: e.conditions?.terminating ?? false,
        podName: e.targetRef?.kind === 'Pod' ? (e.targetRef.name ?? '') : '',
      };
      const key = family === 'IPv6' ? `[${ip}]:${sp.port}` : `${ip}:${sp.port}`;
      const prev = byKey.get(key);
      if (prev === undefined || (!prev.ready && ep.ready)) byKey.set(key, ep);
    }
  }
  return [...byKey.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, e]) => e);
}

/** The servicePorts of one Service (empty for ExternalName / headless). */
export function servicePortsOf(cluster: Cluster, svc: Service, family: IpFamily = 'IPv4'): ServicePort[] {
  if (!isProxied(svc)) return [];
  const clusterIP = clusterIPOfFamily(svc, family);
  if (clusterIP === undefined) return [];
  const spec = svc.spec!;
  const ns = svc.metadata!.namespace!;
  const name = svc.metadata!.name!;
  const type = spec.type as ServiceType;
  const affinity = spec.sessionAffinity === 'ClientIP' ? 'ClientIP' : 'None';
  const lbIPs = (svc.status?.loadBalancer?.ingress ?? [])
    .filter(
      (i) => i.ip !== undefined && (i.ipMode === undefined || i.ipMode === 'VIP') && isOfFamily(i.ip, family),
    )
    .map((i) => i.ip!);
  const etp: TrafficPolicy = spec.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster';
  return (spec.ports ?? []).map((p) => {
    const portName = p.name ?? '';
    const protocol = (p.protocol ?? 'TCP') as Protocol;
    return {
      namespace: ns,
      name,
      portName,
      protocol,
      servicePortName: portName === '' ? `${ns}/${name}` : `${ns}/${name}:${portName}`,
      type,
      clusterIP,
      port: p.port,
      nodePort: p.nodePort ?? 0,
      externalIPs: (spec.externalIPs ?? []).filter((ip) => isOfFamily(ip, family)),
      loadBalancerIPs: lbIPs,
      loadBalancerSourceRanges: validSourceRanges(spec.loadBalancerSourceRanges, family),
      sessionAffinity: affinity,
      stickyMaxAgeSeconds:
        affinity === 'ClientIP'
          ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS)
          : 0,
      externalTrafficPolicy: etp,
      internalTrafficPolicy: spec.internalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
      healthCheckNodePort: type === 'LoadBalancer' && etp === 'Local' ? (spec.healthCheckNodePort ?? 0) : 0,
      endpoints: endpointsFor(cluster, svc, portName, protocol, family),
    };
  });
}

/** The one model every proxy mode compiles. */
export function toProxyModel(cluster: Cluster, family: IpFamily = 'IPv4'): ProxyModel {
  const v6 = cluster.config.ipv6;
  if (family === 'IPv6' && v6 === undefined)
    throw new Error('the IPv6 proxy model needs a dual-stack cluster');
  const servicePorts = cluster.services().flatMap((svc) => servicePortsOf(cluster, svc, family));
  servicePorts.sort((a, b) =>
    a.servicePortName < b.servicePortName
      ? -1
      : a.servicePortName > b.servicePortName
        ? 1
        : a.protocol < b.protocol
          ? -1
          : a.protocol > b.protocol
            ? 1
            : 0,
  );
  return {
    servicePorts,
    nodes: cluster.nodes().map((n) => ({
      name: n.metadata!.name!,
      ip:
        n.status?.addresses?.find((a) => a.type === 'InternalIP' && isOfFamily(a.address, family))?.address ??
        '',
      podCIDR:
        n.spec?.podCIDRs?.find((c) => isOfFamily(c, family)) ??
        (family === 'IPv4' ? (n.spec?.podCIDR ?? '') : ''),
    })),
    clusterCIDR: family === 'IPv6' ? v6!.clusterCIDR : cluster.config.clusterCIDR,
    serviceCIDR: family === 'IPv6' ? v6!.serviceCIDR : cluster.config.serviceCIDR,
  };
}
