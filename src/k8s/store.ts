/**
 * The simulated cluster's object store ("etcd"): every API object by kind and namespace/name,
 * the simulated clock, the seeded random streams and the label indexes the controllers use.
 * Controllers and the registry read and write it; `Cluster` is the public face.
 */

import type { DaemonSet, Deployment, ReplicaSet, StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { Namespace, Node, Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import { Rng } from '../util/rng.js';
import { ClusterIPAllocator, LoadBalancerIPPool, NodePortAllocator } from './allocators.js';
import { ClusterIP6Allocator } from './allocators-ipv6.js';
import type { ClusterConfig } from './cluster-config.js';
import { LabelIndex } from './labels.js';
import { NodePodIPAM } from './node-ipam.js';
import { ServiceRegistry } from './service-registry.js';
import type { Writable } from './writable.js';

/** 2025-01-01T00:00:00Z: the default moment the simulated cluster boots. */
export const DEFAULT_START_TIME_MS = Date.UTC(2025, 0, 1, 0, 0, 0);

export function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

let lastStampSecond = Number.NaN;
let lastStampText = '';

/** RFC 3339 with second precision, as the API serializes metav1.Time (memoised: the clock rarely moves). */
export function formatTimestamp(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== lastStampSecond) {
    lastStampSecond = second;
    lastStampText = new Date(second * 1000).toISOString().replace('.000Z', 'Z');
  }
  return lastStampText;
}

export class SimClock {
  constructor(private ms: number) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`clock can only move forward (got ${ms} ms)`);
    this.ms += ms;
  }
}

/** Independent random streams, so adding pods never shifts which ClusterIPs get picked. */
export interface RandomStreams {
  readonly clusterIPs: Rng;
  readonly nodePorts: Rng;
  readonly names: Rng;
  readonly uids: Rng;
}

export class ClusterStore {
  readonly clock: SimClock;
  readonly random: RandomStreams;
  readonly registry: ServiceRegistry;
  readonly namespaces = new Map<string, Namespace>();
  readonly nodes = new Map<string, Node>();
  readonly services = new Map<string, Service>();
  readonly replicaSets = new Map<string, ReplicaSet>();
  readonly deployments = new Map<string, Deployment>();
  readonly daemonSets = new Map<string, DaemonSet>();
  readonly statefulSets = new Map<string, StatefulSet>();
  readonly pods = new Map<string, Pod>();
  readonly endpointSlices = new Map<string, EndpointSlice>();
  /** Pods by label pair (ids are pod keys; each stores its pod). */
  readonly podLabels = new LabelIndex<Pod>();
  /** Services by selector pair (ids are service keys, stored as their own value). */
  readonly serviceSelectors = new LabelIndex<string>();
  /** Managed slice keys per service key. */
  readonly slicesByService = new Map<string, Set<string>>();
  /** User-supplied (not controller-managed) slice keys per service key, from the kubernetes.io/service-name label. */
  readonly userSlicesByService = new Map<string, Set<string>>();
  readonly podIPAM = new Map<string, NodePodIPAM>();
  /** Pods being deleted gracefully: key → time (ms) their grace period ends. */
  readonly deletionDeadlines = new Map<string, number>();
  /** Pod keys per owner (ReplicaSet) uid. */
  readonly podsByOwner = new Map<string, Set<string>>();
  /** Pods bound to each node, for least-loaded placement. */
  readonly podCountByNode = new Map<string, number>();
  /** Creation order of pods (timestamps only have second precision). */
  readonly podSequence = new Map<string, number>();
  /** When each pod last became Ready (ms), for minReadySeconds. */
  readonly readySinceMs = new Map<string, number>();
  /**
   * Pods take time (the rollout engine's kubelet): Deployments roll out step by step within
   * maxSurge/maxUnavailable, and scaled-down pods get their own terminationGracePeriodSeconds.
   * Off, a roll-out happens in one step and scale-downs use the event's grace period.
   */
  pacedRollouts = false;
  private podCounter = 0;
  private resourceVersion = 1000;

