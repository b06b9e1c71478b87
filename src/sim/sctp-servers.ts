/**
 * The SCTP side of the pods' applications. A Kubernetes pod serves SCTP when its process
 * opens an SCTP socket; dpsim's pods do so on every port an SCTP Service port sends them
 * to — the endpoint's port, i.e. the Service's resolved targetPort — and answer each
 * message with the same body as the HTTP responder (`Hello World!` and the pod name), so
 * a reply tells which backend served it.
 */
import { SctpStack } from '../apps/sctp-stack.js';
import type { ProxyModel } from '../proxy/common/model.js';
import type { ClusterTopology } from '../topology/build.js';
import { podKey } from '../topology/build.js';
import type { Host } from '../topology/host.js';

/** The answer of a pod's SCTP server. */
export function sctpAnswer(podName: string): Uint8Array {
  return new Uint8Array(Buffer.from(`Hello World!\n${podName}\n`, 'latin1'));
}

/** The SCTP ports each pod (by `namespace/name`) listens on, from the SCTP Service ports' endpoints. */
export function sctpListenPorts(model: ProxyModel): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  for (const sp of model.servicePorts) {
    if (sp.protocol !== 'SCTP') continue;
    for (const ep of sp.endpoints) {
      if (ep.podName === '') continue;
      const key = podKey(sp.namespace, ep.podName);
      let ports = out.get(key);
      if (ports === undefined) {
        ports = new Set();
        out.set(key, ports);
      }
      ports.add(ep.port);
    }
  }
  return out;
}

const stacks = new WeakMap<Host, SctpStack>();

/**
 * The host's SCTP endpoint, created and plugged into the host on first use (kept here, not
 * read back from `host.sctp`, which a load generator may have wrapped).
 */
export function sctpStackOf(host: Host): SctpStack {
  let stack = stacks.get(host);
  if (stack === undefined) {
    stack = new SctpStack(host);
    stacks.set(host, stack);
    host.sctp = stack;
  }
  return stack;
}

/** Starts (idempotently) every pod's SCTP servers the model calls for. */
export function startSctpServers(topology: ClusterTopology, model: ProxyModel): void {
  for (const [key, ports] of sctpListenPorts(model)) {
    const pod = topology.pods.get(key);
    if (pod === undefined) continue;
    const stack = sctpStackOf(pod);
    const answer = sctpAnswer(key.slice(key.indexOf('/') + 1));
    for (const port of ports) if (!stack.hasListener(port)) stack.listen(port, () => answer);
  }
}
