/**
 * kube-proxy nftables-mode object names (pkg/proxy/nftables/proxier.go: hashAndTruncate,
 * servicePortChainNameBase, servicePortEndpointChainNameBase). Names are readable
 * ("ns/svc/tcp/portName") and prefixed with a hash so near-identical names stay distinct.
 */
import { sha256Base32Prefix } from '../../util/sha256-base32.js';
import type { Endpoint, ServicePort } from '../common/model.js';

/** knftables.NameLengthMax (256) minus the longest prefix kube-proxy reserves (16). */
const CHAIN_NAME_BASE_LENGTH_MAX = 240;

/** `base32(sha256(name))[0:8] + "-" + name`, cut to 240 characters ending in "..." when longer. */
export function hashAndTruncate(name: string): string {
  const full = `${sha256Base32Prefix(name, 8)}-${name}`;
  return full.length > CHAIN_NAME_BASE_LENGTH_MAX
    ? `${full.slice(0, CHAIN_NAME_BASE_LENGTH_MAX - 3)}...`
    : full;
}

function protocolLower(sp: ServicePort): string {
  return sp.protocol.toLowerCase();
}

/** e.g. `ULMVA6XW-ns1/svc1/tcp/p80`; an unnamed port leaves a trailing slash. */
export function servicePortChainNameBase(sp: ServicePort): string {
  return hashAndTruncate(`${sp.namespace}/${sp.name}/${protocolLower(sp)}/${sp.portName}`);
}

/** e.g. `5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80` (IPv6 colons would become dots). */
export function endpointChainNameBase(sp: ServicePort, ep: Pick<Endpoint, 'ip' | 'port'>): string {
  const ip = ep.ip.includes(':') ? ep.ip.replaceAll(':', '.') : ep.ip;
  return hashAndTruncate(`${sp.namespace}/${sp.name}/${protocolLower(sp)}/${sp.portName}__${ip}/${ep.port}`);
}

/** The per-service-port chain names kube-proxy derives from one base. */
export interface ServicePortChainNames {
  /** Cluster traffic policy chain (like KUBE-SVC-…). */
  readonly cluster: string;
  /** Local traffic policy chain (like KUBE-SVL-…). */
  readonly local: string;
  /** External destinations chain (like KUBE-EXT-…). */
  readonly external: string;
  /** LoadBalancerSourceRanges chain (like KUBE-FW-…). */
  readonly firewall: string;
}

export function servicePortChainNames(sp: ServicePort): ServicePortChainNames {
  const base = servicePortChainNameBase(sp);
  return {
    cluster: `service-${base}`,
    local: `local-${base}`,
    external: `external-${base}`,
    firewall: `firewall-${base}`,
  };
}

export interface EndpointNames {
  /** Per-endpoint DNAT chain (like KUBE-SEP-…). */
  readonly chain: string;
  /** ClientIP affinity set. */
  readonly affinitySet: string;
}

export function endpointNames(sp: ServicePort, ep: Pick<Endpoint, 'ip' | 'port'>): EndpointNames {
  const base = endpointChainNameBase(sp, ep);
  return { chain: `endpoint-${base}`, affinitySet: `affinity-${base}` };
}
