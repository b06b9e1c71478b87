/**
 * The EndpointSlice controller (staging/src/k8s.io/endpointslice, pkg/controller/endpointslice):
 * for every Service with a selector, the pods it selects become endpoints, grouped into slices
 * of at most 100 endpoints that share one resolved port list.
 *
 * Per endpoint: serving = pod Ready; terminating = deletionTimestamp set;
 * ready = publishNotReadyAddresses || (serving && !terminating). A named targetPort resolves
 * against the pod's container ports by name and protocol; a pod without it gets no entry for
 * that port (and so lands in a slice with a different port list). Endpoints keep their slice
 * across syncs when they can; a Service with no endpoints keeps one empty placeholder slice.
 */

import type { Pod, Service, ServicePort } from 'kubernetes-types/core/v1.js';
import type { Endpoint, EndpointPort, EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { Labels } from '../labels.js';
import { generateName } from '../names.js';
import { type ClusterStore, objectKey } from '../store.js';
import { writable } from '../writable.js';
import { isPodReady, isPodTerminating } from './pods.js';

export const MAX_ENDPOINTS_PER_SLICE = 100;
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
export const LABEL_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
export const MANAGED_BY_CONTROLLER = 'endpointslice-controller.k8s.io';
export const LABEL_HEADLESS = 'service.kubernetes.io/headless';

/** findPort: the container port a Service port's targetPort names, or undefined. */
export function resolveTargetPort(pod: Pod, sp: ServicePort): number | undefined {
  const tp = sp.targetPort ?? sp.port;
  if (typeof tp === 'number') return tp;
  const protocol = sp.protocol ?? 'TCP';
  // Regular containers first, then restartable init (sidecar) containers.
  for (const c of pod.spec?.containers ?? []) {
    for (const cp of c.ports ?? [])
      if (cp.name === tp && (cp.protocol ?? 'TCP') === protocol) return cp.containerPort;
  }
  for (const c of pod.spec?.initContainers ?? []) {
    if (c.restartPolicy !== 'Always') continue;
    for (const cp of c.ports ?? [])
      if (cp.name === tp && (cp.protocol ?? 'TCP') === protocol) return cp.containerPort;
  }
  // A numeric string is accepted as a port number (intstr parsing of "8080").
  if (/^\d+$/.test(tp)) return Number(tp);
  return undefined;
}

/** A cheap identity of a resolved port list (grouping key for slices). */
function portsSignature(ports: readonly EndpointPort[] | undefined): string {
  if (ports === undefined) return '-';
  let sig = '';
  for (const p of ports) sig += `${p.name ?? ''}/${p.port}/${p.protocol ?? 'TCP'}/${p.appProtocol ?? ''},`;
  return sig;
}

/**
 * Desired endpoints sharing one port list, in pod order. A plain list: endpoint ids are pod
 * uids, which the server assigns uniquely, so a by-id map is only needed to match endpoints
 * against existing slices (a brand-new Service has none).
 */
interface PortGroup {
  readonly ports: EndpointPort[];
  readonly endpoints: Endpoint[];
}

/** A dual-stack pod's IPv6 address (status.podIPs[1]), if it has one. */
function podIPv6(pod: Pod): string | undefined {
  const ip = pod.status?.podIPs?.[1]?.ip;
  return ip?.includes(':') ? ip : undefined;
}

/** Distinct per-pod port resolutions compared directly before falling back to signatures. */
const MAX_REMEMBERED_PORT_VECTORS = 8;

/** A Service port's number on one pod, or undefined when the pod lacks it. */
type ResolvedPort = number | undefined;

/** Element-wise identity (a NaN port never matches, which only costs a signature lookup). */
function sameVector(a: readonly ResolvedPort[], b: readonly ResolvedPort[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The EndpointPort list for one pod's resolved port numbers. */
function endpointPorts(
  servicePorts: readonly ServicePort[],
  resolved: readonly ResolvedPort[],
): EndpointPort[] {
  const ports: EndpointPort[] = [];
  for (let i = 0; i < servicePorts.length; i++) {
    const port = resolved[i];
    if (port === undefined) continue;
    const sp = servicePorts[i];
    const ep: EndpointPort = { name: sp.name ?? '', port, protocol: sp.protocol ?? 'TCP' };
    if (sp.appProtocol !== undefined) ep.appProtocol = sp.appProtocol;
    ports.push(ep);
  }
  return ports;
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return (
    a.addresses[0] === b.addresses[0] &&
    a.nodeName === b.nodeName &&
    a.hostname === b.hostname &&
    a.targetRef?.uid === b.targetRef?.uid &&
    a.conditions?.ready === b.conditions?.ready &&
    a.conditions?.serving === b.conditions?.serving &&
    a.conditions?.terminating === b.conditions?.terminating
  );
}

function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!sameEndpoint(a[i], b[i])) return false;
  return true;
}

function shouldPodBeInEndpoints(pod: Pod): boolean {
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  return pod.status?.podIP !== undefined && pod.status.podIP !== '';
}

function podEndpoint(pod: Pod, svc: Service): Endpoint {
  const serving = isPodReady(pod);
  const terminating = isPodTerminating(pod);
  return {
    addresses: [pod.status!.podIP!],
    conditions: {
      ready: svc.spec?.publishNotReadyAddresses === true || (serving && !terminating),
      serving,
      terminating,
    },
    // A pod whose subdomain names this Service publishes its hostname (StatefulSet pods' DNS names).
    ...(pod.spec?.hostname && pod.spec.subdomain === svc.metadata?.name
      ? { hostname: pod.spec.hostname }
      : {}),
    nodeName: pod.spec?.nodeName,
    targetRef: {
      kind: 'Pod',
      namespace: pod.metadata!.namespace,
      name: pod.metadata!.name,
      uid: pod.metadata!.uid,
    },
  };
}

function endpointId(e: Endpoint): string {
  return e.targetRef?.uid ?? e.addresses[0];
}

/** matchesMap for a non-empty selector whose keys the caller listed once (not once per pod). */
function hasAllPairs(selector: Labels, keys: readonly string[], labels: Labels | undefined): boolean {
  if (labels === undefined) return false;
  for (const k of keys) if (labels[k] !== selector[k]) return false;
  return true;
}

/** Pods of the Service's namespace matching its selector. */
export function selectedPods(store: ClusterStore, svc: Service): Pod[] {
  const selector = svc.spec?.selector;
  if (selector === undefined || Object.keys(selector).length === 0) return [];
  const ns = svc.metadata!.namespace!;
  const keys = Object.keys(selector);
  const out: Pod[] = [];
  // The index stores each pod with its key, so no lookup in the (large) pod map is needed.
  for (const p of store.podLabels.matchAllValues(ns, selector)) {
    if (hasAllPairs(selector, keys, p.metadata?.labels)) out.push(p);
  }
  return out;
}

/** Whether the controller manages slices for this Service. */
export function managesSlices(svc: Service): boolean {
  const sel = svc.spec?.selector;
  return svc.spec?.type !== 'ExternalName' && sel !== undefined && Object.keys(sel).length > 0;
}

/**
 * Brings the Service's managed slices in line with its pods. Returns true when any slice
 * was created, changed or deleted.
 */
export function syncServiceSlices(store: ClusterStore, svcKey: string): boolean {
  const svc = store.services.get(svcKey);
  const existingKeys = [...(store.slicesByService.get(svcKey) ?? [])];
  if (svc === undefined || !managesSlices(svc)) {
    for (const k of existingKeys) store.endpointSlices.delete(k);
    store.slicesByService.delete(svcKey);
    return existingKeys.length > 0;
  }
  const ns = svc.metadata!.namespace!;

  // Desired endpoints grouped by their resolved port list. Pods of one Service nearly always
  // resolve to the same port numbers, so each pod's ports are resolved into a reused numeric
  // scratch vector and matched against the few groups seen so far; the EndpointPort list and
  // its signature are only built when a new vector shows up (no per-pod arrays or strings).
  const servicePorts = svc.spec?.ports ?? [];
  const groups = new Map<string, PortGroup>();
  const byVector: { readonly vector: readonly ResolvedPort[]; readonly group: PortGroup }[] = [];
  const scratch: ResolvedPort[] = new Array(servicePorts.length);
  const wantIPv6 = svc.spec?.ipFamilies?.includes('IPv6') === true;
  const groupsIPv6 = new Map<PortGroup, PortGroup>();
  for (const pod of selectedPods(store, svc)) {
    if (!shouldPodBeInEndpoints(pod)) continue;
    for (let i = 0; i < servicePorts.length; i++) scratch[i] = resolveTargetPort(pod, servicePorts[i]);
    let g: PortGroup | undefined;
    for (const known of byVector) {
      if (sameVector(known.vector, scratch)) {
        g = known.group;
        break;
      }
    }
    if (g === undefined) {
      const ports = endpointPorts(servicePorts, scratch);
      const sig = portsSignature(ports);
      g = groups.get(sig);
      if (g === undefined) {
        g = { ports, endpoints: [] };
        groups.set(sig, g);
      }
      // Bounded, so pods that all resolve differently cost a signature each rather than a
      // quadratic scan of vectors.
      if (byVector.length < MAX_REMEMBERED_PORT_VECTORS) byVector.push({ vector: scratch.slice(), group: g });
    }
    g.endpoints.push(podEndpoint(pod, svc));
    // Dual-stack: the same endpoint with the pod's IPv6 address goes into IPv6 slices.
    const ip6 = wantIPv6 ? podIPv6(pod) : undefined;
    if (ip6 !== undefined) {
      let g6 = groupsIPv6.get(g);
      if (g6 === undefined) {
        g6 = { ports: g.ports, endpoints: [] };
        groupsIPv6.set(g, g6);
      }
      g6.endpoints.push({ ...podEndpoint(pod, svc), addresses: [ip6] });
    }
  }
  // One EndpointSlice address type per family of the Service (kube-controller-manager's
  // reconciler runs once per family): IPv4 groups, then IPv6 ones.
  const families = svc.spec?.ipFamilies ?? ['IPv4'];
  const planned: { sig: string; g: PortGroup; addressType: string }[] = [];
  if (families.includes('IPv4')) for (const [sig, g] of groups) planned.push({ sig, g, addressType: 'IPv4' });
  if (wantIPv6) {
    for (const [sig, g] of groups) {
      const g6 = groupsIPv6.get(g);
      if (g6 !== undefined) planned.push({ sig, g: g6, addressType: 'IPv6' });
    }
  }

  const existing = existingKeys
    .map((k) => store.endpointSlices.get(k))
    .filter((s): s is EndpointSlice => s !== undefined)
    .sort((a, b) => (a.metadata!.name! < b.metadata!.name! ? -1 : 1));
  const plan = new Map<EndpointSlice, Endpoint[]>();
  const keep = new Set<EndpointSlice>();
  let changed = false;

  for (const { sig, g, addressType } of planned) {
    const mine =
      existing.length === 0
        ? existing
        : existing.filter(
            (s) => s.addressType === addressType && s.ports !== undefined && portsSignature(s.ports) === sig,
          );
    let rest = g.endpoints;
    if (mine.length > 0) {
      // Keep endpoints where they are.
      const wanted = new Map<string, Endpoint>();
      for (const e of g.endpoints) wanted.set(endpointId(e), e);
      for (const s of mine) {
        const kept: Endpoint[] = [];
        for (const e of s.endpoints) {
          const id = endpointId(e);
          const want = wanted.get(id);
          if (want !== undefined) {
            kept.push(want);
            wanted.delete(id);
          }
        }
        plan.set(s, kept);
      }
      rest = [...wanted.values()];
    }
    // Fill slices with room, then open new ones.
    // A cursor, not shift()/splice(): a Service with thousands of pods must stay linear.
    let next = 0;
    for (const s of mine) {
      const list = plan.get(s)!;
      while (list.length < MAX_ENDPOINTS_PER_SLICE && next < rest.length) list.push(rest[next++]);
      if (list.length > 0) keep.add(s);
    }
    while (next < rest.length) {
      const s = newSlice(store, svc, g.ports, addressType);
      changed = true;
      const end = Math.min(next + MAX_ENDPOINTS_PER_SLICE, rest.length);
      plan.set(s, next === 0 && end === rest.length ? rest : rest.slice(next, end));
      next = end;
      keep.add(s);
    }
  }

  if (planned.length === 0) {
    // No endpoints: exactly one placeholder slice with no ports.
    const placeholder = existing.find((s) => s.ports === undefined && s.endpoints.length === 0);
    if (placeholder !== undefined) keep.add(placeholder);
    else {
      const s = newSlice(store, svc, undefined, families[0] ?? 'IPv4');
      plan.set(s, []);
      keep.add(s);
      changed = true;
    }
  }

  const keys = new Set<string>();
  for (const s of existing) {
    if (!keep.has(s)) {
      store.endpointSlices.delete(objectKey(ns, s.metadata!.name!));
      changed = true;
    }
  }
  for (const s of keep) {
    const key = objectKey(ns, s.metadata!.name!);
    keys.add(key);
    const endpoints = plan.get(s) ?? s.endpoints;
    const isNew = !store.endpointSlices.has(key);
    if (isNew || !sameEndpoints(endpoints, s.endpoints)) {
      s.endpoints = endpoints;
      if (!isNew) {
        writable(s.metadata!).resourceVersion = store.nextResourceVersion();
        writable(s.metadata!).generation = (s.metadata!.generation ?? 1) + 1;
      }
      store.endpointSlices.set(key, s);
      changed = true;
    }
  }
  store.slicesByService.set(svcKey, keys);
  return changed;
}

function newSlice(
  store: ClusterStore,
  svc: Service,
  ports: EndpointPort[] | undefined,
  addressType: string,
): EndpointSlice {
  const ns = svc.metadata!.namespace!;
  const svcName = svc.metadata!.name!;
  let name: string;
  do name = generateName(`${svcName}-`, store.random.names);
  while (store.endpointSlices.has(objectKey(ns, name)));
  const labels: Record<string, string> = {
    [LABEL_MANAGED_BY]: MANAGED_BY_CONTROLLER,
    [LABEL_SERVICE_NAME]: svcName,
  };
  if (svc.spec?.clusterIP === 'None') labels[LABEL_HEADLESS] = '';
  const meta = store.stampNew({ name, generateName: `${svcName}-`, labels, generation: 1 }, ns);
  meta.ownerReferences = [
    {
      apiVersion: 'v1',
      kind: 'Service',
      name: svcName,
      uid: svc.metadata!.uid!,
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
  const slice: EndpointSlice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: meta,
    addressType,
    endpoints: [],
  };
  if (ports !== undefined) slice.ports = ports;
  return slice;
}
