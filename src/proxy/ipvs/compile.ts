/**
 * ProxyModel + node → the IPVS state kube-proxy's IPVS proxier (pkg/proxy/ipvs/proxier.go
 * `syncProxyRules`) programs on that node: addresses bound to the dummy interface
 * kube-ipvs0, virtual servers with their real servers, ipset members, and the remaining
 * iptables rules (an iptables Ruleset and its iptables-save text).
 *
 * Per service port (kube-proxy order inside one port):
 * 1. KUBE-LOOP-BACK gets `epIP,proto:port,epIP` for every endpoint on this node.
 * 2. ClusterIP:port → KUBE-CLUSTER-IP, a virtual server, the address bound to kube-ipvs0;
 *    real servers use local endpoints only when iTP=Local.
 * 3. each externalIP:port → KUBE-EXTERNAL-IP (or -LOCAL with eTP=Local), a virtual server,
 *    bound unless the address is already a node address; eTP=Local selects local endpoints.
 * 4. each LB ingress IP:port → KUBE-LOAD-BALANCER (+ -LOCAL, + -FW / -SOURCE-CIDR /
 *    -SOURCE-IP with loadBalancerSourceRanges), a virtual server, bound likewise.
 * 5. nodePort → KUBE-NODE-PORT-TCP/UDP (bitmap:port) or -SCTP-HASH (nodeIP,sctp:port),
 *    LOCAL variants with eTP=Local, and one virtual server per node address (not bound).
 * 6. healthCheckNodePort → KUBE-HEALTH-CHECK-NODE-PORT.
 *
 * Where IPVS mode differs from iptables/nftables: with a Local policy and no local
 * endpoint, the virtual server falls back to the *cluster* endpoints (kubernetes PR #97081)
 * instead of dropping; pods on the node still reach the service, external clients get a
 * reply from the pod IP that their side discards. Real servers always have weight 1 and
 * forwarding Masq; endpoints that are serving+terminating appear only through
 * CategorizeEndpoints' fallback (when no endpoint is ready), like the other modes. Real
 * servers *removed* by a later sync are first set to weight 0 (graceful termination): that
 * is a transition between two states, done by `IpvsNode.sync`, not part of one state.
 *
 * `family: 'ipv6'` compiles kube-proxy's IPv6 IPVS proxier on a dual-stack node from the IPv6
 * model: IPv6 virtual servers and kube-ipvs0 addresses, `family inet6` ipsets named KUBE-6-…,
 * and its ip6tables rules.
 */

import { cidrContains, isIPv4, parseCidr, parseIPv4 } from '../../util/ipv4.js';
import { formatIPv6, isIPv6Text, parseIPv6, prefixMask6 } from '../../util/ipv6.js';
import { categorizeEndpoints, externalPolicyLocal, internalPolicyLocal } from '../common/categorize.js';
import type { Endpoint, ProxyModel, ServicePort } from '../common/model.js';
import { type Ruleset, renderIptablesSave } from '../iptables/index.js';
import { SVC_F_PERSISTENT, SVC_F_SCHED2 } from './ip-vs.js';
import { IpsetTable, ipsetProto } from './ipsets.js';
import { buildIpvsIptables } from './iptables-rules.js';
import { isSchedulerName, type SchedulerName, UnknownSchedulerError } from './schedulers.js';
import { IpvsConfigError } from './service-table.js';

export const DUMMY_INTERFACE = 'kube-ipvs0';

export interface IpvsCompileOptions {
  /** The proxier's family (default ipv4; ipv6 compiles the IPv6 model of a dual-stack node). */
  readonly family?: 'ipv4' | 'ipv6';
  /** --ipvs-scheduler; '' or unset ⇒ rr ("IPVS scheduler not specified, use rr by default"). */
  readonly scheduler?: string;
  readonly masqueradeAll?: boolean;
  /** --iptables-masquerade-bit (default 14). */
  readonly masqueradeBit?: number;
  /**
   * The node's local addresses outside kube-ipvs0 (non-loopback). Default: the node's
   * InternalIP. Real nodes often have more (CNI bridge gateway, docker0…): kube-proxy
   * creates NodePort virtual servers on each of them.
   */
  readonly nodeAddresses?: readonly string[];
  /** --nodeport-addresses CIDRs; empty ⇒ every node address. */
  readonly nodePortAddresses?: readonly string[];
  /** iptables supports --random-fully (default true). */
  readonly randomFully?: boolean;
  /** Date in the iptables-save header/footer comments (default: the epoch, for reproducible text). */
  readonly saveDate?: Date;
}

