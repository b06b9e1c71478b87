/**
 * Points a rule the tracer reported at the lines of the node's rendered dump, so the page
 * can highlight the very rule inside `iptables-save`, `nft list table`, `ipvsadm -Ln` or
 * `bpftool map dump` output. The dumps are the modes' own renderings; the matching is by
 * exact text within the table/chain the tracer named, never by guesswork across tables.
 */
import type { RuleTraceEvent } from '../proxy/common/datapath.js';

/** iptables-save: the rule line `-A CHAIN …` inside `*table`, or the chain's policy line. */
function iptablesLines(dump: readonly string[], e: RuleTraceEvent): number[] {
  let inTable = false;
  for (let i = 0; i < dump.length; i++) {
    const line = dump[i];
    if (line.startsWith('*')) inTable = line === `*${e.table}`;
    else if (inTable) {
      if (e.ruleIndex < 0 ? line.startsWith(`:${e.chain} `) : line === e.ruleText) return [i];
    }
  }
  return [];
}

/** nft: the rule inside `chain NAME { … }`; the policy is on the chain's `type … hook …` line. */
function nftLines(dump: readonly string[], e: RuleTraceEvent): number[] {
  const start = dump.findIndex((l) => l.trim() === `chain ${e.chain} {`);
  if (start < 0) return [];
  for (let i = start + 1; i < dump.length && dump[i].trim() !== '}'; i++) {
    const text = dump[i].trim();
    if (e.ruleIndex < 0 ? text.includes(e.ruleText) : text === e.ruleText) return [i];
  }
  return [];
}

/**
 * nft: a rule that dispatched through a verdict map (`… vmap @service-ips`) went on to the
 * chain its element names; the element's line inside `map NAME { elements = { … } }`
 * (the line with `: goto CHAIN` / `: jump CHAIN`) is the entry that matched.
 */
export function nftVmapElementLines(dump: readonly string[], ruleText: string, nextChain: string): number[] {
  const m = /vmap @(\S+)/.exec(ruleText);
  if (m === null) return [];
  const start = dump.findIndex((l) => l.trim() === `map ${m[1]} {`);
  if (start < 0) return [];
  const lines: number[] = [];
  for (let i = start + 1; i < dump.length && dump[i].trim() !== '}'; i++) {
    const l = dump[i];
    if (l.includes(`: goto ${nextChain},`) || l.includes(`: jump ${nextChain},`)) lines.push(i);
    else if (l.endsWith(`: goto ${nextChain} }`) || l.endsWith(`: jump ${nextChain} }`)) lines.push(i);
    else if (l.endsWith(`: goto ${nextChain}`) || l.endsWith(`: jump ${nextChain}`)) lines.push(i);
  }
  return lines;
}

/**
 * IPVS: the tracer reports `TCP client → VIP:port → RIP:port`; highlight the virtual
 * service line and the real server the connection was scheduled to.
 */
function ipvsLines(dump: readonly string[], e: RuleTraceEvent): number[] {
  const parts = e.ruleText.split(' → ');
  if (parts.length !== 3) return [];
  const proto = parts[0].split(' ')[0];
  const vip = parts[1].trim();
  const rip = parts[2].trim();
  const start = dump.findIndex((l) => l.startsWith(`${proto}  ${vip} `));
  if (start < 0) return [];
  for (let i = start + 1; i < dump.length && dump[i].startsWith('  -> '); i++)
    if (dump[i].startsWith(`  -> ${rip} `)) return [start, i];
  return [start];
}

/** Dump lines of one traced rule (empty when the dump has no line for it, e.g. a BPF verdict). */
export function ruleLines(dump: readonly string[], e: RuleTraceEvent): number[] {
  if (e.table === 'ipvs') return ipvsLines(dump, e);
  if (e.table === 'ip kube-proxy') return nftLines(dump, e);
  if (e.table === 'nat' || e.table === 'filter' || e.table === 'mangle' || e.table === 'raw')
    return iptablesLines(dump, e);
  return [];
}

