/**
 * A pod's /etc/resolv.conf as the kubelet writes it (pkg/kubelet/network/dns): with the default
 * `dnsPolicy: ClusterFirst`, the cluster DNS Service as nameserver, the namespace's search list
 * and `options ndots:5`; `dnsConfig` adds nameservers and searches and overrides options by name;
 * `dnsPolicy: None` takes dnsConfig alone. `Default` (and ClusterFirst on the host network) gives
 * the node's resolv.conf, which in dpsim names no nameserver: nodes have no cluster DNS.
 */
import type { Pod } from 'kubernetes-types/core/v1.js';
import { isIPv4, parseIPv4 } from '../util/ipv4.js';

/** The resolver settings glibc reads from resolv.conf (the ones dpsim's resolver models). */
export interface ResolvConf {
  readonly nameservers: readonly string[];
  readonly search: readonly string[];
  readonly ndots: number;
  /** `timeout:n`, seconds (glibc's default 5). */
  readonly timeoutS: number;
  /** `attempts:n` (glibc's default 2). */
  readonly attempts: number;
  /** `single-request`: A, then AAAA once the A reply is in, from the same socket. */
  readonly singleRequest: boolean;
  /** `single-request-reopen`: A, then AAAA from a new socket once the A reply is in. */
  readonly singleRequestReopen: boolean;
  /** `use-vc`: queries over TCP. */
  readonly useVc: boolean;
  /** Options given that the resolver does not model, as written. */
  readonly otherOptions: readonly string[];
}

export const GLIBC_DEFAULTS = { ndots: 1, timeoutS: 5, attempts: 2 } as const;
/** The kubelet's ndots for ClusterFirst pods. */
export const KUBELET_NDOTS = 5;

/** The node's resolv.conf in dpsim: no nameserver (glibc then tries the local host). */
export const NODE_RESOLV_CONF: ResolvConf = {
  nameservers: [],
  search: [],
  ...GLIBC_DEFAULTS,
  singleRequest: false,
  singleRequestReopen: false,
  useVc: false,
  otherOptions: [],
};

export interface ClusterDnsSettings {
  /** The kubelet's --cluster-dns. */
  readonly clusterDNS: string;
  /** The kubelet's --cluster-domain. */
  readonly clusterDomain: string;
}

/** What the kubelet writes into the pod's resolv.conf. */
export function podResolvConf(pod: Pod, dns: ClusterDnsSettings | undefined): ResolvConf {
  const ns = pod.metadata?.namespace ?? 'default';
  const policy = pod.spec?.dnsPolicy ?? 'ClusterFirst';
  const hostNet = pod.spec?.hostNetwork === true;
  let nameservers: string[] = [];
  let search: string[] = [];
  const options: [string, string | undefined][] = [];
  if (
    dns !== undefined &&
    (policy === 'ClusterFirstWithHostNet' || (policy === 'ClusterFirst' && !hostNet))
  ) {
    const d = dns.clusterDomain;
    nameservers = [dns.clusterDNS];
    search = [`${ns}.svc.${d}`, `svc.${d}`, d];
    options.push(['ndots', String(KUBELET_NDOTS)]);
  }
  const cfg = pod.spec?.dnsConfig;
  if (cfg !== undefined) {
    nameservers = [...new Set([...nameservers, ...(cfg.nameservers ?? [])])];
    search = [...new Set([...search, ...(cfg.searches ?? [])])];
    for (const o of cfg.options ?? []) {
      if (o.name === undefined) continue;
      const i = options.findIndex(([n]) => n === o.name);
      if (i >= 0) options[i] = [o.name, o.value];
      else options.push([o.name, o.value]);
    }
  }
  return fromParts(nameservers, search, options);
}

function fromParts(
  nameservers: string[],
  search: string[],
  options: [string, string | undefined][],
): ResolvConf {
  let ndots: number = GLIBC_DEFAULTS.ndots;
  let timeoutS: number = GLIBC_DEFAULTS.timeoutS;
  let attempts: number = GLIBC_DEFAULTS.attempts;
  let singleRequest = false;
  let singleRequestReopen = false;
  let useVc = false;
  const other: string[] = [];
  const num = (v: string | undefined, max: number) =>
    Math.min(max, Math.max(0, Number.parseInt(v ?? '', 10) || 0));
  for (const [name, value] of options) {
    switch (name) {
      case 'ndots':
        ndots = num(value, 15);
        break;
      case 'timeout':
        timeoutS = Math.max(1, num(value, 30));
        break;
      case 'attempts':
        attempts = Math.max(1, num(value, 5));
        break;
      case 'single-request':
        singleRequest = true;
        break;
      case 'single-request-reopen':
        singleRequestReopen = true;
        break;
      case 'use-vc':
        useVc = true;
        break;
      default:
        other.push(value === undefined ? name : `${name}:${value}`);
    }
  }
  // glibc reads at most 3 nameservers (MAXNS) and 6 search domains.
  return {
    nameservers: nameservers.filter(isIPv4).slice(0, 3),
    search: search.slice(0, 6),
    ndots,
    timeoutS,
    attempts,
    singleRequest,
    singleRequestReopen,
    useVc,
    otherOptions: other,
  };
}

/** The file's text, as the kubelet writes it. */
export function formatResolvConf(conf: ResolvConf): string {
  const lines: string[] = [];
  if (conf.search.length > 0) lines.push(`search ${conf.search.join(' ')}`);
  for (const n of conf.nameservers) lines.push(`nameserver ${n}`);
  const opts: string[] = [];
  if (conf.ndots !== GLIBC_DEFAULTS.ndots) opts.push(`ndots:${conf.ndots}`);
  if (conf.timeoutS !== GLIBC_DEFAULTS.timeoutS) opts.push(`timeout:${conf.timeoutS}`);
  if (conf.attempts !== GLIBC_DEFAULTS.attempts) opts.push(`attempts:${conf.attempts}`);
  if (conf.singleRequest) opts.push('single-request');
  if (conf.singleRequestReopen) opts.push('single-request-reopen');
  if (conf.useVc) opts.push('use-vc');
  opts.push(...conf.otherOptions);
  if (opts.length > 0) lines.push(`options ${opts.join(' ')}`);
  return lines.map((l) => `${l}\n`).join('');
}

/** The names glibc's res_nsearch tries, in order, for `name` (ndots and the search list). */
export function searchCandidates(name: string, conf: ResolvConf): string[] {
  if (name.endsWith('.')) return [name.slice(0, -1)];
  const dots = name.split('.').length - 1;
  const withSearch = conf.search.map((d) => `${name}.${d}`);
  // Enough dots: the name as given first, then the search list; otherwise the search list first.
  return dots >= conf.ndots ? [name, ...withSearch] : [...withSearch, name];
}

export function nameserverAddresses(conf: ResolvConf): number[] {
  // No nameserver line: glibc queries the local host (INADDR_LOOPBACK).
  return conf.nameservers.length === 0 ? [parseIPv4('127.0.0.1')] : conf.nameservers.map(parseIPv4);
}