export type VirtualServerKind = 'ClusterIP' | 'ExternalIP' | 'LoadBalancer' | 'NodePort';

/** Which endpoint set a virtual server uses (syncEndpoint's onlyNodeLocalEndpoints logic). */
export type EndpointSelection = 'cluster' | 'local' | 'local-fallback-cluster';

export interface IpvsRealServerSpec {
  readonly ip: string;
  readonly port: number;
  readonly weight: number;
  /** Pod name, for traces ('' when unknown). */
  readonly podName: string;
}

export interface IpvsVirtualServerSpec {
  readonly kind: VirtualServerKind;
  readonly servicePortName: string;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
  readonly address: string;
  readonly port: number;
  readonly scheduler: SchedulerName;
  /** SVC_F_* flags (persistent; mh-port for the mh scheduler). */
  readonly flags: number;
  /** Persistence timeout in seconds (0 when not persistent). */
  readonly timeoutS: number;
  /** Whether kube-proxy binds the address to kube-ipvs0. */
  readonly bound: boolean;
  readonly endpointSelection: EndpointSelection;
  /** Sorted by "ip:port" (kube-proxy's endpoint order). */
  readonly realServers: readonly IpvsRealServerSpec[];
}

export interface IpsetState {
  readonly name: string;
  readonly type: string;
  readonly comment: string;
  readonly entries: readonly string[];
}

export interface IpvsNodeState {
  readonly node: string;
  readonly dummyInterface: typeof DUMMY_INTERFACE;
  /** Addresses on kube-ipvs0, sorted numerically. */
  readonly boundAddresses: readonly string[];
  /** Node addresses that carry NodePort virtual servers. */
  readonly nodePortIPs: readonly string[];
  readonly virtualServers: readonly IpvsVirtualServerSpec[];
  readonly ipsets: IpsetTable;
  /** The remaining iptables rules (nat and filter), as the iptables evaluator loads them. */
  readonly iptables: Ruleset;
  /** `iptables-save` of those rules (iptables 1.8.9, nf_tables), like iptables mode's dump. */
  readonly iptablesSave: string;
  readonly scheduler: SchedulerName;
}

