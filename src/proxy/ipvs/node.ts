/**
 * One node's live IPVS: the service table, the connection table and the datapath, kept in
 * step with compiled states the way kube-proxy's sync loop does (syncService /
 * syncEndpoint / cleanLegacyService, and the GracefulTerminationManager):
 *
 * - new real servers are added with weight 1 (the kernel links them at the list head);
 * - a real server that leaves the endpoint set is deleted at once when it has no
 *   connections, or (TCP) when it still has some, set to weight 0 and kept on a graceful
 *   list; `gracefulTick()` (kube-proxy runs it every minute) deletes those whose
 *   ActiveConn+InActConn reached 0. UDP real servers are deleted at once (their entries
 *   expire on the next packet because expire_nodest_conn=1). Newer kube-proxy releases
 *   treat SCTP like UDP; dpsim does too.
 * - a real server that comes back while on the graceful list is deleted and re-added.
 * - virtual services no longer wanted are deleted (with their real servers).
 */

import { parseIPv4 } from '../../util/ipv4.js';
import type { Rng } from '../../util/rng.js';
import { IpProtocol } from '../../wire/ip-protocol.js';
import type { IpvsNodeState, IpvsVirtualServerSpec } from './compile.js';
import { IpvsConnTable } from './conn-table.js';
import {
  DEFAULT_IPVS_TIMEOUTS,
  IpvsDatapath,
  type IpvsSysctls,
  type IpvsTimeouts,
  KUBE_PROXY_SYSCTLS,
} from './datapath.js';
import { type IpvsDest, IpvsService, IpvsServiceTable, serviceKey } from './service-table.js';

/** kube-proxy's rsCheckDeleteInterval. */
export const GRACEFUL_CHECK_INTERVAL_S = 60;

const PROTO_NUMBER = { TCP: IpProtocol.TCP, UDP: IpProtocol.UDP, SCTP: IpProtocol.SCTP } as const;

export interface IpvsNodeOptions {
  readonly rng: Rng;
  readonly timeouts?: IpvsTimeouts;
  readonly sysctls?: IpvsSysctls;
  /**
   * kube-proxy adds new real servers in Go map order (random); with `shuffleAdds` the
   * order comes from `rng`, otherwise endpoints are added in kube-proxy's sorted order.
   */
  readonly shuffleAdds?: boolean;
  /**
   * How the state's address texts become the numbers packets carry: the u32 IPv4 address
   * (default), or for the IPv6 proxier an IPv6 address-table index (its `internText`).
   */
  readonly addressKey?: (text: string) => number;
  /**
   * What the hashing schedulers hash for such a number: the IPv4 address itself (default), or
   * for the IPv6 proxier the kernel's fold of the 128-bit address behind the index.
   */
  readonly addressFold?: (addr: number) => number;
}

/** A real server's (address, port) as one exact number (48 bits). */
function destKey(addr: number, port: number): number {
  return (addr >>> 0) * 65536 + port;
}

export class IpvsNode {
  readonly services = new IpvsServiceTable();
  readonly conns: IpvsConnTable;
  readonly datapath: IpvsDatapath;
  /** Real servers waiting for their connections to drain (weight 0). */
  readonly graceful = new Set<IpvsDest>();
  boundAddresses: readonly string[] = [];
  private readonly rng: Rng;
  private readonly shuffleAdds: boolean;
  private readonly addressKey: (text: string) => number;
  private readonly addressFold: ((addr: number) => number) | undefined;

  constructor(opts: IpvsNodeOptions) {
    this.rng = opts.rng.fork();
    this.conns = new IpvsConnTable(opts.rng.fork());
    this.datapath = new IpvsDatapath(
      this.services,
      this.conns,
      opts.timeouts ?? DEFAULT_IPVS_TIMEOUTS,
      opts.sysctls ?? KUBE_PROXY_SYSCTLS,
    );
    this.shuffleAdds = opts.shuffleAdds ?? false;
    this.addressKey = opts.addressKey ?? parseIPv4;
    this.addressFold = opts.addressFold;
  }

