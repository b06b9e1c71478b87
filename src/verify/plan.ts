/**
 * What to send, and what kube-proxy's semantics say should happen: the probes of one
 * scenario, derived from the ProxyModel and the pods. Both sides (kernel and dpsim) run
 * exactly these probes; the expectations are used to say which side is wrong when they
 * disagree.
 *
 * Probes per TCP or UDP service port whose endpoints are all pods (a UDP probe is one datagram
 * from a new connected socket; REJECT shows as ECONNREFUSED, as for TCP):
 * - NodePort: from the client to every node's IP (externalTrafficPolicy decides the set).
 * - LoadBalancer VIP: from the client, routed to the LB entry node (default: the first node).
 * - ClusterIP: from the first node and from a source pod (the first pod by name that backs
 *   none of the probed Services, so its own traffic is not hairpinned; else the first pod).
 */

import { isCoreDnsPod, isDnsAddonService } from '../k8s/cluster-dns-addon.js';
import { categorizeEndpoints, externalPolicyLocal, internalPolicyLocal } from '../proxy/common/categorize.js';
import type { Endpoint, ProxyModel, ServicePort } from '../proxy/common/model.js';
import type { PodAppInfo } from '../sim/pod-apps.js';
import { cidrContains, parseCidr, parseIPv4 } from '../util/ipv4.js';
import { cidr6Contains, parseCidr6, parseIPv6 } from '../util/ipv6.js';
import { hostPort } from './family.js';

export type ProbeKind = 'nodeport' | 'loadbalancer' | 'clusterip';
/** A connection that gets no answer: REJECT (refused) or DROP (timeout). */
export type ExpectedFailure = 'refused' | 'timeout';

export interface Probe {
  readonly id: string;
  readonly kind: ProbeKind;
  /** TCP: one connection with an HTTP request; UDP: one datagram from a new connected socket. */
  readonly protocol: 'TCP' | 'UDP';
  readonly servicePortName: string;
  /** 'client', a node name, or `pod/<name>` (the Simulation's `from`). */
  readonly from: string;
  readonly sourceIP: string;
  /** The node whose rules decide (where the connection enters the service dataplane). */
  readonly entryNode: string;
  readonly dstIP: string;
  readonly dstPort: number;
  readonly sessionAffinity: boolean;
  readonly expected: {
    /** Pod names that may answer (empty when the connection must fail). */
    readonly backends: readonly string[];
    readonly failure: ExpectedFailure | null;
    /** Address label each backend should see as the source ('client', `node/<n>`, `pod/<n>`). */
    readonly peerByBackend: Readonly<Record<string, string>>;
  };
}

export interface SkippedService {
  readonly servicePortName: string;
  readonly reason: string;
}

export interface ProbePlan {
  readonly probes: readonly Probe[];
  readonly skipped: readonly SkippedService[];
  /** Source pod of the ClusterIP probes, if any pod exists. */
  readonly sourcePod: string | null;
  readonly lbEntryNode: string;
  readonly clientIP: string;
  /** IP → label ('client', `node/<name>`, `pod/<name>`) for every address in the scenario. */
  readonly addressLabels: Readonly<Record<string, string>>;
  /** Pod name → the node it runs on. */
  readonly podNodes: Readonly<Record<string, string>>;
}

export interface PlanOptions {
  readonly clientIP: string;
  /** Node the client routes LoadBalancer VIPs to (default: the first node). */
  readonly lbEntryNode?: string;
  /** Service ports to probe, by servicePortName (default: all eligible but default/kubernetes). */
  readonly services?: readonly string[];
}

function endpointPods(eps: readonly Endpoint[], podByIP: ReadonlyMap<string, PodAppInfo>): string[] {
  return eps.map((e) => podByIP.get(e.ip)?.name ?? e.ip);
}

/** Whether `ip` lies in `cidr`; a range of the other family never holds it. */
function sourceRangeHolds(cidr: string, ip: string): boolean {
  const v6 = ip.includes(':');
  if (cidr.includes(':') !== v6) return false;
  return v6 ? cidr6Contains(parseCidr6(cidr), parseIPv6(ip)) : cidrContains(parseCidr(cidr), parseIPv4(ip));
}

function noEndpointFailure(hasAny: boolean): ExpectedFailure {
  // kube-proxy REJECTs when a Service has no usable endpoint at all, and DROPs when the
  // policy-selected (local) set is empty but endpoints exist elsewhere.
  return hasAny ? 'timeout' : 'refused';
}

