/**
 * Issue 5: the four proxy modes against one another. fast-check generates small cluster
 * states (1–3 selector-less Services of every type and traffic policy, each with a user
 * EndpointSlice of 0–4 endpoints in any condition, on pods pinned to the 3 nodes) and
 * requests (client → NodePort / LB VIP, node or pod → ClusterIP). Every request runs in
 * every mode on the same state; each answer is compared with kube-proxy's semantics,
 * computed here by `kubeProxyEligibility` — kube-proxy's CategorizeEndpoints rules restated
 * in this file, not dpsim's `categorizeEndpoints` that all four compilers call (an oracle that
 * shared that code would agree with any bug in it) — adjusted only by the differences the real
 * modes have by design (each named in `deviations` below and shown by an example test).
 *
 * User EndpointSlices rather than Deployments: they give direct control over every
 * endpoint's conditions (ready / serving / terminating) and node, which pods do not (a pod
 * starts Ready and only turns Terminating through a delete with a grace period).
 *
 * Both families: a state may be dual-stack (`--dual-stack`'s cluster, PreferDualStack
 * Services, an IPv6 EndpointSlice twin of each IPv4 one), and then each request goes over
 * IPv4 or IPv6 — to the node's IPv6 address and NodePort, or the IPv6 ClusterIP — through
 * each mode's IPv6 form, against the same kube-proxy semantics. The IPv6 requests leave out
 * one kind: a load-balancer VIP (dpsim's LoadBalancer allocator gives IPv4 VIPs only; such a
 * request goes to the NodePort instead).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CiliumConfig, parseCiliumValues } from '../../src/config/cilium-values.js';
import { applyManifests, type Cluster, loadManifests } from '../../src/k8s/index.js';
import type { Endpoint, ServicePort } from '../../src/proxy/common/model.js';
import { ipv6Model } from '../../src/sim/ipv6-rules.js';
import type { Simulation } from '../../src/sim/simulation.js';
import { cidrContains, parseCidr, parseIPv4 } from '../../src/util/ipv4.js';
import { TcpFlag } from '../../src/wire/tcp.js';
import {
  buildSmall,
  CLIENT_IP,
  capturedFrames,
  type Frame,
  framesOf,
  MODES,
  NODE_IPS,
  NODE_NAMES,
  type Observed,
  observe,
  podIP,
  splitPeer,
  type WiredMode,
} from './harness.js';

// ------------------------------------------------------------------ generated state

const CONDITIONS = ['ready', 'unready', 'terminating-serving', 'terminating-not-serving'] as const;
type Condition = (typeof CONDITIONS)[number];
/** EndpointSlice conditions of each class (ready = serving && !terminating, as for pods). */
const CONDITION_FIELDS: Record<Condition, { ready: boolean; serving: boolean; terminating: boolean }> = {
  ready: { ready: true, serving: true, terminating: false },
  unready: { ready: false, serving: false, terminating: false },
  'terminating-serving': { ready: false, serving: true, terminating: true },
  'terminating-not-serving': { ready: false, serving: false, terminating: true },
};

/** loadBalancerSourceRanges: none, one containing the client, or one that does not (pods only). */
const SOURCE_RANGES = { none: [], 'client-inside': ['192.168.100.0/24'], 'client-outside': ['10.0.0.0/8'] };
type SourceRanges = keyof typeof SOURCE_RANGES;

interface EndpointSpec {
  readonly node: number;
  readonly condition: Condition;
}

interface ServiceSpec {
  readonly type: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  readonly externalTrafficPolicy: 'Cluster' | 'Local';
  readonly internalTrafficPolicy: 'Cluster' | 'Local';
  readonly sourceRanges: SourceRanges;
  readonly endpoints: readonly EndpointSpec[];
}

type RequestKind = 'nodePort' | 'loadBalancer' | 'clusterIPFromNode' | 'clusterIPFromPod';

interface RequestSpec {
  readonly service: number;
  readonly kind: RequestKind;
  /** Index of the node the request enters (NodePort) or starts on (node, pod); unused for the LB VIP. */
  readonly node: number;
  /** The address family the request uses (6 only on a dual-stack state). */
  readonly family: 4 | 6;
}

const nodeIndex = fc.integer({ min: 0, max: NODE_NAMES.length - 1 });

const serviceSpec: fc.Arbitrary<ServiceSpec> = fc.record({
  type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer'),
  externalTrafficPolicy: fc.constantFrom('Cluster', 'Local'),
  internalTrafficPolicy: fc.constantFrom('Cluster', 'Local'),
  sourceRanges: fc.constantFrom<SourceRanges>('none', 'client-inside', 'client-outside'),
  endpoints: fc.array(fc.record({ node: nodeIndex, condition: fc.constantFrom(...CONDITIONS) }), {
    maxLength: 4,
  }),
});

const requestSpec: fc.Arbitrary<RequestSpec> = fc.record({
  service: fc.nat(),
  kind: fc.constantFrom<RequestKind>('nodePort', 'loadBalancer', 'clusterIPFromNode', 'clusterIPFromPod'),
  node: nodeIndex,
  family: fc.constantFrom<4 | 6>(4, 6),
});

/**
 * A request the Service can take: NodePort needs a node port, the VIP a LoadBalancer; an IPv6
 * request needs a dual-stack state, and goes to the NodePort for the VIP (see the header).
 */
