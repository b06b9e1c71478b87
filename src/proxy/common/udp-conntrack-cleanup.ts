/**
 * kube-proxy's clean-up of stale UDP conntrack entries after a sync (pkg/proxy/conntrack),
 * in the three forms it has had, plus none at all:
 *
 *  - `endpoint-deletion` (kube-proxy ≤ 1.31, event based): for every UDP endpoint that was
 *    serving and is gone (or no longer serving), `conntrack -D --orig-dst <ClusterIP>
 *    --dst-nat <endpoint IP> -p udp` (and the same for each externalIP and LoadBalancer IP),
 *    plus `--orig-port-dst <nodePort> --dst-nat <endpoint IP>` for a NodePort; for a UDP
 *    Service that went from no ready endpoint to some, every entry to its IPs
 *    (`conntrack -D --orig-dst <IP> -p udp`) and NodePort; the ClusterIPs of deleted UDP
 *    Services likewise. An event missed is never repaired.
 *  - `reconciler-v1.32` (kube-proxy 1.32 – the fix of kubernetes#139628): every sync lists the
 *    table and deletes each UDP entry whose original destination is a UDP Service's IP:port (or
 *    whose original destination port is its NodePort) but whose reply source is none of the
 *    port's serving endpoints — skipping Services with no serving endpoint at all, the
 *    regression of #139628: a one-way stream keeps refreshing its 30 s entry and stays DNATed
 *    to the deleted pod for as long as it sends.
 *  - `reconciler` (current): the same, with Services that have no serving endpoint (#139629)
 *    and deleted UDP Services (#141371) handled as an empty endpoint set.
 *  - `none`: no clean-up (a proxy that never deletes entries).
 *
 * Only UDP entries are ever deleted: TCP and other protocols are left to time out, as
 * kube-proxy leaves them.
 */
import { type ConntrackTable, CtStatus } from '../../conntrack/index.js';
import { asConnId } from '../../conntrack/table.js';
import { parseIPv4 } from '../../util/ipv4.js';
import { IpProtocol } from '../../wire/ip-protocol.js';
import type { ProxyModel, ServicePort } from './model.js';

export const UDP_CONNTRACK_CLEANUPS = [
  'none',
  'endpoint-deletion',
  'reconciler-v1.32',
  'reconciler',
] as const;
export type UdpConntrackCleanup = (typeof UDP_CONNTRACK_CLEANUPS)[number];

/** One `conntrack -D -p udp` filter: every field given must match (−1 = any). */
export interface ConntrackDeleteFilter {
  /** `--orig-dst`. */
  readonly origDst: number;
  /** `--orig-port-dst`. */
  readonly origDstPort: number;
  /** `--reply-src` / `--dst-nat`. */
  readonly replySrc: number;
}

const ANY = -1;

/**
 * `conntrack -D -p udp` with several filters in one pass over the table: deletes every
 * listed UDP entry that matches at least one filter. Returns how many were deleted.
 */
export function deleteUdpEntries(
  ct: ConntrackTable,
  filters: readonly ConntrackDeleteFilter[],
  nowNs: number,
): number {
  if (filters.length === 0) return 0;
  let deleted = 0;
  for (let c = 0; c < ct.max; c++) {
    const conn = asConnId(c);
    if (ct.proto[c] !== IpProtocol.UDP || !ct.isListed(conn, nowNs)) continue;
    const origDst = ct.origDaddr[c];
    const origDstPort = ct.origPorts[c] & 0xffff;
    const replySrc = ct.replySaddr[c];
    for (const f of filters) {
      if (f.origDst !== ANY && f.origDst !== origDst) continue;
      if (f.origDstPort !== ANY && f.origDstPort !== origDstPort) continue;
      if (f.replySrc !== ANY && f.replySrc !== replySrc) continue;
      if (ct.delete(conn)) deleted++;
      break;
    }
  }
  return deleted;
}

function frontendIPs(sp: ServicePort): string[] {
  return [sp.clusterIP, ...sp.externalIPs, ...sp.loadBalancerIPs].filter((ip) => ip !== '' && ip !== 'None');
}

function servingIPs(sp: ServicePort | undefined): Set<string> {
  const out = new Set<string>();
  if (sp !== undefined) for (const ep of sp.endpoints) if (ep.serving) out.add(ep.ip);
  return out;
}

function hasReady(sp: ServicePort | undefined): boolean {
  return sp?.endpoints.some((ep) => ep.ready) ?? false;
}

function udpPorts(model: ProxyModel): Map<string, ServicePort> {
  const out = new Map<string, ServicePort>();
  for (const sp of model.servicePorts) if (sp.protocol === 'UDP') out.set(`${sp.servicePortName}/UDP`, sp);
  return out;
}

