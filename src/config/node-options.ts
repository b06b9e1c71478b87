/**
 * One node's proxy settings, derived as kube-proxy (or Cilium's agent) derives them at
 * start-up: the KubeProxyConfiguration (or kube-proxy's defaults) combined with what it
 * probes on the node (kernel facts, the node's addresses and podCIDR), turned into the
 * compile options of each mode and the node's conntrack sysctls.
 */
import { type ConntrackTimeouts, kubeProxyTimeouts } from '../conntrack/index.js';
import { TcpCtState } from '../conntrack/tcp-state.js';
import type { EbpfOptions } from '../proxy/ebpf/compile.js';
import type { IptablesCompileOptions, LocalTrafficDetector } from '../proxy/iptables/compile.js';
import type { IpvsCompileOptions } from '../proxy/ipvs/compile.js';
import type { IpvsTimeouts } from '../proxy/ipvs/datapath.js';
import { DEFAULT_IPVS_TIMEOUTS } from '../proxy/ipvs/datapath.js';
import type { NftCompileOptions } from '../proxy/nftables/compile.js';
import { parseCidr } from '../util/ipv4.js';
import type { CiliumConfig } from './cilium-values.js';
import {
  DEFAULT_KERNEL_FACTS,
  type KernelFacts,
  kernelAtLeast,
  NFTABLES_MIN_KERNEL,
} from './kernel-facts.js';
import {
  KUBE_PROXY_CONFIG_API_VERSION,
  KUBE_PROXY_CONFIG_KIND,
  type KubeProxyConfig,
  parseKubeProxyConfiguration,
} from './kube-proxy-config.js';

/** What the proxy sees of its node. */
export interface NodeFacts {
  readonly name: string;
  /** InternalIP first, then any other address of the node. */
  readonly addresses: readonly string[];
  readonly podCIDR: string;
  readonly kernel: KernelFacts;
}

export class NodeSettingsError extends Error {
  override name = 'NodeSettingsError';
}

/**
 * kube-proxy's configuration when the user gives none: its defaults, with the cluster CIDR
 * the cluster was built with (kubespray and kubeadm both put it in the ConfigMap).
 */
export function defaultKubeProxyConfig(clusterCIDR: string): KubeProxyConfig {
  return parseKubeProxyConfiguration({
    apiVersion: KUBE_PROXY_CONFIG_API_VERSION,
    kind: KUBE_PROXY_CONFIG_KIND,
    clusterCIDR,
  });
}

/** A node as the model alone describes it: one address, today's kernel facts. */
export function plainNodeFacts(name: string, ip: string, podCIDR: string): NodeFacts {
  return { name, addresses: [ip], podCIDR, kernel: DEFAULT_KERNEL_FACTS };
}

const firstIPv4Cidr = (list: string): string =>
  list
    .split(',')
    .map((c) => c.trim())
    .find((c) => c !== '' && !c.includes(':')) ?? '';

/** The detect-local mode in effect ('' means ClusterCIDR). */
function detectMode(kp: KubeProxyConfig): string {
  return kp.detectLocalMode === '' ? 'ClusterCIDR' : kp.detectLocalMode;
}

/** kube-proxy's LocalTrafficDetector for iptables rules; null when there is none. */
export function iptablesLocalDetector(kp: KubeProxyConfig, node: NodeFacts): LocalTrafficDetector | null {
  switch (detectMode(kp)) {
    case 'NodeCIDR':
      return node.podCIDR === ''
        ? null
        : { ifLocal: `-s ${node.podCIDR}`, ifNotLocal: `! -s ${node.podCIDR}` };
    case 'BridgeInterface': {
      const b = kp.detectLocal.bridgeInterface;
      return { ifLocal: `-i ${b}`, ifNotLocal: `! -i ${b}` };
    }
    case 'InterfaceNamePrefix': {
      const p = kp.detectLocal.interfaceNamePrefix;
      return { ifLocal: `-i ${p}+`, ifNotLocal: `! -i ${p}+` };
    }
    default: {
      const cidr = canonical(firstIPv4Cidr(kp.clusterCIDR));
      return cidr === '' ? null : { ifLocal: `-s ${cidr}`, ifNotLocal: `! -s ${cidr}` };
    }
  }
}

