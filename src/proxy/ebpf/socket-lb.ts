/**
 * Cilium's socket-level load balancing (the cgroup `connect4` hook) for the node's own
 * connections: at connect() a Service address is replaced by a backend, so the node's
 * packets carry the backend address from the first SYN and no per-packet translation is
 * needed; the peer is shown as the Service address again on the way back (recvmsg/
 * getpeername). dpsim applies it to the host namespace only, as Cilium does with
 * `socketLB.hostNamespaceOnly=true`, so pods keep exercising the per-packet tc path.
 */

import type { Rng } from '../../util/rng.js';
import type { SocketLb, SocketLbVerdict } from '../common/socket-lb.js';
import type { EbpfLoadBalancer, InstalledFrontend } from './compile.js';
import { BackendState, SvcFlag } from './layouts.js';

/** Shared verdicts without a payload: deciding them allocates nothing. */
const NOT_SERVICE: SocketLbVerdict = { kind: 'not-service' };
const NO_BACKEND: SocketLbVerdict = { kind: 'no-backend' };

/** A sessionAffinity choice of the host namespace: the backend, and when it was last used. */
interface AffinityEntry {
  addr: number;
  port: number;
  lastUsedNs: number;
}

export class EbpfSocketLb implements SocketLb {
  /**
   * sessionAffinity: ClientIP for the node's own connect()s. Cilium's sock4 hook keys its
   * affinity by the socket's network namespace (`lb4_affinity_backend_id_by_netns`), not by an
   * address: every connection of the host namespace to the Service gets the same backend until
   * it has been idle for the Service's timeout. Keyed here by revNat (one per frontend).
   */
  private readonly affinity = new Map<number, AffinityEntry>();

  private built: EbpfLoadBalancer | null;

  constructor(
    /** The node's load balancer, or how to build it (a node's maps are compiled on first use, sim/modes.ts). */
    private readonly source: EbpfLoadBalancer | (() => EbpfLoadBalancer),
    private readonly rng: Rng,
    /** The node's clock (ns), for affinity timeouts. */
    private readonly nowNs: () => number = () => 0,
  ) {
    this.built = typeof source === 'function' ? null : source;
  }

  get lb(): EbpfLoadBalancer {
    this.built ??= (this.source as () => EbpfLoadBalancer)();
    return this.built;
  }

  /**
   * What a connect() to daddr:dport/proto becomes. A Service with no backend to pick is
   * `no-backend`: Cilium's `__sock4_xlate_fwd` fails there and the connect4 hook makes
   * connect() return -EHOSTUNREACH (cilium#45184 is a release that lost `bpf_set_retval`
   * and returned EPERM instead; EHOSTUNREACH is the intended errno).
   */
  connect(daddr: number, dport: number, proto: number): SocketLbVerdict {
    const fe = this.findFrontend(daddr, dport, proto);
    if (fe === undefined) return NOT_SERVICE;
    // In-cluster (host) clients use the internal scope of two-scope Services.
    const planned = fe.plan.intBackends ?? fe.plan.extBackends;
    // Active backends first; when there are none, the serving-terminating ones the plan holds
    // (CategorizeEndpoints' fallback, which the tc path already honours and Cilium applies to
    // the service count both hooks share). Filtering them out sent the node's connect() to an
    // untranslated ClusterIP that nothing answers (found by test/sim/differential-modes).
    const active = planned.filter((b) => b.state === BackendState.ACTIVE);
    const backends = active.length > 0 ? active : planned;
    if (backends.length === 0) return NO_BACKEND;
    if ((fe.plan.flags & SvcFlag.AFFINITY) !== 0) {
      const now = this.nowNs();
      const held = this.affinity.get(fe.revNat);
      if (
        held !== undefined &&
        now - held.lastUsedNs <= fe.plan.affinityTimeout * 1e9 &&
        backends.some((b) => b.addr === held.addr && b.port === held.port)
      ) {
        held.lastUsedNs = now;
        return { kind: 'backend', addr: held.addr, port: held.port };
      }
      const b = backends[this.rng.nextInt(backends.length)];
      this.affinity.set(fe.revNat, { addr: b.addr, port: b.port, lastUsedNs: now });
      return { kind: 'backend', addr: b.addr, port: b.port };
    }
    const b = backends[this.rng.nextInt(backends.length)];
    return { kind: 'backend', addr: b.addr, port: b.port };
  }

  private findFrontend(addr: number, port: number, proto: number): InstalledFrontend | undefined {
    for (const fe of this.lb.frontends.values()) {
      if (fe.plan.addr === addr && fe.plan.port === port && fe.plan.proto === proto) return fe;
    }
    return undefined;
  }
}
