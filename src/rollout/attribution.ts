/**
 * Why a request failed, in the terms of the people who run the cluster: which node's rules
 * were stale (they still sent new connections to a pod the control plane had already taken
 * out of the Service, or that was gone), which pod had stopped listening while still an
 * endpoint, which health check was late (the load balancer still sent to a node whose rules
 * had no local endpoint left).
 *
 * The evidence: the pod the SYN reached (observed on the pod side) or, when it reached none,
 * the address the entry node's conntrack entry was translated to; the model version the entry
 * node's rules were built from at the time the request was sent, against the latest version
 * the EndpointSlice controller had written by the time the client gave up.
 */
import type { Endpoint, ServicePort } from '../proxy/common/model.js';
import type { LoadBalancer } from './load-balancer.js';
import type { Propagation } from './propagation.js';
import type { RequestRecord } from './requests.js';

export interface Attribution {
  /** One line, the report's grouping key (no times in it, so counts aggregate). */
  readonly reason: string;
}

export interface AttributionInput {
  readonly record: RequestRecord;
  /** `ns/name` of the pod the connection was sent to, if known. */
  readonly backendPod: string | undefined;
  readonly service: ServicePort;
  readonly propagation: Propagation;
  readonly stoppedNs: ReadonlyMap<string, number>;
  readonly goneNs: ReadonlyMap<string, number>;
  readonly lb: LoadBalancer | null;
  /** Nodes that stopped, and when (--node-not-ready). */
  readonly downNs: ReadonlyMap<string, number>;
  /** When the node lifecycle controller marked a stopped node NotReady. */
  readonly notReadyNs: ReadonlyMap<string, number>;
}

function portOf(model: { servicePorts: readonly ServicePort[] }, sp: ServicePort): ServicePort | undefined {
  return model.servicePorts.find(
    (p) => p.servicePortName === sp.servicePortName && p.protocol === sp.protocol,
  );
}

/** An endpoint the proxy would send new connections to (ready, or serving-terminating as a fallback). */
function usable(e: Endpoint): boolean {
  return e.ready || (e.serving && e.terminating);
}

const short = (podKey: string) => podKey.slice(podKey.indexOf('/') + 1);

export function attributeFailure(input: AttributionInput): Attribution {
  const { record: r, backendPod, service, propagation, stoppedNs, goneNs, lb, downNs, notReadyNs } = input;
  const node = r.entryNode;
  // A stopped node answers nothing: the request was sent to it, or its rules to a pod on it.
  const entryDown = downNs.get(node);
  if (entryDown !== undefined && entryDown <= r.startNs)
    return {
      reason:
        lb !== null
          ? `health check late: the load balancer still sent to ${node}, which is down`
          : `${node} is down: the client still sent to its NodePort (no health check in front of it)`,
    };
  const programmed = propagation.versions[propagation.programmedAt(node, r.startNs)];
  // The API as of the request's end: a SYN retransmitted after the first was lost is balanced
  // again, and the last attempt is the one the entry node's conntrack shows.
  const written = propagation.versions[propagation.writtenAt(r.endNs)];
  const inRules = portOf(programmed, service);
  const inApi = portOf(written, service);

  if (backendPod !== undefined) {
    const podName = backendPod.slice(backendPod.indexOf('/') + 1);
    const byPod = (sp: ServicePort | undefined) => sp?.endpoints.find((e) => e.podName === podName);
    const ruleEp = byPod(inRules);
    const apiEp = byPod(inApi);
    const goneAt = goneNs.get(backendPod);
    const podNode = ruleEp?.nodeName ?? apiEp?.nodeName;
    const podNodeDown = podNode !== undefined ? downNs.get(podNode) : undefined;
    const state =
      r.synPod !== undefined && r.synPodListening === false
        ? 'had stopped listening'
        : goneAt !== undefined && goneAt <= r.endNs
          ? 'was gone'
          : podNodeDown !== undefined && podNodeDown <= r.endNs
            ? `was unreachable on ${podNode} (down)`
            : 'did not answer';
    if (podNodeDown !== undefined && podNodeDown <= r.endNs && ruleEp !== undefined && usable(ruleEp)) {
      const marked = notReadyNs.get(podNode as string);
      if (marked === undefined || marked > r.startNs)
        return {
          reason: `${short(backendPod)} unreachable on ${podNode} (down) while still a ready endpoint: the node controller had not marked ${podNode} NotReady yet (node-monitor-grace-period)`,
        };
      return {
        reason: `stale rules on ${node}: sent to ${short(backendPod)}, unreachable on ${podNode} (down, marked NotReady)`,
      };
    }
    if (ruleEp !== undefined && usable(ruleEp)) {
      if (apiEp === undefined || !usable(apiEp) || !apiEp.ready)
        return { reason: `stale rules on ${node}: sent to ${short(backendPod)}, which ${state}` };
      return {
        reason: `${short(backendPod)} ${state} while still ${apiEp.ready ? 'a ready' : 'a serving'} endpoint (${stoppedNs.has(backendPod) ? 'app stopped before its endpoint was updated' : 'readiness probe had not failed yet'})`,
      };
    }
    // The rules no longer chose it: a conntrack entry from an earlier attempt with the same
    // source port (SYN_SENT, kept 120 s) still carried the old translation.
    return {
      reason: `stale conntrack entry on ${node}: an earlier connection's translation still sent to ${short(backendPod)}, which ${state}`,
    };
  }

  // The connection went to no pod: the entry node's rules had nowhere to send it.
  const localUsable = (inRules?.endpoints ?? []).some((e) => e.nodeName === node && usable(e));
  const anyUsable = (inRules?.endpoints ?? []).some(usable);
  if (lb !== null && service.externalTrafficPolicy === 'Local' && !localUsable)
    return {
      reason: `health check late: the load balancer still sent to ${node}, whose rules had no local endpoint`,
    };
  if (!anyUsable) return { reason: `no endpoints in ${node}'s rules` };
  return { reason: `${r.outcome} via ${node} (backend not identified)` };
}