function canonical(cidr: string): string {
  if (cidr === '') return '';
  const c = parseCidr(cidr);
  const n = c.network >>> 0;
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${c.prefixLength}`;
}

/** nodePortAddresses as CIDRs: 'primary' becomes the node's InternalIP/32; unset stays empty. */
function nodePortCidrs(kp: KubeProxyConfig, node: NodeFacts): string[] {
  if (kp.nodePortAddresses.length === 1 && kp.nodePortAddresses[0] === 'primary')
    return [`${node.addresses[0]}/32`];
  return kp.nodePortAddresses.filter((c) => !c.includes(':'));
}

function inCidr(ip: string, cidr: string): boolean {
  const c = parseCidr(cidr);
  const mask = c.prefixLength === 0 ? 0 : (0xffffffff << (32 - c.prefixLength)) >>> 0;
  const [a, b, cc, d] = ip.split('.').map(Number);
  return (((a << 24) | (b << 16) | (cc << 8) | d) & mask) >>> 0 === c.network >>> 0;
}

export function iptablesOptions(kp: KubeProxyConfig, node: NodeFacts): IptablesCompileOptions {
  return {
    masqueradeBit: kp.iptables.masqueradeBit,
    masqueradeAll: kp.iptables.masqueradeAll,
    localhostNodePorts: kp.iptables.localhostNodePorts,
    randomFully: node.kernel.iptablesRandomFully,
    nfacct: node.kernel.nfacct,
    // kube-proxy sets the sysctl when asked, then reads it back to decide on the DROP rule.
    conntrackTCPLiberal: node.kernel.tcpBeLiberal || kp.conntrack.tcpBeLiberal,
    localTrafficDetector: iptablesLocalDetector(kp, node),
    nodePortAddresses: nodePortCidrs(kp, node),
    nodeAddresses: node.addresses,
  };
}

export function nftablesOptions(kp: KubeProxyConfig, node: NodeFacts): NftCompileOptions {
  if (!kernelAtLeast(node.kernel.version, NFTABLES_MIN_KERNEL)) {
    throw new NodeSettingsError(
      `node ${node.name}: kube-proxy's nftables mode needs kernel ${NFTABLES_MIN_KERNEL} or later, the node runs ${node.kernel.version}`,
    );
  }
  const mode = detectMode(kp);
  if (mode === 'BridgeInterface' || mode === 'InterfaceNamePrefix') {
    throw new NodeSettingsError(
      `detectLocalMode ${mode} is not modelled in nftables mode (dpsim's nftables rules have no iifname match); use ClusterCIDR or NodeCIDR`,
    );
  }
  const detector =
    mode === 'NodeCIDR'
      ? node.podCIDR === ''
        ? null
        : node.podCIDR
      : firstIPv4Cidr(kp.clusterCIDR) === ''
        ? null
        : canonical(firstIPv4Cidr(kp.clusterCIDR));
  const cidrs = nodePortCidrs(kp, node);
  const common = {
    masqueradeBit: kp.nftables.masqueradeBit,
    masqueradeAll: kp.nftables.masqueradeAll,
    localDetectorCIDR: detector,
  };
  // Unset means 'primary' in nftables mode; a 0.0.0.0/0 entry matches every local address.
  if (cidrs.some((c) => c.endsWith('/0'))) return { ...common, nodePortAddresses: 'all' };
  const ips =
    cidrs.length === 0
      ? [node.addresses[0]]
      : node.addresses.filter((ip) => !ip.startsWith('127.') && cidrs.some((c) => inCidr(ip, c)));
  return { ...common, nodePortAddresses: 'primary', nodePortIPs: ips };
}

export function ipvsOptions(kp: KubeProxyConfig, node: NodeFacts): IpvsCompileOptions {
  return {
    scheduler: kp.ipvs.scheduler,
    masqueradeAll: kp.iptables.masqueradeAll,
    masqueradeBit: kp.iptables.masqueradeBit,
    nodeAddresses: node.addresses,
    nodePortAddresses: nodePortCidrs(kp, node),
    randomFully: node.kernel.iptablesRandomFully,
  };
}

/** ipvs.tcpTimeout / tcpFinTimeout / udpTimeout: 0 keeps the kernel's value. */
export function ipvsTimeouts(kp: KubeProxyConfig): IpvsTimeouts {
  const s = (ns: number, d: number) => (ns > 0 ? ns / 1e9 : d);
  return {
    tcpEstablishedS: s(kp.ipvs.tcpTimeoutNs, DEFAULT_IPVS_TIMEOUTS.tcpEstablishedS),
    tcpFinWaitS: s(kp.ipvs.tcpFinTimeoutNs, DEFAULT_IPVS_TIMEOUTS.tcpFinWaitS),
    udpS: s(kp.ipvs.udpTimeoutNs, DEFAULT_IPVS_TIMEOUTS.udpS),
  };
}

/**
 * The conntrack sysctls kube-proxy sets at start-up: nf_conntrack_max from maxPerCore × CPUs
 * (at least `min`; maxPerCore 0 leaves the kernel's value, `fallbackMax`), and the timeouts
 * that are > 0.
 */
export function conntrackSettings(
  kp: KubeProxyConfig,
  node: NodeFacts,
  fallbackMax: number,
): { max: number; timeouts: ConntrackTimeouts } {
  const c = kp.conntrack;
  const max = c.maxPerCore > 0 ? Math.max(c.maxPerCore * node.kernel.cpus, c.min) : fallbackMax;
  const t = kubeProxyTimeouts();
  const sec = (ns: number) => Math.round(ns / 1e9);
  t.tcp[TcpCtState.ESTABLISHED] = c.tcpEstablishedTimeoutNs > 0 ? sec(c.tcpEstablishedTimeoutNs) : 432000;
  t.tcp[TcpCtState.CLOSE_WAIT] = c.tcpCloseWaitTimeoutNs > 0 ? sec(c.tcpCloseWaitTimeoutNs) : 60;
  if (c.udpTimeoutNs > 0) t.udp = sec(c.udpTimeoutNs);
  if (c.udpStreamTimeoutNs > 0) t.udpStream = sec(c.udpStreamTimeoutNs);
  return { max, timeouts: t };
}

/** Cilium's values as the eBPF compiler's options. */
export function ebpfOptions(cilium: CiliumConfig): EbpfOptions {
  return {
    algorithm: cilium.algorithm,
    maglevTableSize: cilium.maglevTableSize,
    maglevHashSeed: cilium.maglevHashSeed,
    mapSizes: cilium.mapSizes,
    externalClusterIP: cilium.lbExternalClusterIP,
  };
}
