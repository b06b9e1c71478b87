/**
 * The simulated control plane: an apiserver (validation, allocation, object store) plus the
 * controllers that matter for Services (Deployment, ReplicaSet, scheduler/kubelet, EndpointSlice),
 * all run synchronously after every change. Changes come from manifests (`applyObject`) or
 * from the ordered event API (`apply(event)`); each successful change bumps `generation`, so
 * a proxy mode can tell when to recompile.
 */

import type { DaemonSet, Deployment, ReplicaSet, StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { Namespace, Node, Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { cidrContains, formatIPv4, isIPv4, parseCidr, parseIPv4 } from '../util/ipv4.js';
import {
  type ClusterConfig,
  type ClusterDocumentSpec,
  type ClusterOptions,
  type ProxyMode,
  resolveClusterConfig,
} from './cluster-config.js';
import { syncDaemonSet, updateDaemonSetStatus } from './controllers/daemonset.js';
import {
  LABEL_MANAGED_BY,
  LABEL_SERVICE_NAME,
  MANAGED_BY_CONTROLLER,
  managesSlices,
  syncServiceSlices,
} from './controllers/endpointslice.js';
import { nodeIP, removePod, setPodReady, startPod, terminatePod } from './controllers/pods.js';
import {
  syncDeployment,
  syncReplicaSet,
  updateDeploymentStatus,
  updateReplicaSetStatus,
} from './controllers/replicaset.js';
import { syncStatefulSet, updateStatefulSetStatus } from './controllers/statefulset.js';
import {
  ApiError,
  ClusterConfigError,
  type FieldError,
  InvalidObjectError,
  NotFoundError,
} from './errors.js';
import { matchesMap } from './labels.js';
import { ServiceChangeTracker } from './service-change-tracker.js';
import { ClusterStore, DEFAULT_START_TIME_MS, formatTimestamp, objectKey } from './store.js';
import {
  validateDaemonSet,
  validateDeployment,
  validateEndpointSlice,
  validateObjectName,
  validatePod,
  validateReplicaSet,
  validateStatefulSet,
} from './workload-validation.js';
import { cloneJson, writable } from './writable.js';

/** Seconds between cluster bootstrap and the first user object, so AGE columns look like a real cluster's. */
export const BOOTSTRAP_LEAD_SECONDS = 300;
/** Default grace period of `kubectl delete pod` / a terminating pod. */
export const DEFAULT_TERMINATION_GRACE_SECONDS = 30;
/** The simulated kubelet version shown by `get nodes`. */
export const SIMULATED_KUBELET_VERSION = 'v1.30.4';

export type KubeObject =
  | Service
  | Pod
  | ReplicaSet
  | Deployment
  | DaemonSet
  | StatefulSet
  | EndpointSlice
  | Node
  | Namespace;

export type ApplyStatus = 'created' | 'configured' | 'unchanged' | 'rejected' | 'ignored';

/** What happened to one object, worded as `kubectl apply` reports it. */
export interface ApplyOutcome {
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  readonly status: ApplyStatus;
  /** `service/myweb-svc-np created`, or the full error text for a rejected object. */
  readonly message: string;
  /** The ApiError for rejected objects. */
  readonly error?: Error;
}

/** The ordered events that drive a running simulation. */
export type ClusterEvent =
  | {
      readonly type: 'scaleReplicaSet';
      readonly namespace?: string;
      readonly name: string;
      readonly replicas: number;
      readonly gracePeriodSeconds?: number;
    }
  | {
      readonly type: 'scaleDeployment';
      readonly namespace?: string;
      readonly name: string;
      readonly replicas: number;
      readonly gracePeriodSeconds?: number;
    }
  /** Removes the pod at once (grace 0); its ReplicaSet creates a replacement. */
  | { readonly type: 'deletePod'; readonly namespace?: string; readonly name: string }
  /** Graceful delete: Terminating (still serving if Ready) until the grace period has passed on the clock. */
  | {
      readonly type: 'terminatePod';
      readonly namespace?: string;
      readonly name: string;
      readonly gracePeriodSeconds?: number;
    }
  | {
      readonly type: 'setPodReady';
      readonly namespace?: string;
      readonly name: string;
      readonly ready: boolean;
    }
  | { readonly type: 'addService'; readonly service: Service }
  | { readonly type: 'removeService'; readonly namespace?: string; readonly name: string }
  | { readonly type: 'addEndpointSlice'; readonly slice: EndpointSlice }
  | { readonly type: 'removeEndpointSlice'; readonly namespace?: string; readonly name: string }
  | { readonly type: 'advanceClock'; readonly seconds: number }
  | { readonly type: 'applyObject'; readonly object: KubeObject; readonly source?: string };

export interface EventResult {
  readonly ok: boolean;
  /** Generation after the event (unchanged when the event failed). */
  readonly generation: number;
  readonly message: string;
  /** Keys (`ns/name`) of Services whose endpoints or spec changed. */
  readonly changedServices: readonly string[];
}

export interface ClusterCreateOptions extends ClusterOptions {
  /** The optional dpsim/v1alpha1 Cluster document's spec and name. */
  clusterSpec?: ClusterDocumentSpec;
  clusterName?: string;
}

interface Dirty {
  deployments: Set<string>;
  replicaSets: Set<string>;
  daemonSets: Set<string>;
  statefulSets: Set<string>;
  services: Set<string>;
}

function newDirty(): Dirty {
  return {
    deployments: new Set(),
    replicaSets: new Set(),
    daemonSets: new Set(),
    statefulSets: new Set(),
    services: new Set(),
  };
}

const GROUPED: Record<string, string> = {
  ReplicaSet: 'replicaset.apps',
  DaemonSet: 'daemonset.apps',
  StatefulSet: 'statefulset.apps',
  Deployment: 'deployment.apps',
  EndpointSlice: 'endpointslice.discovery.k8s.io',
};

/** kubectl's `kind.group/name` for apply messages. */
export function resourceRef(kind: string, name: string): string {
  return `${GROUPED[kind] ?? kind.toLowerCase()}/${name}`;
}

export class Cluster {
  readonly config: ClusterConfig;
  /** Internal store; exposed for controllers, printers and the benchmark. */
  readonly store: ClusterStore;
  private gen = 0;
  /** Which Services changed since a proxy last synced (drained by the simulation). */
  readonly changes = new ServiceChangeTracker();
  /** Services the last applyObject resynced (reported by events that wrap it). */
  private lastChangedServices: string[] = [];
  private readonly listeners: ((generation: number, event: ClusterEvent) => void)[] = [];

  constructor(options: ClusterCreateOptions = {}) {
    this.config = resolveClusterConfig(options.clusterSpec, options);
    if (options.clusterName) (this.config as { name: string }).name = options.clusterName;
    this.store = new ClusterStore(
      this.config,
      options.seed ?? 1,
      options.startTimeMs ?? DEFAULT_START_TIME_MS,
    );
    this.bootstrap();
    this.store.clock.advance(BOOTSTRAP_LEAD_SECONDS * 1000);
  }

  get generation(): number {
    return this.gen;
  }

  get proxyMode(): ProxyMode {
    return this.config.proxyMode;
  }

  /** Simulated wall-clock time (ms since epoch). */
  now(): number {
    return this.store.clock.now();
  }

  /** Called after every successful event with the new generation. */
  subscribe(listener: (generation: number, event: ClusterEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  // ---------------------------------------------------------------- bootstrap

  private bootstrap(): void {
    const s = this.store;
    for (const ns of ['default', 'kube-node-lease', 'kube-public', 'kube-system']) {
      s.namespaces.set(ns, this.namespaceObject(ns));
    }
    for (const n of this.config.nodes) {
      const labels = kubeletNodeLabels(n.name);
      if (n.controlPlane) labels['node-role.kubernetes.io/control-plane'] = '';
      this.addNode(
        { apiVersion: 'v1', kind: 'Node', metadata: { name: n.name, labels }, spec: { podCIDR: n.podCIDR } },
        n.ip,
      );
    }
    // default/kubernetes takes the first address of the range; its endpoints are the apiservers.
    const first = formatIPv4((parseCidr(this.config.serviceCIDR).network + 1) >>> 0);
    const svc = s.registry.create(
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: {
          name: 'kubernetes',
          namespace: 'default',
          labels: { component: 'apiserver', provider: 'kubernetes' },
        },
        spec: {
          type: 'ClusterIP',
          clusterIP: first,
          ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: this.config.apiserverPort }],
        },
      },
      'bootstrap',
    );
    svc.metadata = s.stampNew(svc.metadata, 'default');
    s.services.set(objectKey('default', 'kubernetes'), svc);
    const apiservers = this.config.nodes.filter((n) => n.controlPlane);
    const slice: EndpointSlice = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: s.stampNew(
        { name: 'kubernetes', labels: { [LABEL_SERVICE_NAME]: 'kubernetes' }, generation: 1 },
        'default',
      ),
      addressType: 'IPv4',
      endpoints: apiservers.map((n) => ({ addresses: [n.ip], conditions: { ready: true } })),
      ports: [{ name: 'https', port: this.config.apiserverPort, protocol: 'TCP' }],
    };
    s.endpointSlices.set(objectKey('default', 'kubernetes'), slice);
    s.indexUserSlice(objectKey('default', 'kubernetes'), 'default', 'kubernetes', true);
  }

  private namespaceObject(name: string): Namespace {
    return {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: this.store.stampNew({ name, labels: { 'kubernetes.io/metadata.name': name } }, undefined),
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    };
  }

  private addNode(input: Node, ip: string): Node {
    const name = input.metadata?.name ?? '';
    const node: Node = cloneJson(input);
    node.metadata = this.store.stampNew(node.metadata, undefined);
    delete node.metadata.namespace;
    const podCIDR = node.spec?.podCIDR ?? this.freeNodeSubnet(name);
    // A dual-stack node (--node-ip v4,v6): both InternalIPs and both pod CIDRs, IPv4 first.
    const v6 = this.config.ipv6?.nodes.get(name);
    node.spec = {
      ...(node.spec ?? {}),
      podCIDR,
      podCIDRs: v6 === undefined ? [podCIDR] : [podCIDR, v6.podCIDR],
    };
    const now = formatTimestamp(this.store.clock.now());
    writable(node).status = {
      addresses: [
        { type: 'InternalIP', address: ip },
        ...(v6 === undefined ? [] : [{ type: 'InternalIP', address: v6.ip }]),
        { type: 'Hostname', address: name },
      ],
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'kubelet is posting ready status',
          lastHeartbeatTime: now,
          lastTransitionTime: now,
        },
      ],
      nodeInfo: {
        architecture: 'amd64',
        bootID: '',
        containerRuntimeVersion: 'containerd://1.7.16',
        kernelVersion: '5.15.0-105-generic',
        kubeProxyVersion: SIMULATED_KUBELET_VERSION,
        kubeletVersion: SIMULATED_KUBELET_VERSION,
        machineID: '',
        operatingSystem: 'linux',
        osImage: 'Ubuntu 22.04.4 LTS',
        systemUUID: '',
      },
    };
    this.store.nodes.set(name, node);
    this.store.nodesChanged();
    return node;
  }

  /** The next /nodeCIDRMaskSize of the cluster CIDR no node uses (node-ipam controller). */
  private freeNodeSubnet(nodeName: string): string {
    const cluster = parseCidr(this.config.clusterCIDR);
    const size = 2 ** (32 - this.config.nodeCIDRMaskSize);
    const count = 2 ** (this.config.nodeCIDRMaskSize - cluster.prefixLength);
    const used = new Set([...this.store.nodes.values()].map((n) => n.spec?.podCIDR));
    for (let i = 0; i < count; i++) {
      const text = `${formatIPv4((cluster.network + i * size) >>> 0)}/${this.config.nodeCIDRMaskSize}`;
      if (!used.has(text)) return text;
    }
    throw new ClusterConfigError(
      `cluster CIDR ${this.config.clusterCIDR} has no free subnet for node ${nodeName}`,
    );
  }

  // ---------------------------------------------------------------- objects from manifests

  /**
   * Creates or updates one object as `kubectl apply` would. Never throws for bad input: the
   * outcome carries the exact error text.
   */
  applyObject(obj: KubeObject, source = 'manifest'): ApplyOutcome {
    const kind = obj.kind ?? '';
    const name = obj.metadata?.name ?? '';
    const clusterScoped = kind === 'Node' || kind === 'Namespace';
    const namespace = clusterScoped ? '' : obj.metadata?.namespace || 'default';
    const base = { kind, name, namespace };
    try {
      if (!clusterScoped && !this.store.namespaces.has(namespace)) {
        throw new NotFoundError('namespaces', namespace, source);
      }
      const dirty = newDirty();
      let status: 'created' | 'configured' | 'unchanged';
      switch (kind) {
        case 'Namespace':
          status = this.applyNamespace(obj as Namespace);
          break;
        case 'Node':
          status = this.applyNode(obj as Node);
          // A new node gets a pod of every DaemonSet that selects it.
          if (status === 'created') {
            this.changes.recordTopology();
            for (const k of this.store.daemonSets.keys()) dirty.daemonSets.add(k);
          }
          break;
        case 'Service':
          status = this.applyService(obj as Service, namespace, source, dirty);
          break;
        case 'ReplicaSet':
          status = this.applyReplicaSet(obj as ReplicaSet, namespace, dirty);
          break;
        case 'Deployment':
          status = this.applyDeployment(obj as Deployment, namespace, dirty);
          break;
        case 'DaemonSet':
          status = this.applyWorkload('DaemonSet', obj as DaemonSet, namespace, dirty);
          break;
        case 'StatefulSet':
          status = this.applyWorkload('StatefulSet', obj as StatefulSet, namespace, dirty);
          break;
        case 'Pod':
          status = this.applyPod(obj as Pod, namespace, dirty);
          break;
        case 'EndpointSlice':
          status = this.applyEndpointSlice(obj as EndpointSlice, namespace, dirty);
          break;
        default:
          return {
            ...base,
            status: 'ignored',
            message: `dpsim: kind "${kind}" is not simulated; ${name} ignored`,
          };
      }
      this.reconcile(dirty, 0);
      this.lastChangedServices = [...dirty.services].sort();
      if (status !== 'unchanged') this.gen++;
      return { ...base, status, message: `${resourceRef(kind, name)} ${status}` };
    } catch (e) {
      if (e instanceof ApiError || e instanceof ClusterConfigError) {
        return { ...base, status: 'rejected', message: e.message, error: e };
      }
      throw e;
    }
  }

  private invalid(kind: string, name: string, errs: FieldError[]): void {
    if (errs.length > 0) throw new InvalidObjectError(kind, name, errs);
  }

  private applyNamespace(ns: Namespace): 'created' | 'unchanged' {
    const name = ns.metadata?.name ?? '';
    this.invalid('Namespace', name, validateObjectName(name, 'label'));
    if (this.store.namespaces.has(name)) return 'unchanged';
    this.store.namespaces.set(name, this.namespaceObject(name));
    return 'created';
  }

  private applyNode(node: Node): 'created' | 'unchanged' {
    const name = node.metadata?.name ?? '';
    this.invalid('Node', name, validateObjectName(name, 'subdomain'));
    if (this.store.nodes.has(name)) return 'unchanged';
    const ip = node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    if (ip === undefined) {
      throw new ClusterConfigError(
        `dpsim: node "${name}" needs status.addresses with an InternalIP (or list it in the Cluster document)`,
      );
    }
    this.checkNodeAddress(name, ip);
    const podCIDR = node.spec?.podCIDR;
    if (
      podCIDR !== undefined &&
      !cidrContains(parseCidr(this.config.clusterCIDR), parseCidr(podCIDR).network)
    ) {
      throw new ClusterConfigError(
        `dpsim: node "${name}" podCIDR ${podCIDR} is outside the cluster CIDR ${this.config.clusterCIDR}`,
      );
    }
    const labels = { ...kubeletNodeLabels(name), ...(node.metadata?.labels ?? {}) };
    this.addNode(
      { apiVersion: 'v1', kind: 'Node', metadata: { ...node.metadata, labels }, spec: { podCIDR } },
      ip,
    );
    return 'created';
  }

  /**
   * dpsim puts every node's eth0 on the client's L2 segment (the Cluster document's nodes
   * must be there too), so a Node's InternalIP must be an unused IPv4 address of that /24.
   */
  private checkNodeAddress(name: string, ip: string): void {
    if (!isIPv4(ip))
      throw new ClusterConfigError(`dpsim: node "${name}" InternalIP "${ip}" is not an IPv4 address`);
    const segment = (parseIPv4(this.config.clientIP) & 0xffffff00) >>> 0;
    if ((parseIPv4(ip) & 0xffffff00) >>> 0 !== segment)
      throw new ClusterConfigError(
        `dpsim: node "${name}" InternalIP ${ip} is not on the nodes' segment ${formatIPv4(segment)}/24 (the client's, ${this.config.clientIP})`,
      );
    if (ip === this.config.clientIP)
      throw new ClusterConfigError(`dpsim: node "${name}" InternalIP ${ip} is the external client's address`);
    for (const other of this.store.nodes.values()) {
      if (nodeAddress(other) === ip)
        throw new ClusterConfigError(
          `dpsim: node "${name}" InternalIP ${ip} is already node "${other.metadata?.name ?? ''}"'s`,
        );
    }
    if (cidrContains(parseCidr(this.config.clusterCIDR), parseIPv4(ip)))
      throw new ClusterConfigError(
        `dpsim: node "${name}" InternalIP ${ip} lies inside the cluster CIDR ${this.config.clusterCIDR}`,
      );
  }

  private applyService(
    input: Service,
    ns: string,
    source: string,
    dirty: Dirty,
  ): 'created' | 'configured' | 'unchanged' {
    const name = input.metadata?.name ?? '';
    const key = objectKey(ns, name);
    const old = this.store.services.get(key);
    const withNs: Service = { ...input, metadata: { ...(input.metadata ?? {}), namespace: ns } };
    if (old === undefined) {
      const svc = this.store.registry.create(withNs, source);
      svc.metadata = this.store.stampNew(svc.metadata, ns);
      this.store.services.set(key, svc);
      this.indexService(key, svc, true);
      dirty.services.add(key);
      return 'created';
    }
    const svc = this.store.registry.update(old, withNs, source);
    if (JSON.stringify(svc.spec) === JSON.stringify(old.spec) && sameLabels(svc, old)) {
      // Nothing changed: the registry allocated nothing new, so there is nothing to give back.
      return 'unchanged';
    }
    svc.metadata = this.store.stampUpdate(svc.metadata, old.metadata);
    this.indexService(key, old, false);
    this.store.services.set(key, svc);
    this.indexService(key, svc, true);
    dirty.services.add(key);
    return 'configured';
  }

  private indexService(key: string, svc: Service, add: boolean): void {
    const ns = svc.metadata?.namespace ?? 'default';
    if (add) this.store.serviceSelectors.add(ns, key, svc.spec?.selector, key);
    else this.store.serviceSelectors.remove(ns, key, svc.spec?.selector);
  }

  private applyReplicaSet(
    input: ReplicaSet,
    ns: string,
    dirty: Dirty,
  ): 'created' | 'configured' | 'unchanged' {
    const name = input.metadata?.name ?? '';
    this.invalid('ReplicaSet', name, validateReplicaSet(input));
    const key = objectKey(ns, name);
    const old = this.store.replicaSets.get(key);
    const rs: ReplicaSet = cloneJson(input);
    if (rs.spec !== undefined) rs.spec = { ...rs.spec, replicas: rs.spec.replicas ?? 1 };
    if (old === undefined) {
      rs.metadata = this.store.stampNew({ ...rs.metadata, generation: 1 }, ns);
      this.store.replicaSets.set(key, rs);
      dirty.replicaSets.add(key);
      return 'created';
    }
    if (JSON.stringify(rs.spec) === JSON.stringify(old.spec) && sameLabels(rs, old)) return 'unchanged';
    rs.metadata = {
      ...this.store.stampUpdate(rs.metadata, old.metadata),
      generation: (old.metadata?.generation ?? 1) + 1,
    };
    writable(rs).status = old.status;
    this.store.replicaSets.set(key, rs);
    dirty.replicaSets.add(key);
    return 'configured';
  }

  private applyDeployment(
    input: Deployment,
    ns: string,
    dirty: Dirty,
  ): 'created' | 'configured' | 'unchanged' {
    const name = input.metadata?.name ?? '';
    this.invalid('Deployment', name, validateDeployment(input));
    const key = objectKey(ns, name);
    const old = this.store.deployments.get(key);
    const d: Deployment = cloneJson(input);
    if (d.spec !== undefined) d.spec = { ...d.spec, replicas: d.spec.replicas ?? 1 };
    if (old === undefined) {
      d.metadata = this.store.stampNew({ ...d.metadata, generation: 1 }, ns);
      this.store.deployments.set(key, d);
      dirty.deployments.add(key);
      return 'created';
    }
    if (JSON.stringify(d.spec) === JSON.stringify(old.spec) && sameLabels(d, old)) return 'unchanged';
    d.metadata = {
      ...this.store.stampUpdate(d.metadata, old.metadata),
      generation: (old.metadata?.generation ?? 1) + 1,
    };
    this.store.deployments.set(key, d);
    dirty.deployments.add(key);
    return 'configured';
  }

  /** DaemonSets and StatefulSets: created, or updated when their spec or labels changed. */
  private applyWorkload(
    kind: 'DaemonSet' | 'StatefulSet',
    input: DaemonSet | StatefulSet,
    ns: string,
    dirty: Dirty,
  ): 'created' | 'configured' | 'unchanged' {
    const name = input.metadata?.name ?? '';
    const key = objectKey(ns, name);
    const map: Map<string, DaemonSet | StatefulSet> =
      kind === 'DaemonSet' ? this.store.daemonSets : this.store.statefulSets;
    this.invalid(
      kind,
      name,
      kind === 'DaemonSet'
        ? validateDaemonSet(input as DaemonSet)
        : validateStatefulSet(input as StatefulSet),
    );
    const old = map.get(key);
    const obj = cloneJson(input);
    if (kind === 'StatefulSet') {
      const sts = obj as StatefulSet;
      if (sts.spec !== undefined) sts.spec.replicas ??= 1;
    }
    const marked = kind === 'DaemonSet' ? dirty.daemonSets : dirty.statefulSets;
    if (old === undefined) {
      obj.metadata = this.store.stampNew({ ...obj.metadata, generation: 1 }, ns);
      map.set(key, obj);
      marked.add(key);
      return 'created';
    }
    if (JSON.stringify(obj.spec) === JSON.stringify(old.spec) && sameLabels(obj, old)) return 'unchanged';
    obj.metadata = {
      ...this.store.stampUpdate(obj.metadata, old.metadata),
      generation: (old.metadata?.generation ?? 1) + 1,
    };
    map.set(key, obj);
    marked.add(key);
    return 'configured';
  }

  private applyPod(input: Pod, ns: string, dirty: Dirty): 'created' | 'unchanged' {
    const name = input.metadata?.name ?? '';
    this.invalid('Pod', name, validatePod(input));
    const key = objectKey(ns, name);
    const old = this.store.pods.get(key);
    if (old !== undefined) {
      if (JSON.stringify(input.spec?.containers) === JSON.stringify(old.spec?.containers)) return 'unchanged';
      throw new InvalidObjectError('Pod', name, [
        {
          type: 'Forbidden',
          field: 'spec',
          detail:
            'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
        },
      ]);
    }
    const pod: Pod = cloneJson(input);
    pod.metadata = this.store.stampNew(pod.metadata, ns);
    startPod(this.store, pod);
    this.markServicesForPod(pod, dirty);
    return 'created';
  }

  /** A user-supplied slice; the Services it is (and was) labelled with are marked changed. */
  private applyEndpointSlice(
    input: EndpointSlice,
    ns: string,
    dirty: Dirty,
  ): 'created' | 'configured' | 'unchanged' {
    const name = input.metadata?.name ?? '';
    this.invalid('EndpointSlice', name, validateEndpointSlice(input));
    const key = objectKey(ns, name);
    const old = this.store.endpointSlices.get(key);
    if (old?.metadata?.labels?.[LABEL_MANAGED_BY] === MANAGED_BY_CONTROLLER) {
      throw new ClusterConfigError(
        `dpsim: endpointslice "${name}" is managed by the EndpointSlice controller; a user edit would be reverted`,
      );
    }
    const slice: EndpointSlice = cloneJson(input);
    slice.endpoints ??= [];
    if (old === undefined) {
      slice.metadata = this.store.stampNew({ ...slice.metadata, generation: 1 }, ns);
      this.store.endpointSlices.set(key, slice);
      this.store.indexUserSlice(key, ns, slice.metadata.labels?.[LABEL_SERVICE_NAME], true);
      this.markSliceService(ns, slice, dirty);
      return 'created';
    }
    if (
      JSON.stringify([slice.endpoints, slice.ports]) === JSON.stringify([old.endpoints, old.ports]) &&
      sameLabels(slice, old)
    ) {
      return 'unchanged';
    }
    slice.metadata = {
      ...this.store.stampUpdate(slice.metadata, old.metadata),
      generation: (old.metadata?.generation ?? 1) + 1,
    };
    this.store.indexUserSlice(key, ns, old.metadata?.labels?.[LABEL_SERVICE_NAME], false);
    this.store.endpointSlices.set(key, slice);
    this.store.indexUserSlice(key, ns, slice.metadata.labels?.[LABEL_SERVICE_NAME], true);
    this.markSliceService(ns, old, dirty);
    this.markSliceService(ns, slice, dirty);
    return 'configured';
  }

  private markSliceService(ns: string, slice: EndpointSlice, dirty: Dirty): void {
    const svc = slice.metadata?.labels?.[LABEL_SERVICE_NAME];
    if (svc !== undefined) dirty.services.add(objectKey(ns, svc));
  }

  // ---------------------------------------------------------------- controllers

  private markServicesForPod(pod: Pod, dirty: Dirty): void {
    const ns = pod.metadata?.namespace ?? 'default';
    for (const svcKey of this.store.serviceSelectors.matchAny(ns, pod.metadata?.labels)) {
      const svc = this.store.services.get(svcKey);
      if (svc !== undefined && matchesMap(svc.spec?.selector, pod.metadata?.labels))
        dirty.services.add(svcKey);
    }
  }

  /** Runs the controllers until nothing is dirty: Deployments → ReplicaSets → pods → EndpointSlices. */
  private reconcile(dirty: Dirty, gracePeriodSeconds: number): void {
    for (const k of dirty.deployments)
      for (const rs of syncDeployment(this.store, k)) dirty.replicaSets.add(rs);
    for (const k of dirty.replicaSets) {
      const ch = syncReplicaSet(this.store, k, gracePeriodSeconds);
      for (const p of ch.created) this.markServicesForPod(p, dirty);
      for (const p of ch.removedOrTerminating) this.markServicesForPod(p, dirty);
    }
    for (const k of dirty.daemonSets) {
      const ch = syncDaemonSet(this.store, k, gracePeriodSeconds);
      for (const p of [...ch.created, ...ch.removedOrTerminating]) this.markServicesForPod(p, dirty);
    }
    for (const k of dirty.statefulSets) {
      const ch = syncStatefulSet(this.store, k, gracePeriodSeconds);
      for (const p of [...ch.created, ...ch.removedOrTerminating]) this.markServicesForPod(p, dirty);
    }
    for (const k of dirty.services) {
      syncServiceSlices(this.store, k);
      this.changes.recordService(k);
    }
    for (const k of dirty.deployments) {
      const d = this.store.deployments.get(k);
      if (d !== undefined) updateDeploymentStatus(this.store, d);
    }
  }

  private ownerReplicaSetKey(pod: Pod): string | undefined {
    const ref = pod.metadata?.ownerReferences?.find((o) => o.controller && o.kind === 'ReplicaSet');
    return ref === undefined ? undefined : objectKey(pod.metadata?.namespace ?? 'default', ref.name);
  }

  /** Marks the controller that owns a pod (ReplicaSet, DaemonSet or StatefulSet) for a sync. */
  private markOwner(pod: Pod, dirty: Dirty): void {
    const ref = pod.metadata?.ownerReferences?.find((o) => o.controller);
    if (ref === undefined) return;
    const key = objectKey(pod.metadata?.namespace ?? 'default', ref.name);
    if (ref.kind === 'ReplicaSet') dirty.replicaSets.add(key);
    else if (ref.kind === 'DaemonSet') dirty.daemonSets.add(key);
    else if (ref.kind === 'StatefulSet') dirty.statefulSets.add(key);
  }

  private ownerDeploymentKey(rs: ReplicaSet): string | undefined {
    const ref = rs.metadata?.ownerReferences?.find((o) => o.controller && o.kind === 'Deployment');
    return ref === undefined ? undefined : objectKey(rs.metadata?.namespace ?? 'default', ref.name);
  }

  private updateWorkloadStatus(pod: Pod): void {
    const ref = pod.metadata?.ownerReferences?.find((o) => o.controller);
    if (ref === undefined) return;
    const key = objectKey(pod.metadata?.namespace ?? 'default', ref.name);
    const ds = ref.kind === 'DaemonSet' ? this.store.daemonSets.get(key) : undefined;
    if (ds !== undefined) updateDaemonSetStatus(this.store, ds);
    const sts = ref.kind === 'StatefulSet' ? this.store.statefulSets.get(key) : undefined;
    if (sts !== undefined) updateStatefulSetStatus(this.store, sts);
  }

  // ---------------------------------------------------------------- events

  /** Applies one event; on success bumps the generation and notifies subscribers. */
  apply(event: ClusterEvent): EventResult {
    if (event.type === 'addService' || event.type === 'addEndpointSlice' || event.type === 'applyObject') {
      return this.applyObjectEvent(event);
    }
    const dirty = newDirty();
    let message: string;
    let grace = 0;
    const fail = (msg: string): EventResult => ({
      ok: false,
      generation: this.gen,
      message: msg,
      changedServices: [],
    });
    switch (event.type) {
      case 'scaleReplicaSet': {
        const key = objectKey(event.namespace ?? 'default', event.name);
        const rs = this.store.replicaSets.get(key);
        if (rs === undefined) return fail(new NotFoundError('replicasets.apps', event.name).message);
        if (!Number.isInteger(event.replicas) || event.replicas < 0) {
          return fail(`replicas must be a non-negative integer, got ${event.replicas}`);
        }
        if (rs.spec !== undefined) rs.spec = { ...rs.spec, replicas: event.replicas };
        if (rs.metadata !== undefined) writable(rs.metadata).generation = (rs.metadata.generation ?? 1) + 1;
        grace = event.gracePeriodSeconds ?? 0;
        dirty.replicaSets.add(key);
        message = `replicaset.apps/${event.name} scaled`;
        break;
      }
      case 'scaleDeployment': {
        const key = objectKey(event.namespace ?? 'default', event.name);
        const d = this.store.deployments.get(key);
        if (d === undefined) return fail(new NotFoundError('deployments.apps', event.name).message);
        if (!Number.isInteger(event.replicas) || event.replicas < 0) {
          return fail(`replicas must be a non-negative integer, got ${event.replicas}`);
        }
        if (d.spec !== undefined) d.spec = { ...d.spec, replicas: event.replicas };
        if (d.metadata !== undefined) writable(d.metadata).generation = (d.metadata.generation ?? 1) + 1;
        grace = event.gracePeriodSeconds ?? 0;
        dirty.deployments.add(key);
        message = `deployment.apps/${event.name} scaled`;
        break;
      }
      case 'deletePod':
      case 'terminatePod': {
        const key = objectKey(event.namespace ?? 'default', event.name);
        const pod = this.store.pods.get(key);
        if (pod === undefined) return fail(new NotFoundError('pods', event.name).message);
        const g =
          event.type === 'deletePod' ? 0 : (event.gracePeriodSeconds ?? DEFAULT_TERMINATION_GRACE_SECONDS);
        terminatePod(this.store, key, g);
        this.markServicesForPod(pod, dirty);
        this.markOwner(pod, dirty);
        message = `pod "${event.name}" deleted`;
        break;
      }
      case 'setPodReady': {
        const key = objectKey(event.namespace ?? 'default', event.name);
        const pod = this.store.pods.get(key);
        if (pod === undefined) return fail(new NotFoundError('pods', event.name).message);
        if (!setPodReady(this.store, key, event.ready)) return fail(`pod "${event.name}" is not running`);
        this.markServicesForPod(pod, dirty);
        const owner = this.ownerReplicaSetKey(pod);
        if (owner !== undefined) {
          const rs = this.store.replicaSets.get(owner);
          if (rs !== undefined) updateReplicaSetStatus(this.store, rs);
        }
        this.updateWorkloadStatus(pod);
        message = `pod/${event.name} ${event.ready ? 'ready' : 'not ready'}`;
        break;
      }
      case 'removeService': {
        const key = objectKey(event.namespace ?? 'default', event.name);
        const svc = this.store.services.get(key);
        if (svc === undefined) return fail(new NotFoundError('services', event.name).message);
        this.store.registry.release(svc);
        this.indexService(key, svc, false);
        this.store.services.delete(key);
        dirty.services.add(key);
        message = `service "${event.name}" deleted`;
        break;
      }
      case 'removeEndpointSlice': {
        const key = objectKey(event.namespace ?? 'default', event.name);
        const slice = this.store.endpointSlices.get(key);
        if (slice === undefined)
          return fail(new NotFoundError('endpointslices.discovery.k8s.io', event.name).message);
        this.store.endpointSlices.delete(key);
        const svcName = slice.metadata?.labels?.[LABEL_SERVICE_NAME];
        this.store.indexUserSlice(key, slice.metadata?.namespace ?? 'default', svcName, false);
        // A controller-managed slice comes straight back: the controller resyncs its Service.
        if (svcName !== undefined) {
          const svcKey = objectKey(slice.metadata?.namespace ?? 'default', svcName);
          this.store.slicesByService.get(svcKey)?.delete(key);
          dirty.services.add(svcKey);
        }
        message = `endpointslice.discovery.k8s.io "${event.name}" deleted`;
        break;
      }
      case 'advanceClock': {
        if (!(event.seconds >= 0)) return fail(`clock can only move forward (got ${event.seconds} s)`);
        this.store.clock.advance(event.seconds * 1000);
        const now = this.store.clock.now();
        for (const [key, deadline] of [...this.store.deletionDeadlines]) {
          if (deadline > now) continue;
          const pod = removePod(this.store, key);
          if (pod === undefined) continue;
          this.markServicesForPod(pod, dirty);
          this.markOwner(pod, dirty);
        }
        message = `clock advanced by ${event.seconds}s`;
        break;
      }
      default: {
        const never: never = event;
        return fail(`unknown event ${JSON.stringify(never)}`);
      }
    }
    this.reconcile(dirty, grace);
    for (const k of dirty.replicaSets) {
      const rs = this.store.replicaSets.get(k);
      const dk = rs === undefined ? undefined : this.ownerDeploymentKey(rs);
      const d = dk === undefined ? undefined : this.store.deployments.get(dk);
      if (d !== undefined) updateDeploymentStatus(this.store, d);
    }
    this.gen++;
    this.notify(event);
    return { ok: true, generation: this.gen, message, changedServices: [...dirty.services].sort() };
  }

  /**
   * Runs the Deployment controller again, as its informers do when pods become available or
   * go away: with paced roll-outs (store.pacedRollouts) that is the next RollingUpdate step.
   * Returns the Services whose endpoints changed.
   */
  resyncDeployments(): string[] {
    const services = new Set<string>();
    const counts = () => [...this.store.replicaSets.values()].map((rs) => rs.spec?.replicas ?? 0).join(',');
    // The controller's informers see its own ReplicaSet updates and sync again, until stable.
    for (let round = 0; round < 16; round++) {
      const before = counts();
      const dirty = newDirty();
      for (const k of this.store.deployments.keys()) dirty.deployments.add(k);
      this.reconcile(dirty, 0);
      for (const k of dirty.replicaSets) {
        const rs = this.store.replicaSets.get(k);
        if (rs !== undefined) updateReplicaSetStatus(this.store, rs);
      }
      for (const k of dirty.services) services.add(k);
      if (counts() === before) break;
    }
    this.gen++;
    return [...services].sort();
  }

  /** `kubectl cordon` / `uncordon`: the scheduler places no new pod on the node. */
  setNodeUnschedulable(name: string, unschedulable: boolean): boolean {
    const node = this.store.nodes.get(name);
    if (node === undefined) return false;
    node.spec = { ...(node.spec ?? {}), unschedulable };
    if (!unschedulable) delete node.spec.unschedulable;
    this.gen++;
    return true;
  }

  /**
   * What the node lifecycle controller does when a node's kubelet has posted nothing for
   * node-monitor-grace-period: Ready becomes Unknown and the node gets the
   * `node.kubernetes.io/unreachable` taints (NoSchedule, NoExecute). Its pods are marked not
   * ready separately (setPodReady), as the controller's MarkPodsNotReady does.
   */
  setNodeUnreachable(name: string): boolean {
    const node = this.store.nodes.get(name);
    if (node === undefined) return false;
    const now = formatTimestamp(this.store.clock.now());
    const conditions = (node.status?.conditions ?? []).filter((c) => c.type !== 'Ready');
    conditions.unshift({
      type: 'Ready',
      status: 'Unknown',
      reason: 'NodeStatusUnknown',
      message: 'Kubelet stopped posting node status.',
      lastHeartbeatTime: node.status?.conditions?.find((c) => c.type === 'Ready')?.lastHeartbeatTime ?? now,
      lastTransitionTime: now,
    });
    writable(node).status = { ...(node.status ?? {}), conditions };
    const taints = (node.spec?.taints ?? []).filter((t) => t.key !== 'node.kubernetes.io/unreachable');
    taints.push(
      { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule', timeAdded: now },
      { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: now },
    );
    node.spec = { ...(node.spec ?? {}), taints };
    this.gen++;
    return true;
  }

  /** addService / addEndpointSlice / applyObject: `applyObject`, which runs its own reconcile. */
  private applyObjectEvent(
    event: Extract<ClusterEvent, { type: 'addService' | 'addEndpointSlice' | 'applyObject' }>,
  ): EventResult {
    const obj: KubeObject =
      event.type === 'addService'
        ? event.service
        : event.type === 'addEndpointSlice'
          ? event.slice
          : event.object;
    const before = this.gen;
    const out = this.applyObject(obj, event.type === 'applyObject' ? (event.source ?? 'event') : 'event');
    if (out.status === 'rejected' || out.status === 'ignored') {
      return { ok: false, generation: this.gen, message: out.message, changedServices: [] };
    }
    // applyObject already bumped the generation for real changes and recorded the Services.
    const result = {
      ok: true,
      generation: this.gen,
      message: out.message,
      changedServices: [...this.lastChangedServices],
    };
    if (this.gen !== before) this.notify(event);
    return result;
  }

  private notify(event: ClusterEvent): void {
    for (const l of this.listeners) l(this.gen, event);
  }

  // ---------------------------------------------------------------- queries

  services(): Service[] {
    return sortedValues(this.store.services);
  }
  pods(): Pod[] {
    return sortedValues(this.store.pods);
  }
  replicaSets(): ReplicaSet[] {
    return sortedValues(this.store.replicaSets);
  }
  deployments(): Deployment[] {
    return sortedValues(this.store.deployments);
  }
  daemonSets(): DaemonSet[] {
    return sortedValues(this.store.daemonSets);
  }
  statefulSets(): StatefulSet[] {
    return sortedValues(this.store.statefulSets);
  }
  endpointSlices(): EndpointSlice[] {
    return sortedValues(this.store.endpointSlices);
  }
  nodes(): Node[] {
    return [...this.store.nodes.values()].sort((a, b) => cmp(a.metadata?.name ?? '', b.metadata?.name ?? ''));
  }
  namespaces(): Namespace[] {
    return [...this.store.namespaces.values()].sort((a, b) =>
      cmp(a.metadata?.name ?? '', b.metadata?.name ?? ''),
    );
  }

  getService(name: string, namespace = 'default'): Service | undefined {
    return this.store.services.get(objectKey(namespace, name));
  }
  getPod(name: string, namespace = 'default'): Pod | undefined {
    return this.store.pods.get(objectKey(namespace, name));
  }

  /** The node's InternalIP. */
  nodeIP(nodeName: string): string {
    return nodeIP(this.store, nodeName);
  }

  /** All slices (controller-managed and user-supplied) labelled with the Service's name. */
  slicesOfService(svc: Service): EndpointSlice[] {
    const ns = svc.metadata?.namespace ?? 'default';
    const name = svc.metadata?.name ?? '';
    const managed = this.store.slicesByService.get(objectKey(ns, name));
    if (managed !== undefined && managesSlices(svc)) {
      // Fast path for controller-managed Services; user slices for them are rare but allowed.
      const out: EndpointSlice[] = [];
      for (const k of managed) {
        const s = this.store.endpointSlices.get(k);
        if (s !== undefined) out.push(s);
      }
      for (const s of this.userSlices(ns, name)) out.push(s);
      return out;
    }
    return this.userSlices(ns, name);
  }

  private userSlices(ns: string, svcName: string): EndpointSlice[] {
    const out: EndpointSlice[] = [];
    for (const k of this.store.userSlicesByService.get(objectKey(ns, svcName)) ?? []) {
      const s = this.store.endpointSlices.get(k);
      if (s !== undefined) out.push(s);
    }
    return out;
  }
}

/** The labels a kubelet puts on its Node when it registers. */
function kubeletNodeLabels(name: string): Record<string, string> {
  return {
    'beta.kubernetes.io/arch': 'amd64',
    'beta.kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    'kubernetes.io/hostname': name,
    'kubernetes.io/os': 'linux',
  };
}

function nodeAddress(node: Node): string | undefined {
  return node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
}

function sameLabels(
  a: { metadata?: { labels?: Record<string, string> } },
  b: { metadata?: { labels?: Record<string, string> } },
): boolean {
  return JSON.stringify(a.metadata?.labels ?? {}) === JSON.stringify(b.metadata?.labels ?? {});
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedValues<T extends { metadata?: { namespace?: string; name?: string } }>(
  m: Map<string, T>,
): T[] {
  return [...m.values()].sort(
    (a, b) =>
      cmp(a.metadata?.namespace ?? '', b.metadata?.namespace ?? '') ||
      cmp(a.metadata?.name ?? '', b.metadata?.name ?? ''),
  );
}