  /** Applies a compiled state (one kube-proxy syncProxyRules round). */
  sync(state: IpvsNodeState): void {
    const wanted = new Map<number, IpvsVirtualServerSpec>();
    for (const vs of state.virtualServers) {
      wanted.set(serviceKey(PROTO_NUMBER[vs.protocol], this.addressKey(vs.address), vs.port), vs);
    }
    for (const [key, spec] of wanted) this.syncService(key, spec);
    for (const svc of [...this.services.services()]) {
      if (!wanted.has(serviceKey(svc.protocol, svc.addr, svc.port))) {
        for (const d of svc.dests) this.graceful.delete(d);
        this.services.remove(svc);
      }
    }
    this.boundAddresses = state.boundAddresses;
  }

  private syncService(_key: number, spec: IpvsVirtualServerSpec): void {
    const proto = PROTO_NUMBER[spec.protocol];
    const addr = this.addressKey(spec.address);
    let svc = this.services.find(proto, addr, spec.port);
    if (svc !== undefined && svc.scheduler.name !== spec.scheduler) {
      // A scheduler change rebuilds the service (dpsim simplification of ip_vs_edit_service).
      for (const d of svc.dests) this.graceful.delete(d);
      this.services.remove(svc);
      svc = undefined;
    }
    if (svc === undefined) {
      svc = new IpvsService(
        proto,
        addr,
        spec.port,
        spec.scheduler,
        spec.flags,
        spec.timeoutS,
        this.addressFold,
      );
      this.services.add(svc);
    } else {
      svc.flags = spec.flags;
      svc.timeoutS = spec.timeoutS;
    }

    // (address, port) as one number: a sync at 10k Services checks ~100k real servers.
    const wantedKeys = new Set<number>();
    for (const r of spec.realServers) wantedKeys.add(destKey(this.addressKey(r.ip), r.port));
    const adds = spec.realServers.filter((r) => {
      const existing = svc.findDest(this.addressKey(r.ip), r.port);
      if (existing === null) return true;
      if (this.graceful.has(existing)) {
        // MoveRSOutofGracefulDeleteList: delete now, then add afresh.
        this.graceful.delete(existing);
        svc.removeDest(existing);
        return true;
      }
      return false;
    });
    if (this.shuffleAdds) {
      for (let i = adds.length - 1; i > 0; i--) {
        const j = this.rng.nextInt(i + 1);
        [adds[i], adds[j]] = [adds[j], adds[i]];
      }
    }
    for (const r of adds) svc.addDest(this.addressKey(r.ip), r.port, r.weight);

    for (const d of [...svc.dests]) {
      if (wantedKeys.has(destKey(d.addr, d.port)) || this.graceful.has(d)) continue;
      this.gracefulDelete(svc, d);
    }
  }

  /** GracefulTerminationManager.GracefulDeleteRS. */
  private gracefulDelete(svc: IpvsService, d: IpvsDest): void {
    if (!this.needsGrace(svc) || d.activeConns + d.inactConns === 0) {
      svc.removeDest(d);
      return;
    }
    svc.updateDestWeight(d, 0);
    this.graceful.add(d);
  }

  private needsGrace(svc: IpvsService): boolean {
    return svc.protocol === IpProtocol.TCP;
  }

  /** One run of kube-proxy's graceful-termination loop (every 60 s): drops drained real servers. */
  gracefulTick(nowNs: number): number {
    this.conns.expireDue(nowNs);
    let deleted = 0;
    for (const d of [...this.graceful]) {
      if (d.activeConns + d.inactConns === 0) {
        this.graceful.delete(d);
        if (d.available) d.service.removeDest(d);
        deleted++;
      }
    }
    return deleted;
  }
}