function numericIpSort(a: string, b: string): number {
  if (a.includes(':') || b.includes(':')) {
    const x = parseIPv6(a);
    const y = parseIPv6(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return parseIPv4(a) - parseIPv4(b);
}

function isOfFamily(ipv6: boolean, text: string): boolean {
  return ipv6 ? isIPv6Text(text) : isIPv4(text);
}

/** `cidr.String()` of a Go net.IPNet parsed sloppily: host bits cleared. */
function canonicalCidr(text: string): { text: string; contains: (ip: string) => boolean } {
  if (text.includes(':')) return canonicalCidr6(text);
  const [addr, len] = text.split('/');
  const prefix = len === undefined ? 32 : Number(len);
  if (!isIPv4(addr) || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    throw new IpvsConfigError(`invalid CIDR "${text}"`);
  }
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (parseIPv4(addr) & mask) >>> 0;
  const cidr = { network, prefixLength: prefix };
  const canon = `${network >>> 24}.${(network >>> 16) & 0xff}.${(network >>> 8) & 0xff}.${network & 0xff}/${prefix}`;
  return { text: canon, contains: (ip: string) => cidrContains(cidr, parseIPv4(ip)) };
}

function canonicalCidr6(text: string): { text: string; contains: (ip: string) => boolean } {
  const [addr, len] = text.split('/');
  const prefix = len === undefined ? 128 : Number(len);
  if (!isIPv6Text(addr) || !Number.isInteger(prefix) || prefix < 0 || prefix > 128) {
    throw new IpvsConfigError(`invalid CIDR "${text}"`);
  }
  const mask = prefixMask6(prefix);
  const network = parseIPv6(addr) & mask;
  return {
    text: `${formatIPv6(network)}/${prefix}`,
    contains: (ip: string) => ip.includes(':') && (parseIPv6(ip) & mask) === network,
  };
}

function realServers(endpoints: readonly Endpoint[]): IpvsRealServerSpec[] {
  return endpoints.map((e) => ({ ip: e.ip, port: e.port, weight: 1, podName: e.podName }));
}

/** syncEndpoint's choice: local endpoints when asked and present, else the cluster set. */
function selectEndpoints(
  sp: ServicePort,
  nodeName: string,
  onlyNodeLocal: boolean,
): { selection: EndpointSelection; endpoints: readonly Endpoint[] } {
  const cat = categorizeEndpoints(sp, nodeName);
  const cluster = cat.clusterEndpoints ?? [];
  if (!onlyNodeLocal) return { selection: 'cluster', endpoints: cluster };
  const local = cat.localEndpoints ?? [];
  if (local.length > 0) return { selection: 'local', endpoints: local };
  return { selection: 'local-fallback-cluster', endpoints: cluster };
}

export function resolveScheduler(name: string | undefined): SchedulerName {
  if (name === undefined || name === '') return 'rr';
  if (!isSchedulerName(name)) {
    throw new UnknownSchedulerError(
      `unsupported --ipvs-scheduler "${name}" (dpsim implements rr, wrr, lc, wlc, sed, nq, sh, dh, mh)`,
    );
  }
  return name;
}

export function compileIpvs(
  model: ProxyModel,
  nodeName: string,
  options: IpvsCompileOptions = {},
): IpvsNodeState {
  const node = model.nodes.find((n) => n.name === nodeName);
  if (node === undefined) throw new IpvsConfigError(`node "${nodeName}" is not in the model`);
  const scheduler = resolveScheduler(options.scheduler);
  const masqueradeBit = options.masqueradeBit ?? 14;
  if (!Number.isInteger(masqueradeBit) || masqueradeBit < 0 || masqueradeBit > 31) {
    throw new IpvsConfigError(`invalid masquerade bit ${masqueradeBit}: must be an integer in [0, 31]`);
  }
  const ipv6 = options.family === 'ipv6';
  const nodeAddresses = [...(options.nodeAddresses ?? [node.ip])];
  for (const a of nodeAddresses) {
    if (!isOfFamily(ipv6, a)) throw new IpvsConfigError(`invalid node address "${a}"`);
  }
  const nodeAddressSet = new Set(nodeAddresses.filter((a) => !a.startsWith('127.') && a !== '::1'));
  const nodePortCidrs = (options.nodePortAddresses ?? [])
    .filter((c) => c.includes(':') === ipv6)
    .map(canonicalCidr);
  const primaryNodeIP = node.ip;

  const hasNodePort = model.servicePorts.some((sp) => sp.nodePort !== 0);
  const nodePortIPs = hasNodePort
    ? [...nodeAddressSet]
        .filter((ip) => nodePortCidrs.length === 0 || nodePortCidrs.some((c) => c.contains(ip)))
        .sort(numericIpSort)
    : [];

  const sets = new IpsetTable(ipv6 ? 'inet6' : 'inet');
  const virtualServers: IpvsVirtualServerSpec[] = [];
  const bound = new Set<string>();
  const lbNoNodeAccess: { ip: string; protocol: string; port: number }[] = [];

  for (const sp of model.servicePorts) {
    // Headless / ExternalName / other-family services are not proxied.
    if (!isOfFamily(ipv6, sp.clusterIP)) continue;
    const proto = ipsetProto(sp.protocol);
    const persistent = sp.sessionAffinity === 'ClientIP';
    const flags = (persistent ? SVC_F_PERSISTENT : 0) | (scheduler === 'mh' ? SVC_F_SCHED2 : 0);
    const timeoutS = persistent ? sp.stickyMaxAgeSeconds : 0;
    const vs = (
      kind: VirtualServerKind,
      address: string,
      port: number,
      isBound: boolean,
      onlyLocal: boolean,
    ): void => {
      const { selection, endpoints } = selectEndpoints(sp, nodeName, onlyLocal);
      virtualServers.push({
        kind,
        servicePortName: sp.servicePortName,
        protocol: sp.protocol,
        address,
        port,
        scheduler,
        flags,
        timeoutS,
        bound: isBound,
        endpointSelection: selection,
        realServers: realServers(endpoints),
      });
      if (isBound) bound.add(address);
    };

    for (const e of sp.endpoints) {
      if (e.nodeName === nodeName) sets.get('KUBE-LOOP-BACK').add(`${e.ip},${proto}:${e.port},${e.ip}`);
    }

    sets.get('KUBE-CLUSTER-IP').add(`${sp.clusterIP},${proto}:${sp.port}`);
    vs('ClusterIP', sp.clusterIP, sp.port, true, internalPolicyLocal(sp));

    const eLocal = externalPolicyLocal(sp);
    for (const ip of sp.externalIPs) {
      if (!isOfFamily(ipv6, ip)) continue;
      sets.get(eLocal ? 'KUBE-EXTERNAL-IP-LOCAL' : 'KUBE-EXTERNAL-IP').add(`${ip},${proto}:${sp.port}`);
      vs('ExternalIP', ip, sp.port, !nodeAddressSet.has(ip), eLocal);
    }

    for (const ip of sp.loadBalancerIPs) {
      if (!isOfFamily(ipv6, ip)) continue;
      const entry = `${ip},${proto}:${sp.port}`;
      sets.get('KUBE-LOAD-BALANCER').add(entry);
      if (eLocal) sets.get('KUBE-LOAD-BALANCER-LOCAL').add(entry);
      if (sp.loadBalancerSourceRanges.length > 0) {
        sets.get('KUBE-LOAD-BALANCER-FW').add(entry);
        let allowFromNode = false;
        for (const range of sp.loadBalancerSourceRanges) {
          const c = canonicalCidr(range);
          sets.get('KUBE-LOAD-BALANCER-SOURCE-CIDR').add(`${entry},${c.text}`);
          if (c.contains(primaryNodeIP)) allowFromNode = true;
        }
        if (allowFromNode) sets.get('KUBE-LOAD-BALANCER-SOURCE-IP').add(`${entry},${ip}`);
        else lbNoNodeAccess.push({ ip, protocol: proto, port: sp.port });
      }
      vs('LoadBalancer', ip, sp.port, !nodeAddressSet.has(ip), eLocal);
    }

    if (sp.nodePort !== 0 && nodePortIPs.length > 0) {
      const entries =
        sp.protocol === 'SCTP' ? nodePortIPs.map((ip) => `${ip},sctp:${sp.nodePort}`) : [String(sp.nodePort)];
      const setName =
        sp.protocol === 'TCP'
          ? 'KUBE-NODE-PORT-TCP'
          : sp.protocol === 'UDP'
            ? 'KUBE-NODE-PORT-UDP'
            : 'KUBE-NODE-PORT-SCTP-HASH';
      for (const e of entries) sets.get(setName).add(e);
      if (eLocal) {
        const localName = setName.replace('KUBE-NODE-PORT-', 'KUBE-NODE-PORT-LOCAL-');
        for (const e of entries) sets.get(localName).add(e);
      }
      for (const ip of nodePortIPs) vs('NodePort', ip, sp.nodePort, false, eLocal);
    }

    if (sp.healthCheckNodePort !== 0)
      sets.get('KUBE-HEALTH-CHECK-NODE-PORT').add(String(sp.healthCheckNodePort));
  }

  const boundAddresses = [...bound].sort(numericIpSort);
  for (const a of boundAddresses) sets.get('KUBE-IPVS-IPS').add(a);

  if (model.clusterCIDR !== '') {
    if (ipv6) canonicalCidr6(model.clusterCIDR);
    else parseCidr(model.clusterCIDR);
  }
  const iptables = buildIpvsIptables(sets, {
    masqueradeBit,
    masqueradeAll: options.masqueradeAll ?? false,
    clusterCIDR: model.clusterCIDR,
    randomFully: options.randomFully ?? true,
    lbNoNodeAccess,
  });
  const iptablesSave = renderIptablesSave(iptables, {
    ...(options.saveDate ? { date: options.saveDate } : {}),
    ...(ipv6 ? { ipv6: true } : {}),
  });

  return {
    node: nodeName,
    dummyInterface: DUMMY_INTERFACE,
    boundAddresses,
    nodePortIPs,
    virtualServers,
    ipsets: sets,
    iptables,
    iptablesSave,
    scheduler,
  };
}