/** The filters kube-proxy ≤ 1.31 derives from one sync's endpoint and Service changes. */
export function endpointDeletionFilters(previous: ProxyModel, next: ProxyModel): ConntrackDeleteFilter[] {
  const before = udpPorts(previous);
  const after = udpPorts(next);
  const filters: ConntrackDeleteFilter[] = [];
  for (const [key, old] of before) {
    const now = after.get(key);
    if (now === undefined) {
      // A deleted UDP Service: every entry to its ClusterIP.
      if (old.clusterIP !== '' && old.clusterIP !== 'None')
        filters.push({ origDst: parseIPv4(old.clusterIP), origDstPort: ANY, replySrc: ANY });
      continue;
    }
    for (const ep of old.endpoints) {
      if (!ep.serving) continue;
      const still = now.endpoints.some(
        (n) => n.ip === ep.ip && n.port === ep.port && n.serving === ep.serving,
      );
      if (still) continue;
      const epIP = parseIPv4(ep.ip);
      if (now.nodePort !== 0) filters.push({ origDst: ANY, origDstPort: now.nodePort, replySrc: epIP });
      for (const ip of frontendIPs(now))
        filters.push({ origDst: parseIPv4(ip), origDstPort: ANY, replySrc: epIP });
    }
  }
  for (const [key, now] of after) {
    if (!hasReady(now) || hasReady(before.get(key))) continue;
    for (const ip of frontendIPs(now))
      filters.push({ origDst: parseIPv4(ip), origDstPort: ANY, replySrc: ANY });
    if (now.nodePort !== 0) filters.push({ origDst: ANY, origDstPort: now.nodePort, replySrc: ANY });
  }
  return filters;
}

/**
 * CleanStaleEntries: the filters for every UDP entry aimed at a UDP Service frontend whose
 * reply source is not one of its serving endpoints. `skipEmpty` is 1.32's behaviour
 * (Services without a serving endpoint are skipped); `deleted` are the UDP ports of Services
 * removed since the last sync (the current reconciler treats them as empty).
 */
export function reconcilerFilters(
  ct: ConntrackTable,
  model: ProxyModel,
  nowNs: number,
  skipEmpty: boolean,
  deleted: readonly ServicePort[] = [],
): ConntrackDeleteFilter[] {
  const byFrontend = new Map<string, Set<string>>();
  const byNodePort = new Map<number, Set<string>>();
  const add = (sp: ServicePort, serving: Set<string>) => {
    for (const ip of frontendIPs(sp)) byFrontend.set(`${parseIPv4(ip)}:${sp.port}`, serving);
    if (sp.nodePort !== 0) byNodePort.set(sp.nodePort, serving);
  };
  for (const sp of deleted) add(sp, new Set());
  for (const sp of model.servicePorts) {
    if (sp.protocol !== 'UDP') continue;
    const serving = servingIPs(sp);
    if (skipEmpty && serving.size === 0) continue;
    add(sp, serving);
  }
  const filters: ConntrackDeleteFilter[] = [];
  if (byFrontend.size === 0 && byNodePort.size === 0) return filters;
  const servingNumbers = new Map<Set<string>, Set<number>>();
  const has = (set: Set<string>, addr: number) => {
    let nums = servingNumbers.get(set);
    if (nums === undefined) {
      nums = new Set([...set].map(parseIPv4));
      servingNumbers.set(set, nums);
    }
    return nums.has(addr);
  };
  for (let c = 0; c < ct.max; c++) {
    if (ct.proto[c] !== IpProtocol.UDP || !ct.isListed(asConnId(c), nowNs)) continue;
    if (ct.status[c] & CtStatus.DYING) continue;
    const origDst = ct.origDaddr[c];
    const origDstPort = ct.origPorts[c] & 0xffff;
    const replySrc = ct.replySaddr[c];
    const frontend = byFrontend.get(`${origDst}:${origDstPort}`);
    if (frontend !== undefined && !has(frontend, replySrc)) filters.push({ origDst, origDstPort, replySrc });
    const nodePort = byNodePort.get(origDstPort);
    if (nodePort !== undefined && !has(nodePort, replySrc))
      filters.push({ origDst: ANY, origDstPort, replySrc });
  }
  return filters;
}

/** Runs the chosen clean-up for one node after a sync from `previous` to `next`; returns the entries deleted. */
export function cleanStaleUdpConntrack(
  policy: UdpConntrackCleanup,
  ct: ConntrackTable,
  previous: ProxyModel,
  next: ProxyModel,
  nowNs: number,
): number {
  switch (policy) {
    case 'none':
      return 0;
    case 'endpoint-deletion':
      return deleteUdpEntries(ct, endpointDeletionFilters(previous, next), nowNs);
    case 'reconciler-v1.32':
      return deleteUdpEntries(ct, reconcilerFilters(ct, next, nowNs, true), nowNs);
    case 'reconciler': {
      const after = udpPorts(next);
      const deleted = [...udpPorts(previous)].filter(([key]) => !after.has(key)).map(([, sp]) => sp);
      return deleteUdpEntries(ct, reconcilerFilters(ct, next, nowNs, false, deleted), nowNs);
    }
  }
}