  constructor(
    readonly config: ClusterConfig,
    seed: number,
    startTimeMs: number,
  ) {
    this.clock = new SimClock(startTimeMs);
    const root = new Rng(seed);
    this.random = { clusterIPs: root.fork(), nodePorts: root.fork(), names: root.fork(), uids: root.fork() };
    this.registry = new ServiceRegistry(
      new ClusterIPAllocator(config.serviceCIDR, this.random.clusterIPs),
      new NodePortAllocator(config.serviceNodePortRange, this.random.nodePorts),
      new LoadBalancerIPPool(config.loadBalancerIPPool),
      // The IPv6 range draws from its own stream, so a dual-stack cluster's IPv4 allocations
      // stay those of the same seed's single-stack cluster.
      config.ipv6 === undefined ? null : new ClusterIP6Allocator(config.ipv6.serviceCIDR, root.fork()),
    );
  }

  nextPodSequence(): number {
    return ++this.podCounter;
  }

  nextResourceVersion(): string {
    this.resourceVersion++;
    return String(this.resourceVersion);
  }

  /** A random RFC 4122 version-4 style UID drawn from the seeded stream. */
  newUid(): string {
    const r = this.random.uids;
    const hex = (n: number, len: number) => n.toString(16).padStart(len, '0').slice(-len);
    const a = r.nextU32();
    const b = r.nextU32();
    const c = r.nextU32();
    const d = r.nextU32();
    return `${hex(a, 8)}-${hex(b >>> 16, 4)}-4${hex(b & 0xfff, 3)}-${hex(0x8000 | (c >>> 18), 4)}-${hex(c & 0xffff, 4)}${hex(d, 8)}`;
  }

  /** Server-side metadata for a newly created object. */
  stampNew(meta: ObjectMeta | undefined, namespace: string | undefined): ObjectMeta {
    const m: Writable<ObjectMeta> = { ...(meta ?? {}) };
    if (namespace !== undefined) m.namespace = namespace;
    m.uid = this.newUid();
    m.resourceVersion = this.nextResourceVersion();
    m.creationTimestamp = formatTimestamp(this.clock.now());
    return m;
  }

  /** Metadata for an updated object: identity and creation time are kept. */
  stampUpdate(meta: ObjectMeta | undefined, old: ObjectMeta | undefined): ObjectMeta {
    return {
      ...(meta ?? {}),
      namespace: old?.namespace,
      uid: old?.uid,
      creationTimestamp: old?.creationTimestamp,
      resourceVersion: this.nextResourceVersion(),
    };
  }

  /** Records or forgets a user-supplied slice under the Service its label names. */
  indexUserSlice(sliceKey: string, namespace: string, serviceName: string | undefined, add: boolean): void {
    if (serviceName === undefined) return;
    const svcKey = objectKey(namespace, serviceName);
    let set = this.userSlicesByService.get(svcKey);
    if (add) {
      if (set === undefined) {
        set = new Set();
        this.userSlicesByService.set(svcKey, set);
      }
      set.add(sliceKey);
    } else if (set !== undefined) {
      set.delete(sliceKey);
      if (set.size === 0) this.userSlicesByService.delete(svcKey);
    }
  }

  private slots: { readonly name: string; readonly ipam: NodePodIPAM }[] | undefined;

  /** Nodes in cluster order with their pod IPAM, for the scheduler's scan. */
  nodeSlots(): readonly { readonly name: string; readonly ipam: NodePodIPAM }[] {
    if (this.slots === undefined) {
      this.slots = [];
      for (const name of this.nodes.keys()) {
        const ipam = this.ipamFor(name);
        if (ipam !== undefined) this.slots.push({ name, ipam });
      }
    }
    return this.slots;
  }

  /** Call after adding a node. */
  nodesChanged(): void {
    this.slots = undefined;
  }

  ipamFor(nodeName: string): NodePodIPAM | undefined {
    let ipam = this.podIPAM.get(nodeName);
    if (ipam === undefined) {
      const podCIDR = this.nodes.get(nodeName)?.spec?.podCIDR;
      if (podCIDR === undefined) return undefined;
      ipam = new NodePodIPAM(podCIDR);
      this.podIPAM.set(nodeName, ipam);
    }
    return ipam;
  }
}