/** An address and port as the bytes BPF maps store them (network order), in bpftool's hex. */
export function addrPortHex(addrPort: string): string {
  const [ip, port] = addrPort.split(':');
  const bytes = ip.split('.').map(Number);
  const p = Number(port);
  bytes.push(p >> 8, p & 0xff);
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

function ipHex(ip: string): string {
  return ip
    .split('.')
    .map((b) => Number(b).toString(16).padStart(2, '0'))
    .join(' ');
}

/** One `key: … value: …` entry of a bpftool dump, possibly spanning lines, with its map. */
interface MapEntry {
  map: string;
  lines: number[];
  key: string;
  value: string;
}

function squash(hex: string): string {
  return hex.trim().replace(/\s+/g, ' ');
}

function mapEntries(dump: readonly string[]): MapEntry[] {
  const entries: MapEntry[] = [];
  let map = '';
  let current: MapEntry | null = null;
  let into: 'key' | 'value' = 'key';
  for (let i = 0; i < dump.length; i++) {
    const line = dump[i];
    const header = /^# bpftool map dump pinned \S*\/(\S+)$/.exec(line);
    if (header !== null) {
      map = header[1];
      current = null;
      continue;
    }
    if (line.startsWith('Found ') || line === '') {
      current = null;
      continue;
    }
    const inline = /^key: ([0-9a-f ]+?)\s+value: ([0-9a-f ]+)$/.exec(line);
    if (inline !== null) {
      entries.push({ map, lines: [i], key: squash(inline[1]), value: squash(inline[2]) });
      current = null;
      continue;
    }
    if (line === 'key:') {
      current = { map, lines: [i], key: '', value: '' };
      entries.push(current);
      into = 'key';
      continue;
    }
    if (current === null) continue;
    current.lines.push(i);
    if (line === 'value:') into = 'value';
    else current[into] += `${current[into] === '' ? '' : ' '}${squash(line)}`;
  }
  return entries;
}

/**
 * eBPF mode: the map entries a connection's first packet looked up, found by the bytes the
 * datapath keys them with — the service entries of the frontend (master slot and backend
 * slots), the chosen backend, the frontend's reverse-NAT entry, and the connection's CT
 * entries (keyed by the client's address with the frontend's or the backend's).
 */
export function ebpfLookupHits(
  dump: readonly string[],
  frontend: string,
  backend: string,
  client: string,
): { table: string; chain: string; text: string; lines: number[] }[] {
  const fe = addrPortHex(frontend);
  const be = addrPortHex(backend);
  const clientIp = ipHex(client.split(':')[0]);
  const clientPort = addrPortHex(client).split(' ').slice(4).join(' ');
  const feIp = ipHex(frontend.split(':')[0]);
  const beIp = ipHex(backend.split(':')[0]);
  const hits: { table: string; chain: string; text: string; lines: number[] }[] = [];
  const entries = mapEntries(dump);
  const add = (e: MapEntry, text: string) => hits.push({ table: 'bpf', chain: e.map, text, lines: e.lines });
  // In the order the datapath reads them: the frontend's service entries (master, then the
  // slot it picked), the backend that slot names, then reverse NAT and conntrack.
  const backendIds = new Set<string>();
  for (const e of entries)
    if (e.map.startsWith('cilium_lb4_backends') && e.value.startsWith(be)) backendIds.add(e.key);
  const slotOf = (e: MapEntry) => {
    const slot = e.key.split(' ').slice(6, 8);
    return Number.parseInt(slot[1] + slot[0], 16);
  };
  const services = entries
    .filter((e) => e.map.startsWith('cilium_lb4_services') && e.key.startsWith(fe))
    .sort((a, b) => slotOf(a) - slotOf(b));
  for (const e of services) {
    const slotNo = slotOf(e);
    const backendId = e.value.split(' ').slice(0, 4).join(' ');
    if (slotNo === 0) add(e, `service ${frontend}: master entry (slot 0)`);
    else if (backendIds.has(backendId)) add(e, `service ${frontend}: slot ${slotNo} → backend ${backendId}`);
  }
  for (const e of entries)
    if (e.map.startsWith('cilium_lb4_backends') && backendIds.has(e.key))
      add(e, `backend ${e.key} = ${backend}`);
  for (const e of entries)
    if (e.map.startsWith('cilium_lb4_reverse_nat') && e.value === fe)
      add(e, `reverse NAT ${e.key} → ${frontend}`);
  for (const e of entries)
    if (
      e.map.startsWith('cilium_ct4') &&
      e.key.includes(clientIp) &&
      e.key.includes(clientPort) &&
      (e.key.includes(feIp) || e.key.includes(beIp))
    )
      add(e, `conntrack entry ${e.key}`);
  return hits;
}

/** eBPF CT entries of a connection, as dump text (the page's conntrack view in eBPF mode). */
export function ebpfConntrackLines(
  dump: readonly string[],
  frontend: string,
  backend: string,
  client: string,
) {
  const lines: string[] = [];
  for (const h of ebpfLookupHits(dump, frontend, backend, client))
    if (h.chain.startsWith('cilium_ct4')) lines.push(`${h.chain}: ${h.lines.map((i) => dump[i]).join(' ')}`);
  return lines;
}