function applicable(services: readonly ServiceSpec[], r: RequestSpec, dualStack: boolean): RequestSpec {
  const service = r.service % services.length;
  const type = services[service].type;
  const family = dualStack ? r.family : 4;
  let kind = r.kind;
  if (family === 6 && kind === 'loadBalancer') kind = 'nodePort';
  if ((kind === 'nodePort' && type === 'ClusterIP') || (kind === 'loadBalancer' && type !== 'LoadBalancer'))
    kind = 'clusterIPFromPod';
  return { service, kind, node: r.node, family };
}

const svcName = (i: number) => `svc${i}`;
const endpointPod = (i: number, j: number) => `svc${i}-ep${j}`;
const clientPod = (node: number) => `client-${NODE_NAMES[node]}`;

/**
 * The cluster of a generated state, in two applies as a user would do it: the pods first
 * (their IPs are the apiserver's to choose), then the Services and their EndpointSlices
 * naming those IPs.
 */
function buildCluster(services: readonly ServiceSpec[], dualStack = false): Cluster {
  const pods: string[] = NODE_NAMES.map(
    (n, k) => `apiVersion: v1
kind: Pod
metadata: { name: ${clientPod(k)} }
spec:
  nodeName: ${n}
  containers: [{ name: curl, image: curl:8 }]`,
  );
  services.forEach((s, i) => {
    s.endpoints.forEach((e, j) => {
      pods.push(`apiVersion: v1
kind: Pod
metadata: { name: ${endpointPod(i, j)}, labels: { app: backend } }
spec:
  nodeName: ${NODE_NAMES[e.node]}
  containers: [{ name: web, image: hello-world-web:1.0, ports: [{ containerPort: 8080 }] }]`);
    });
  });
  const loaded = loadManifests(pods.join('\n---\n'), { seed: 7, ...(dualStack ? { dualStack } : {}) });
  if (loaded.rejected) throw new Error(loaded.outcomes.map((o) => o.message).join('\n'));
  const cluster = loaded.cluster;

  const objects: string[] = [];
  services.forEach((s, i) => {
    const external = s.type !== 'ClusterIP';
    const ranges = s.type === 'LoadBalancer' ? SOURCE_RANGES[s.sourceRanges] : [];
    objects.push(`apiVersion: v1
kind: Service
metadata: { name: ${svcName(i)} }
spec:
  type: ${s.type}
  internalTrafficPolicy: ${s.internalTrafficPolicy}
${external ? `  externalTrafficPolicy: ${s.externalTrafficPolicy}\n` : ''}${ranges.length > 0 ? `  loadBalancerSourceRanges: [${ranges.join(', ')}]\n` : ''}${dualStack ? '  ipFamilyPolicy: PreferDualStack\n' : ''}  ports: [{ port: 80, targetPort: 8080 }]`);
    // One user EndpointSlice per address family, the same endpoints in each.
    for (const family of dualStack ? (['IPv4', 'IPv6'] as const) : (['IPv4'] as const)) {
      const endpoints = s.endpoints.map((e, j) => {
        const c = CONDITION_FIELDS[e.condition];
        const ip = cluster
          .getPod(endpointPod(i, j))
          ?.status?.podIPs?.find((a) => a.ip?.includes(':') === (family === 'IPv6'))?.ip;
        if (ip === undefined) throw new Error(`pod ${endpointPod(i, j)} got no ${family} address`);
        return `  - addresses: ["${ip}"]
    nodeName: ${NODE_NAMES[e.node]}
    conditions: { ready: ${c.ready}, serving: ${c.serving}, terminating: ${c.terminating} }
    targetRef: { kind: Pod, name: ${endpointPod(i, j)} }`;
      });
      objects.push(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${svcName(i)}-user${family === 'IPv6' ? '-v6' : ''}, labels: { kubernetes.io/service-name: ${svcName(i)} } }
addressType: ${family}
ports: [{ port: 8080, protocol: TCP }]
endpoints:${endpoints.length === 0 ? ' []' : `\n${endpoints.join('\n')}`}`);
    }
  });
  const outcomes = applyManifests(cluster, objects.join('\n---\n'));
  const rejected = outcomes.filter((o) => o.status === 'rejected');
  if (rejected.length > 0) throw new Error(rejected.map((o) => o.message).join('\n'));
  return cluster;
}

// ------------------------------------------------------------------ the oracle's own eligibility rules

/**
 * kube-proxy's endpoint eligibility (pkg/proxy/topology.go CategorizeEndpoints and
 * ServicePort's UsesClusterEndpoints / UsesLocalEndpoints, no topology hints), restated
 * independently of src/proxy/common/categorize.ts:
 * - a port is externally accessible with a NodePort, a load-balancer VIP or an external IP;
 *   externalTrafficPolicy Local only counts for such a port;
 * - the cluster set is used unless internalTrafficPolicy is Local and the port is not
 *   externally accessible; the local set when either policy is Local;
 * - each set holds its scope's ready endpoints or, when none is ready, its serving and
 *   terminating ones (ProxyTerminatingEndpoints);
 * - "has any endpoints" (REJECT vs DROP) means some endpoint anywhere is ready, or serving
 *   and terminating.
 */
interface Eligibility {
  readonly cluster: readonly Endpoint[] | null;
  readonly local: readonly Endpoint[] | null;
  readonly hasAnyEndpoints: boolean;
  readonly externalLocal: boolean;
  readonly internalLocal: boolean;
}

function kubeProxyEligibility(sp: ServicePort, nodeName: string): Eligibility {
  const externallyAccessible =
    sp.nodePort !== 0 || sp.loadBalancerIPs.length > 0 || sp.externalIPs.length > 0;
  const externalLocal = sp.externalTrafficPolicy === 'Local' && externallyAccessible;
  const internalLocal = sp.internalTrafficPolicy === 'Local';
  const servingTerminating = (e: Endpoint) => !e.ready && e.serving && e.terminating;
  const readyElseTerminating = (eps: readonly Endpoint[]) =>
    eps.some((e) => e.ready) ? eps.filter((e) => e.ready) : eps.filter(servingTerminating);
  return {
    cluster: !internalLocal || externallyAccessible ? readyElseTerminating(sp.endpoints) : null,
    local:
      internalLocal || externalLocal
        ? readyElseTerminating(sp.endpoints.filter((e) => e.nodeName === nodeName))
        : null,
    hasAnyEndpoints: sp.endpoints.some((e) => e.ready || servingTerminating(e)),
    externalLocal,
    internalLocal,
  };
}

// ------------------------------------------------------------------ expectations

type Outcome = 'delivered' | 'refused' | 'dropped';
/** Who the serving pod sees as its peer: the caller itself, or the ingress node's address. */
type SourceSeen = 'caller' | 'ingress-node';

/** What kube-proxy's rules make of one request (iptables mode is its reference implementation). */
interface Expectation {
  readonly outcome: Outcome;
  /** A second outcome tolerated where dpsim is known to differ from the real tool (reported). */
  readonly alsoAccepted?: Outcome;
  /** Endpoints allowed to serve (delivered), or to receive the SYN (IPVS' Local fallback). */
  readonly eligible: readonly Endpoint[];
  /** Where `eligible` was drawn from: every node's endpoints, or the ingress node's. */
  readonly scope?: 'cluster' | 'local';
  readonly source?: SourceSeen;
}

interface RequestContext {
  readonly spec: RequestSpec;
  /** The Service port in the request's family's model (its endpoints are the same in both). */
  readonly sp: ServicePort;
  /** Node whose rules decide: the node called (NodePort), node1 for the VIP (the client's route), the caller's node. */
  readonly ingressNode: string;
  /** That node's address in the request's family. */
  readonly ingressNodeIP: string;
  readonly external: boolean;
}

/** A node's address in `family` (its IPv6 one on a dual-stack state). */
function nodeAddress(sim: Simulation, node: number, family: 4 | 6): string {
  return family === 4 ? NODE_IPS[node] : sim.cluster.config.ipv6!.nodes.get(NODE_NAMES[node])!.ip;
}

/** A pod's address in `family`. */
function podAddress(sim: Simulation, pod: string, family: 4 | 6): string {
  if (family === 4) return podIP(sim, pod);
  const ip = sim.cluster.getPod(pod)?.status?.podIPs?.find((a) => a.ip?.includes(':'))?.ip;
  if (ip === undefined) throw new Error(`pod ${pod} has no IPv6 address`);
  return ip;
}

/** An address as a URL host: IPv6 in brackets. */
function urlHost(addr: string): string {
  return addr.includes(':') ? `[${addr}]` : addr;
}

/** The request goes to an LB VIP whose loadBalancerSourceRanges leave the client out. */
function outsideSourceRanges(ctx: RequestContext): boolean {
  const ranges = ctx.sp.loadBalancerSourceRanges;
  return (
    ctx.spec.kind === 'loadBalancer' &&
    ranges.length > 0 &&
    !ranges.some((r) => cidrContains(parseCidr(r), parseIPv4(CLIENT_IP)))
  );
}

/** kube-proxy (pkg/proxy/iptables, and nftables alike), from CategorizeEndpoints on the ingress node. */
function kubeProxyExpectation(ctx: RequestContext): Expectation {
  const { sp, spec } = ctx;
  const cat = kubeProxyEligibility(sp, ctx.ingressNode);
  // No endpoints anywhere ⇒ filter-table REJECT ("has no endpoints"); endpoints elsewhere
  // but none usable under a Local policy ⇒ DROP ("has no local endpoints").
  const empty = (local: boolean): Expectation => ({
    outcome: local && cat.hasAnyEndpoints ? 'dropped' : 'refused',
    eligible: [],
  });
  if (ctx.external) {
    // KUBE-FW (and its KUBE-PROXY-FIREWALL DROP) exists only when the Service has endpoints.
    if (outsideSourceRanges(ctx) && cat.hasAnyEndpoints) return { outcome: 'dropped', eligible: [] };
    const local = cat.externalLocal;
    const set = (local ? cat.local : cat.cluster) ?? [];
    if (set.length === 0) return empty(local);
    return {
      outcome: 'delivered',
      eligible: set,
      scope: local ? 'local' : 'cluster',
      source: local ? 'caller' : 'ingress-node',
    };
  }
  const local = cat.internalLocal;
  const set = (local ? cat.local : cat.cluster) ?? [];
  if (set.length === 0) return empty(local);
  // From a pod: no masquerade (the source is inside --cluster-cidr). From the node: masqueraded.
  return {
    outcome: 'delivered',
    eligible: set,
    scope: local ? 'local' : 'cluster',
    source: spec.kind === 'clusterIPFromPod' ? 'caller' : 'ingress-node',
  };
}

/**
 * The differences the real modes have by design, relative to kube-proxy's iptables rules.
 * Each returns the adjusted expectation, or null when it does not apply.
 */
const deviations = {
  /**
   * kube-proxy IPVS: a Local policy with no local endpoint falls back to the cluster
   * endpoints (PR #97081; syncEndpoint in pkg/proxy/ipvs/proxier.go). Pods and nodes get served; an external client's SYN reaches a
   * remote pod unmasqueraded, whose reply goes straight back from the pod's own address,
   * so curl times out.
   */
  ipvsLocalFallsBackToCluster(mode: WiredMode, ctx: RequestContext, base: Expectation): Expectation | null {
    if (mode !== 'ipvs' || base.outcome !== 'dropped' || base.eligible.length > 0) return null;
    const cat = kubeProxyEligibility(ctx.sp, ctx.ingressNode);
    const local = ctx.external ? cat.externalLocal : cat.internalLocal;
    if (!local || !cat.hasAnyEndpoints || outsideSourceRanges(ctx)) return null;
    // syncEndpoint takes `clusterEndpoints` as they are: CategorizeEndpoints leaves them nil for
    // an iTP=Local Service that is not externally accessible, so its virtual server has no real
    // server and the kernel answers port unreachable (ip_vs_leave).
    const cluster = cat.cluster ?? [];
    if (cluster.length === 0) return { outcome: 'refused', eligible: [] };
    if (ctx.external) return { outcome: 'dropped', eligible: cluster, scope: 'cluster' };
    return {
      outcome: 'delivered',
      eligible: cluster,
      scope: 'cluster',
      source: ctx.spec.kind === 'clusterIPFromPod' ? 'caller' : 'ingress-node',
    };
  },
  /**
   * nftables (and IPVS) check loadBalancerSourceRanges whether or not the Service has
   * endpoints: nftables' `firewall-ips` element exists whenever the Service has LB VIPs and
   * source ranges (iptables' KUBE-FW only with endpoints) and runs pre-DNAT, before the
   * no-endpoint reject; so a client outside the ranges is dropped where iptables refuses.
   */
  sourceRangesBeforeEndpoints(mode: WiredMode, ctx: RequestContext, base: Expectation): Expectation | null {
    if ((mode !== 'nftables' && mode !== 'ipvs') || base.outcome !== 'refused' || !outsideSourceRanges(ctx))
      return null;
    return { outcome: 'dropped', eligible: [] };
  },
  /**
   * A node's own connect() to a ClusterIP whose frontend has no backend (none at all, or
   * none local under internalTrafficPolicy Local): Cilium's socket-LB fails the connect()
   * at once with EHOSTUNREACH and no SYN is sent, so curl exits 7 where kube-proxy's modes
   * refuse with an ICMP or let the SYN be dropped.
   */
  ebpfHostConnectWithoutBackends(
    mode: WiredMode,
    ctx: RequestContext,
    base: Expectation,
  ): Expectation | null {
    if (mode !== 'ebpf' || ctx.spec.kind !== 'clusterIPFromNode' || base.outcome === 'delivered') return null;
    return { outcome: 'refused', eligible: [] };
  },
  /**
   * Cilium-style eBPF (`serviceNoBackendResponse: reject`, its default): a frontend without a
   * backend in the scope asked (none at all, or none local under a Local policy) is answered
   * with ICMP port unreachable by tail_no_service_ipv4, where kube-proxy refuses only when
   * the Service has no endpoints and drops under a Local policy; its source-range check runs
   * first, so a client outside the ranges is dropped even without endpoints.
   */
  ebpfRejectsWithoutBackends(mode: WiredMode, ctx: RequestContext, base: Expectation): Expectation | null {
    if (mode !== 'ebpf') return null;
    if (base.outcome === 'refused')
      return outsideSourceRanges(ctx) ? { outcome: 'dropped', eligible: [] } : null;
    if (base.outcome !== 'dropped' || base.eligible.length > 0 || outsideSourceRanges(ctx)) return null;
    const cat = kubeProxyEligibility(ctx.sp, ctx.ingressNode);
    const local = ctx.external ? cat.externalLocal : cat.internalLocal;
    if (!local) return null;
    return { outcome: 'refused', eligible: [] };
  },
};

function expectationFor(mode: WiredMode, ctx: RequestContext): Expectation {
  const base = kubeProxyExpectation(ctx);
  return (
    deviations.ipvsLocalFallsBackToCluster(mode, ctx, base) ??
    deviations.sourceRangesBeforeEndpoints(mode, ctx, base) ??
    deviations.ebpfHostConnectWithoutBackends(mode, ctx, base) ??
    deviations.ebpfRejectsWithoutBackends(mode, ctx, base) ??
    base
  );
}

/**
 * The source the pod should see once the backend is known. eBPF (Cilium SNAT mode) only
 * masquerades NodePort/LB traffic it forwards to another node: a backend on the ingress
 * node sees the client's own address even under externalTrafficPolicy Cluster.
 */
function expectedSource(mode: WiredMode, ctx: RequestContext, e: Expectation, served: Endpoint): SourceSeen {
  if (
    mode === 'ebpf' &&
    ctx.external &&
    !kubeProxyEligibility(ctx.sp, ctx.ingressNode).externalLocal &&
    served.nodeName === ctx.ingressNode
  )
    return 'caller';
  return e.source!;
}

// ------------------------------------------------------------------ running requests

function requestContext(sim: Simulation, spec: RequestSpec): RequestContext {
  const model = spec.family === 4 ? sim.model : ipv6Model(sim.cluster);
  const sp = model.servicePorts.find((s) => s.name === svcName(spec.service));
  if (sp === undefined) throw new Error(`no ${svcName(spec.service)} in the IPv${spec.family} model`);
  const ingress = spec.kind === 'loadBalancer' ? 0 : spec.node;
  return {
    spec,
    sp,
    ingressNode: NODE_NAMES[ingress],
    ingressNodeIP: nodeAddress(sim, ingress, spec.family),
    external: spec.kind === 'nodePort' || spec.kind === 'loadBalancer',
  };
}

const CONNECT_TIMEOUT_MS = 2000;

function send(sim: Simulation, ctx: RequestContext): Observed {
  const { sp, spec } = ctx;
  const [from, url] =
    spec.kind === 'nodePort'
      ? ['client', `http://${urlHost(ctx.ingressNodeIP)}:${sp.nodePort}/`]
      : spec.kind === 'loadBalancer'
        ? ['client', `http://${sp.loadBalancerIPs[0]}/`]
        : spec.kind === 'clusterIPFromNode'
          ? [NODE_NAMES[spec.node], `http://${urlHost(sp.clusterIP)}/`]
          : [`pod/${clientPod(spec.node)}`, `http://${urlHost(sp.clusterIP)}/`];
  return observe(sim, { from, url, connectTimeoutMs: CONNECT_TIMEOUT_MS });
}

function outcomeOf(o: Observed): Outcome {
  switch (o.outcome.exitCode) {
    case 0:
      return 'delivered';
    case 7:
      return 'refused';
    case 28:
      return 'dropped';
    default:
      throw new Error(`unexpected curl exit ${o.outcome.exitCode}: ${o.outcome.stderr}`);
  }
}

function callerAddress(sim: Simulation, ctx: RequestContext): string {
  const family = ctx.spec.family;
  if (ctx.spec.kind === 'clusterIPFromPod') return podAddress(sim, clientPod(ctx.spec.node), family);
  if (ctx.spec.kind === 'clusterIPFromNode') return nodeAddress(sim, ctx.spec.node, family);
  return family === 4 ? CLIENT_IP : sim.cluster.config.ipv6!.clientIP;
}

/** Frames seen on endpoint pods' own interfaces during the request. */
function endpointPodFrames(frames: readonly Frame[]): Frame[] {
  return frames.filter((f) => /^svc\d+-ep\d+\/eth0$/.test(f.iface));
}

function podOfFrame(f: Frame): string {
  return f.iface.slice(0, -'/eth0'.length);
}

/** What one mode did with one request, in the terms the modes are compared on. */
interface Verdict {
  readonly outcome: Outcome;
  readonly source?: SourceSeen;
}

/**
 * Checks one request's run in one mode against its expectation and returns the verdict
 * (outcome + source) for the cross-mode comparison.
 */
function check(sim: Simulation, mode: WiredMode, ctx: RequestContext, o: Observed, frames: Frame[]): Verdict {
  const want = expectationFor(mode, ctx);
  const label = `${mode}: ${o.request.from} → ${o.request.url} (${ctx.sp.name}, ingress ${ctx.ingressNode}, IPv${ctx.spec.family})`;
  const outcome = outcomeOf(o);
  expect([want.outcome, want.alsoAccepted], `${label}: ${o.outcome.stderr}`).toContain(outcome);
  const mine = framesOf(frames, o);
  const podFrames = endpointPodFrames(mine);
  // One connection, one backend: every frame that reached an endpoint pod reached the same one.
  const pods = new Set(podFrames.map(podOfFrame));
  expect(pods.size, `${label}: pods that saw frames ${[...pods]}`).toBeLessThanOrEqual(1);
  const eligiblePods = want.eligible.map((e) => e.podName);
  if (outcome !== 'delivered') {
    // Refused or dropped before any backend — except IPVS' fallback, whose SYN reaches an eligible pod.
    for (const p of pods) expect(eligiblePods, `${label}: ${p} got frames`).toContain(p);
    if (want.eligible.length === 0) expect(pods.size, label).toBe(0);
    return { outcome };
  }
  const served = o.outcome.servedBy;
  expect(served, label).toBeDefined();
  expect([...pods], label).toEqual([served!.pod]);
  // Served by an eligible endpoint, which is ready — or serving-terminating when no endpoint
  // of that scope is ready (ProxyTerminatingEndpoints).
  expect(eligiblePods, label).toContain(served!.pod);
  const endpoint = ctx.sp.endpoints.find((e) => e.podName === served!.pod)!;
  const scope =
    want.scope === 'cluster'
      ? ctx.sp.endpoints
      : ctx.sp.endpoints.filter((e) => e.nodeName === ctx.ingressNode);
  if (!endpoint.ready) {
    expect(endpoint.serving && endpoint.terminating, label).toBe(true);
    expect(
      scope.some((e) => e.ready),
      label,
    ).toBe(false);
  }
  // The pod's view of the connection: a single peer, the caller itself or the ingress node.
  const [peerAddr, peerPort] = splitPeer(served!.peer);
  const ip = podAddress(sim, served!.pod, ctx.spec.family);
  const peers = new Set(podFrames.map((f) => (f.dst === ip ? `${f.src}:${f.sport}` : `${f.dst}:${f.dport}`)));
  expect([...peers], label).toEqual([`${peerAddr}:${peerPort}`]);
  expect(
    podFrames.some((f) => f.tcpFlags === TcpFlag.SYN),
    label,
  ).toBe(true);
  const caller = callerAddress(sim, ctx);
  // (A node's own address is its ingress address: node callers always read 'ingress-node'.)
  const seen: SourceSeen | string =
    peerAddr === ctx.ingressNodeIP
      ? 'ingress-node'
      : peerAddr === caller && peerPort === o.outcome.localPort
        ? 'caller'
        : served!.peer;
  const source = expectedSource(mode, ctx, want, endpoint);
  expect(seen, `${label}: pod saw ${served!.peer}`).toBe(source);
  // Reverse NAT: every frame the caller received came from the address and port it called.
  // (A node's own connections are un-NATed inside its stack, off the wire; that curl
  // connected to the ClusterIP and succeeded is the check there.)
  if (ctx.spec.kind !== 'clusterIPFromNode') {
    const iface = ctx.spec.kind === 'clusterIPFromPod' ? `${clientPod(ctx.spec.node)}/eth0` : 'client/eth0';
    const replies = mine.filter((f) => f.iface === iface && f.dst === caller);
    expect(replies.length, label).toBeGreaterThanOrEqual(3);
    for (const f of replies)
      expect([f.src, f.sport, f.dport], label).toEqual([o.target.addr, o.target.port, o.outcome.localPort]);
  }
  return { outcome, source: seen as SourceSeen };
}

/** Undoes the documented differences, so every mode's verdict reads in kube-proxy's terms. */
function asKubeProxy(mode: WiredMode, ctx: RequestContext, v: Verdict): Verdict {
  const base = kubeProxyExpectation(ctx);
  for (const deviation of Object.values(deviations))
    if (deviation(mode, ctx, base) !== null) return { outcome: base.outcome };
  if (
    v.outcome === 'delivered' &&
    mode === 'ebpf' &&
    ctx.external &&
    !kubeProxyEligibility(ctx.sp, ctx.ingressNode).externalLocal
  )
    return { outcome: v.outcome, source: base.source! };
  return v;
}

interface ModeRun {
  readonly sim: Simulation;
  readonly runs: readonly { readonly ctx: RequestContext; readonly o: Observed }[];
}

/** The same state and the same requests, in each of the four modes. */
function runEveryMode(
  services: readonly ServiceSpec[],
  requests: readonly RequestSpec[],
  seed: number,
  cilium?: CiliumConfig,
  dualStack = false,
): Map<WiredMode, ModeRun> {
  const cluster = buildCluster(services, dualStack);
  const specs = requests.map((r) => applicable(services, r, dualStack));
  const out = new Map<WiredMode, ModeRun>();
  for (const mode of MODES) {
    const sim = buildSmall({ cluster, mode, seed, ...(cilium !== undefined ? { cilium } : {}) });
    const runs = specs.map((spec) => {
      const ctx = requestContext(sim, spec);
      return { ctx, o: send(sim, ctx) };
    });
    out.set(mode, { sim, runs });
  }
  return out;
}

/**
 * The expectations read the model dpsim's control plane built; first make sure it holds the
 * generated endpoints with their conditions and nodes, so the comparison does not merely
 * follow a misread EndpointSlice.
 */
function expectModelMatchesSpec(sim: Simulation, services: readonly ServiceSpec[], dualStack: boolean): void {
  for (const model of dualStack ? [sim.model, ipv6Model(sim.cluster)] : [sim.model])
    expectServicePortsMatchSpec(model.servicePorts, services);
}

function expectServicePortsMatchSpec(
  servicePorts: readonly ServicePort[],
  services: readonly ServiceSpec[],
): void {
  services.forEach((s, i) => {
    const sp = servicePorts.find((p) => p.name === svcName(i));
    const got = (sp?.endpoints ?? []).map((e) => ({
      pod: e.podName,
      node: e.nodeName,
      ready: e.ready,
      serving: e.serving,
      terminating: e.terminating,
    }));
    const want = s.endpoints.map((e, j) => ({
      pod: endpointPod(i, j),
      node: NODE_NAMES[e.node],
      ...CONDITION_FIELDS[e.condition],
    }));
    const byPod = (a: { pod: string }, b: { pod: string }) => (a.pod < b.pod ? -1 : 1);
    expect(got.sort(byPod), svcName(i)).toEqual(want.sort(byPod));
  });
}

function runState(
  services: readonly ServiceSpec[],
  requests: readonly RequestSpec[],
  seed: number,
  dualStack: boolean,
): void {
  const verdicts = new Map<WiredMode, Verdict[]>();
  for (const [mode, { sim, runs }] of runEveryMode(services, requests, seed, undefined, dualStack)) {
    if (mode === MODES[0]) expectModelMatchesSpec(sim, services, dualStack);
    const frames = capturedFrames(sim);
    verdicts.set(
      mode,
      runs.map(({ ctx, o }) => asKubeProxy(mode, ctx, check(sim, mode, ctx, o, frames))),
    );
  }
  // The four modes agree, request by request, once the by-design differences are undone.
  const reference = verdicts.get('iptables')!;
  for (const mode of MODES) expect(verdicts.get(mode), mode).toEqual(reference);
}

describe('the four proxy modes, differentially', () => {
  it(
    'agree on every request, IPv4 or IPv6, to an arbitrary cluster state, single- or dual-stack: the outcome (served by an eligible ready — else serving-terminating — endpoint of the Service, refused, or dropped), ' +
      'the source the pod sees and the reverse-NATed reply, with one backend per connection — except by design: IPVS falls back to cluster endpoints under a Local policy without local ones, ' +
      'nftables and IPVS apply loadBalancerSourceRanges before looking for endpoints, eBPF answers ICMP wherever its frontend has no backend in the scope asked (also under a Local policy, where kube-proxy drops) but drops outside loadBalancerSourceRanges, ' +
      'eBPF’s socket-LB fails a node’s own connect() to a Service without backends at once (EHOSTUNREACH, curl exits 7), ' +
      'and eBPF keeps the client source for a backend on the ingress node under externalTrafficPolicy Cluster',
    () => {
      fc.assert(
        fc.property(
          fc.array(serviceSpec, { minLength: 1, maxLength: 3 }),
          fc.array(requestSpec, { minLength: 1, maxLength: 5 }),
          fc.integer({ min: 1, max: 1_000_000 }),
          fc.boolean(),
          runState,
        ),
        { numRuns: 15 },
      );
    },
  );
});

describe('regressions the differential property found', () => {
  it('serves a node’s own connection to a ClusterIP whose only endpoints are serving-terminating, in every mode (eBPF’s socket-LB used to skip them and let the SYN leave untranslated)', () => {
    const runs = runEveryMode(
      [service({ endpoints: [{ node: 1, condition: 'terminating-serving' }] })],
      [
        { service: 0, kind: 'clusterIPFromNode', node: 0, family: 4 },
        { service: 0, kind: 'clusterIPFromNode', node: 1, family: 4 },
      ],
      3,
    );
    for (const [mode, r] of runs)
      for (const { o } of r.runs) {
        expect(o.outcome.exitCode, `${mode}: ${o.outcome.stderr}`).toBe(0);
        expect(o.outcome.servedBy?.pod, mode).toBe(endpointPod(0, 0));
      }
  });
});

describe('IPv6 requests on a dual-stack state', () => {
  it('run through every mode’s IPv6 form: the endpoint pod sees IPv6 frames, NodePort and ClusterIP (from a pod and from a node: eBPF’s connect6 socket-LB) alike, and the modes agree with kube-proxy on the outcome and the source seen', () => {
    const services = [
      service({ type: 'NodePort', endpoints: [ready(1), { node: 2, condition: 'unready' }] }),
    ];
    const requests: RequestSpec[] = [
      { service: 0, kind: 'nodePort', node: 0, family: 6 },
      { service: 0, kind: 'clusterIPFromPod', node: 2, family: 6 },
      { service: 0, kind: 'clusterIPFromNode', node: 0, family: 6 },
      { service: 0, kind: 'nodePort', node: 1, family: 4 },
    ];
    const runs = runEveryMode(services, requests, 5, undefined, true);
    for (const [mode, { sim, runs: done }] of runs) {
      const frames = capturedFrames(sim);
      for (const { ctx, o } of done) {
        const v = check(sim, mode, ctx, o, frames);
        expect(v.outcome, mode).toBe('delivered');
        const atPod = endpointPodFrames(framesOf(frames, o));
        expect(atPod.length, mode).toBeGreaterThan(0);
        for (const f of atPod) expect(f.src.includes(':'), `${mode} ${f.src}`).toBe(ctx.spec.family === 6);
      }
    }
  });
});

/** Outcome of each request, per mode. */
function outcomesByMode(runs: Map<WiredMode, ModeRun>): Record<WiredMode, Outcome[]> {
  const out = {} as Record<WiredMode, Outcome[]>;
  for (const [mode, r] of runs) out[mode] = r.runs.map(({ o }) => outcomeOf(o));
  return out;
}

const ready = (node: number): EndpointSpec => ({ node, condition: 'ready' });
const service = (over: Partial<ServiceSpec>): ServiceSpec => ({
  type: 'ClusterIP',
  externalTrafficPolicy: 'Cluster',
  internalTrafficPolicy: 'Cluster',
  sourceRanges: 'none',
  endpoints: [],
  ...over,
});

describe('the by-design differences between the modes, one example each', () => {
  it('IPVS falls back to cluster endpoints under a Local policy with no local endpoint (kube-proxy PR #97081): a pod is served by a remote endpoint where iptables and nftables drop (and eBPF answers ICMP, its frontend having no backend in that scope); an external client’s SYN reaches a remote pod unmasqueraded and times out like the drop; an iTP=Local ClusterIP-only Service has no cluster endpoints to fall back on, so IPVS refuses', () => {
    const runs = runEveryMode(
      [
        service({ type: 'NodePort', internalTrafficPolicy: 'Local', endpoints: [ready(0)] }),
        service({ type: 'ClusterIP', internalTrafficPolicy: 'Local', endpoints: [ready(0)] }),
        service({ type: 'NodePort', externalTrafficPolicy: 'Local', endpoints: [ready(0)] }),
      ],
      [
        { service: 0, kind: 'clusterIPFromPod', node: 1, family: 4 },
        { service: 1, kind: 'clusterIPFromPod', node: 1, family: 4 },
        { service: 2, kind: 'nodePort', node: 1, family: 4 },
      ],
      3,
    );
    expect(outcomesByMode(runs)).toEqual({
      iptables: ['dropped', 'dropped', 'dropped'],
      nftables: ['dropped', 'dropped', 'dropped'],
      ipvs: ['delivered', 'refused', 'dropped'],
      ebpf: ['refused', 'refused', 'refused'],
    });
    const ipvs = runs.get('ipvs')!;
    const [internal, , external] = ipvs.runs;
    expect(internal.o.outcome.servedBy?.pod).toBe(endpointPod(0, 0));
    expect(splitPeer(internal.o.outcome.servedBy!.peer)[0]).toBe(podIP(ipvs.sim, clientPod(1)));
    const syns = endpointPodFrames(framesOf(capturedFrames(ipvs.sim), external.o)).filter(
      (f) => f.tcpFlags === TcpFlag.SYN,
    );
    expect(syns.length).toBeGreaterThan(0);
    for (const f of syns) expect([f.iface, f.src]).toEqual([`${endpointPod(2, 0)}/eth0`, CLIENT_IP]);
  });

  it('nftables and IPVS drop a client outside loadBalancerSourceRanges even when the Service has no endpoints, where iptables (whose KUBE-FW chain exists only with endpoints) refuses; eBPF drops as for any Service without backends', () => {
    const runs = runEveryMode(
      [service({ type: 'LoadBalancer', sourceRanges: 'client-outside' })],
      [{ service: 0, kind: 'loadBalancer', node: 0, family: 4 }],
      3,
    );
    expect(outcomesByMode(runs)).toEqual({
      iptables: ['refused'],
      nftables: ['dropped'],
      ipvs: ['dropped'],
      ebpf: ['dropped'],
    });
  });

  it('eBPF answers a Service without endpoints with ICMP port unreachable from its tc program (serviceNoBackendResponse: reject, Cilium’s default), from outside and from pods, as the kube-proxy modes refuse; with serviceNoBackendResponse: drop it drops them as DROP_NO_SERVICE', () => {
    const services = [
      service({ type: 'NodePort', endpoints: [{ node: 1, condition: 'terminating-not-serving' }] }),
    ];
    const requests: RequestSpec[] = [
      { service: 0, kind: 'nodePort', node: 0, family: 4 },
      { service: 0, kind: 'clusterIPFromPod', node: 2, family: 4 },
    ];
    expect(outcomesByMode(runEveryMode(services, requests, 3))).toEqual({
      iptables: ['refused', 'refused'],
      nftables: ['refused', 'refused'],
      ipvs: ['refused', 'refused'],
      ebpf: ['refused', 'refused'],
    });
    const dropping = runEveryMode(
      services,
      requests,
      3,
      parseCiliumValues({ serviceNoBackendResponse: 'drop' }),
    );
    expect(outcomesByMode(dropping).ebpf).toEqual(['dropped', 'dropped']);
    const node1 = dropping.get('ebpf')!.sim.topology.nodes.get('node1')!;
    expect(node1.drops.tcReasons.get('DROP_NO_SERVICE')).toBeGreaterThan(0);
  });

  it('eBPF keeps the client’s address for a backend on the ingress node under externalTrafficPolicy Cluster (it SNATs only what it forwards to another node), where the kube-proxy modes masquerade to the node’s IP', () => {
    const runs = runEveryMode(
      [service({ type: 'NodePort', endpoints: [ready(0)] })],
      [{ service: 0, kind: 'nodePort', node: 0, family: 4 }],
      3,
    );
    for (const [
      mode,
      {
        runs: [r],
      },
    ] of runs) {
      expect(r.o.outcome.exitCode, mode).toBe(0);
      const [addr, port] = splitPeer(r.o.outcome.servedBy!.peer);
      if (mode === 'ebpf') expect([addr, port]).toEqual([CLIENT_IP, r.o.outcome.localPort]);
      else expect(addr, mode).toBe(NODE_IPS[0]);
    }
  });

  it('nftables refuses a ClusterIP on a port no Service uses and drops traffic to an unallocated ClusterIP on the sending node; IPVS refuses the first (the address is bound to kube-ipvs0) and, like iptables and eBPF, forwards the second off the node, where it is lost', () => {
    const cluster = buildCluster([service({ endpoints: [ready(0)] })]);
    const unallocated = '10.233.63.250';
    for (const mode of MODES) {
      const sim = buildSmall({ cluster, mode, seed: 3, capture: false });
      const sp = sim.model.servicePorts.find((s) => s.name === svcName(0))!;
      expect(sim.model.servicePorts.some((s) => s.clusterIP === unallocated)).toBe(false);
      const from = `pod/${clientPod(1)}`;
      const wrongPort = sim.curl({ from, url: `http://${sp.clusterIP}:81/`, connectTimeoutMs: 500 });
      expect(wrongPort.exitCode, mode).toBe(mode === 'nftables' || mode === 'ipvs' ? 7 : 28);
      const node2 = sim.topology.nodes.get('node2')!;
      const client = sim.topology.client;
      const [nodeBefore, clientBefore] = [node2.drops.totalDropped, client.drops.totalDropped];
      const lost = sim.curl({ from, url: `http://${unallocated}/`, connectTimeoutMs: 500 });
      expect(lost.exitCode, mode).toBe(28);
      const droppedOnNode = node2.drops.totalDropped - nodeBefore;
      const droppedAtClient = client.drops.totalDropped - clientBefore;
      if (mode === 'nftables') expect([droppedOnNode > 0, droppedAtClient]).toEqual([true, 0]);
      else expect([droppedOnNode, droppedAtClient > 0], mode).toEqual([0, true]);
    }
  });
});