/** Builds the probes and their expectations for a model and its pods. */
export function planProbes(model: ProxyModel, pods: readonly PodAppInfo[], options: PlanOptions): ProbePlan {
  const nodes = model.nodes;
  const podByIP = new Map(pods.map((p) => [p.ip, p]));
  const lbEntryNode = options.lbEntryNode ?? nodes[0]?.name ?? '';
  const addressLabels: Record<string, string> = { [options.clientIP]: 'client' };
  for (const n of nodes) addressLabels[n.ip] = `node/${n.name}`;
  for (const p of pods) addressLabels[p.ip] = `pod/${p.name}`;

  const skipped: SkippedService[] = [];
  const eligible: ServicePort[] = [];
  for (const sp of model.servicePorts) {
    const wanted = options.services
      ? options.services.includes(sp.servicePortName)
      : sp.servicePortName !== 'default/kubernetes:https';
    if (!wanted) continue;
    if (isDnsAddonService(sp.namespace, sp.name)) {
      skipped.push({
        servicePortName: sp.servicePortName,
        reason: 'the cluster DNS add-on speaks DNS, not HTTP',
      });
      continue;
    }
    if (sp.protocol !== 'TCP' && sp.protocol !== 'UDP') {
      skipped.push({
        servicePortName: sp.servicePortName,
        reason: `${sp.protocol} is not probed (TCP and UDP only)`,
      });
      continue;
    }
    const foreign = sp.endpoints.filter((e) => !podByIP.has(e.ip));
    if (foreign.length > 0) {
      skipped.push({
        servicePortName: sp.servicePortName,
        reason: `endpoint ${foreign[0].ip}:${foreign[0].port} is not a pod (no responder can run there)`,
      });
      continue;
    }
    eligible.push(sp);
  }

  const backing = new Set(eligible.flatMap((sp) => sp.endpoints.map((e) => e.ip)));
  // A CoreDNS pod is not a client: the source is one of the user's pods.
  const byName = pods
    .filter((p) => !isCoreDnsPod(p))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const sourcePod = byName.find((p) => !backing.has(p.ip)) ?? byName[0] ?? null;

  const probes: Probe[] = [];
  for (const sp of eligible) {
    const affinity = sp.sessionAffinity === 'ClientIP';
    const protocol = sp.protocol === 'UDP' ? 'UDP' : 'TCP';
    // TCP ids keep their historical form; UDP ones name the protocol.
    const spName = protocol === 'UDP' ? `${sp.servicePortName}/UDP` : sp.servicePortName;
    const external = (kind: ProbeKind, dstIP: string, dstPort: number, entry: string): Probe => {
      const cat = categorizeEndpoints(sp, entry);
      const eps = (externalPolicyLocal(sp) ? cat.localEndpoints : cat.clusterEndpoints) ?? [];
      const backends = endpointPods(eps, podByIP);
      const peer = externalPolicyLocal(sp) ? 'client' : `node/${entry}`;
      let failure: ExpectedFailure | null = eps.length === 0 ? noEndpointFailure(cat.hasAnyEndpoints) : null;
      if (
        kind === 'loadbalancer' &&
        sp.loadBalancerSourceRanges.length > 0 &&
        !sp.loadBalancerSourceRanges.some((r) => sourceRangeHolds(r, options.clientIP))
      ) {
        failure = 'timeout'; // the firewall chain drops sources outside loadBalancerSourceRanges
      }
      return {
        id: `${kind} ${spName} ${hostPort(dstIP, dstPort)} from client`,
        kind,
        protocol,
        servicePortName: sp.servicePortName,
        from: 'client',
        sourceIP: options.clientIP,
        entryNode: entry,
        dstIP,
        dstPort,
        sessionAffinity: affinity,
        expected: {
          backends: failure === null ? backends : [],
          failure,
          peerByBackend: Object.fromEntries(backends.map((b) => [b, peer])),
        },
      };
    };
    if (sp.nodePort !== 0) {
      for (const n of nodes) probes.push(external('nodeport', n.ip, sp.nodePort, n.name));
    }
    for (const vip of sp.loadBalancerIPs) probes.push(external('loadbalancer', vip, sp.port, lbEntryNode));

    const internal = (from: string, sourceIP: string, entry: string, sourcePodName: string | null): Probe => {
      const cat = categorizeEndpoints(sp, entry);
      const eps = (internalPolicyLocal(sp) ? cat.localEndpoints : cat.clusterEndpoints) ?? [];
      const backends = endpointPods(eps, podByIP);
      const failure = eps.length === 0 ? noEndpointFailure(cat.hasAnyEndpoints) : null;
      const peerByBackend: Record<string, string> = {};
      for (const b of backends) {
        // A pod reaching itself through the Service is hairpinned: masqueraded to its node.
        peerByBackend[b] =
          sourcePodName === null
            ? `node/${entry}`
            : b === sourcePodName
              ? `node/${entry}`
              : `pod/${sourcePodName}`;
      }
      return {
        id: `clusterip ${spName} ${hostPort(sp.clusterIP, sp.port)} from ${from}`,
        kind: 'clusterip',
        protocol,
        servicePortName: sp.servicePortName,
        from,
        sourceIP,
        entryNode: entry,
        dstIP: sp.clusterIP,
        dstPort: sp.port,
        sessionAffinity: affinity,
        expected: { backends, failure, peerByBackend },
      };
    };
    if (nodes.length > 0) probes.push(internal(nodes[0].name, nodes[0].ip, nodes[0].name, null));
    if (sourcePod !== null)
      probes.push(internal(`pod/${sourcePod.name}`, sourcePod.ip, sourcePod.nodeName, sourcePod.name));
  }
  return {
    probes,
    skipped,
    sourcePod: sourcePod?.name ?? null,
    lbEntryNode,
    clientIP: options.clientIP,
    addressLabels,
    podNodes: Object.fromEntries(pods.map((p) => [p.name, p.nodeName])),
  };
}
