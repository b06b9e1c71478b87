/**
 * The probability that a new connection to a service port lands on each endpoint, read
 * back from a node's rendered rules (not from the model that produced them), so the page
 * compares what the rules say with what a load run observed:
 *   iptables  the KUBE-SVC chain's `-m statistic --mode random --probability p` cascade
 *   nftables  `numgen random mod N vmap { … }`: 1/N per element
 *   IPVS      the virtual service's real-server weights (`ipvsadm -Ln`)
 *   eBPF      the service map's backend slots for the ClusterIP frontend
 */
import type { ServicePort } from '../proxy/common/model.js';
import { addrPortHex } from './rule-lines.js';

export interface RuleProbabilities {
  readonly source: string;
  /** `ip:port` → probability. */
  readonly byEndpoint: ReadonlyMap<string, number>;
}

function iptablesProbabilities(dump: readonly string[], sp: ServicePort): RuleProbabilities {
  const byEndpoint = new Map<string, number>();
  let remaining = 1;
  const prefix = `-A KUBE-SVC-`;
  for (const line of dump) {
    if (!line.startsWith(prefix) || !line.includes('-j KUBE-SEP-')) continue;
    const m = /--comment "?([^"]+?) -> (\S+?)"? /.exec(line);
    if (m === null || m[1] !== sp.servicePortName) continue;
    const stat = /--probability ([0-9.]+)/.exec(line);
    const p = stat === null ? remaining : remaining * Number(stat[1]);
    byEndpoint.set(m[2], p);
    remaining -= p;
  }
  return { source: 'iptables -m statistic --mode random --probability cascade', byEndpoint };
}

function nftProbabilities(dump: readonly string[], sp: ServicePort): RuleProbabilities {
  const byEndpoint = new Map<string, number>();
  const chain = `${sp.namespace}/${sp.name}/${sp.protocol.toLowerCase()}/${sp.portName}`;
  const start = dump.findIndex((l) => /^\s*chain service-\w+-/.test(l) && l.trim().endsWith(`-${chain} {`));
  for (let i = start + 1; start >= 0 && i < dump.length && dump[i].trim() !== '}'; i++) {
    const m = /numgen random mod (\d+) vmap \{ (.*) \}/.exec(dump[i]);
    if (m === null) continue;
    const n = Number(m[1]);
    for (const el of m[2].split(', ')) {
      const ep = /__([0-9.]+)\/(\d+)$/.exec(el);
      if (ep !== null)
        byEndpoint.set(`${ep[1]}:${ep[2]}`, (byEndpoint.get(`${ep[1]}:${ep[2]}`) ?? 0) + 1 / n);
    }
  }
  return { source: 'nft numgen random mod N vmap', byEndpoint };
}

function ipvsProbabilities(dump: readonly string[], sp: ServicePort): RuleProbabilities {
  const weights = new Map<string, number>();
  const proto = sp.protocol;
  const start = dump.findIndex((l) => l.startsWith(`${proto}  ${sp.clusterIP}:${sp.port} `));
  const scheduler = start >= 0 ? dump[start].trim().split(/\s+/)[2] : '?';
  for (let i = start + 1; start >= 0 && i < dump.length && dump[i].startsWith('  -> '); i++) {
    const cols = dump[i].trim().split(/\s+/);
    weights.set(cols[1], Number(cols[3]));
  }
  const total = [...weights.values()].reduce((a, b) => a + b, 0);
  const byEndpoint = new Map<string, number>();
  for (const [ep, w] of weights) byEndpoint.set(ep, total > 0 ? w / total : 0);
  return { source: `ipvsadm real-server weights (scheduler ${scheduler})`, byEndpoint };
}

function ebpfProbabilities(dump: readonly string[], sp: ServicePort): RuleProbabilities {
  const fe = addrPortHex(`${sp.clusterIP}:${sp.port}`).replace(/ /g, '');
  // Backend id → address from cilium_lb4_backends, then the frontend's slots.
  const backends = new Map<string, string>();
  const slots: string[] = [];
  let maglev = false;
  let map = '';
  for (const line of dump) {
    const h = /^# bpftool map dump pinned \S*\/(\S+)$/.exec(line);
    if (h !== null) map = h[1];
    const m = /^key: ([0-9a-f ]+?)\s+value: ([0-9a-f ]+)$/.exec(line);
    if (m === null) continue;
    if (map.startsWith('cilium_lb4_maglev')) maglev = true;
    const key = m[1].replace(/\s+/g, '');
    const value = m[2].replace(/\s+/g, '');
    if (map.startsWith('cilium_lb4_backends')) {
      const b = value.slice(0, 12);
      const ip = [0, 2, 4, 6].map((o) => Number.parseInt(b.slice(o, o + 2), 16)).join('.');
      backends.set(key, `${ip}:${Number.parseInt(b.slice(8, 12), 16)}`);
    } else if (map.startsWith('cilium_lb4_services') && key.startsWith(fe) && key.slice(12, 16) !== '0000') {
      slots.push(value.slice(0, 8));
    }
  }
  const byEndpoint = new Map<string, number>();
  for (const id of slots) {
    const ep = backends.get(id);
    if (ep !== undefined) byEndpoint.set(ep, (byEndpoint.get(ep) ?? 0) + 1 / slots.length);
  }
  return {
    source: maglev
      ? 'Maglev: cilium_lb4_maglev picks the backend (its lookup table is not in the dump; backend slots of cilium_lb4_services_v2 shown)'
      : 'cilium_lb4_services_v2 backend slots, one picked at random',
    byEndpoint,
  };
}

export function ruleProbabilities(mode: string, dump: readonly string[], sp: ServicePort): RuleProbabilities {
  switch (mode) {
    case 'iptables':
      return iptablesProbabilities(dump, sp);
    case 'nftables':
      return nftProbabilities(dump, sp);
    case 'ipvs':
      return ipvsProbabilities(dump, sp);
    default:
      return ebpfProbabilities(dump, sp);
  }
}
