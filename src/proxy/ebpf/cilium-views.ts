/**
 * The agent-side views a Cilium user reads a node's load balancer with, from the same maps
 * the datapath uses:
 * - `renderCiliumServiceList`: `cilium-dbg service list` (ID, Frontend, Service Type, Backend,
 *   one backend per line, `N => addr:port/PROTO (state)`);
 * - `renderCiliumCtList`: `cilium-dbg bpf ct list global` (one line per CT entry: tuple,
 *   `service` for the LB's service entries, lifetime, counters, flags, RevNAT).
 * `cilium-dbg bpf lb list` is renderCiliumLbList in render.ts. Control-plane code: clarity over
 * speed.
 */
import type { BpfInlineHashMap } from '../../maps/index.js';
import { formatIPv4 } from '../../util/ipv4.js';
import type { EbpfLoadBalancer } from './compile.js';
import { BACKEND_STATE_NAMES, CtEntryFlag, TupleFlag } from './layouts.js';
import { serviceFlagsString, tabwrite } from './render.js';

const PROTO_NAMES: Record<number, string> = { 6: 'TCP', 17: 'UDP', 132: 'SCTP', 1: 'ICMP' };

/** `cilium-dbg service list`: one row per frontend, ordered by service ID. */
export function renderCiliumServiceList(lb: EbpfLoadBalancer): string {
  const m = lb.maps;
  interface Frontend {
    id: number;
    address: string;
    type: string;
    backends: Map<number, string>;
  }
  const frontends = new Map<string, Frontend>();
  m.services.forEach((_i, ko, vo) => {
    const k = m.services.keys;
    const v = m.services.values;
    const port = k[ko + 1] & 0xffff;
    const slot = k[ko + 1] >>> 16;
    const proto = PROTO_NAMES[k[ko + 2] & 0xff] ?? 'ANY';
    const scope = k[ko + 2] >>> 8;
    // The internal-scope twin of a two-scope frontend is the same Service for the agent.
    const key = `${formatIPv4(k[ko])}:${port}/${proto}`;
    const fe = frontends.get(key) ?? { id: 0, address: key, type: '', backends: new Map<number, string>() };
    frontends.set(key, fe);
    if (slot === 0) {
      if (scope === 0) {
        fe.id = v[vo + 1] >>> 16;
        fe.type = serviceFlagsString(v[vo + 2] & 0xff, (v[vo + 2] >>> 8) & 0xff).split(', ')[0];
      }
      return;
    }
    if (scope !== 0) return;
    const o = m.backendOffset(v[vo]);
    if (o < 0) return;
    const bv = m.backends.values;
    const bproto = PROTO_NAMES[(bv[o + 1] >>> 16) & 0xff] ?? 'ANY';
    const state = BACKEND_STATE_NAMES[bv[o + 1] >>> 24] ?? 'active';
    fe.backends.set(slot, `${formatIPv4(bv[o])}:${bv[o + 1] & 0xffff}/${bproto} (${state})`);
  });
  const rows: string[][] = [['ID', 'Frontend', 'Service Type', 'Backend']];
  for (const fe of [...frontends.values()].sort((a, b) => a.id - b.id || (a.address < b.address ? -1 : 1))) {
    // Maglev and random fill slots with repeats of the same backends: list each backend once.
    const backends = [...new Set([...fe.backends.entries()].sort((a, b) => a[0] - b[0]).map(([, t]) => t))];
    if (backends.length === 0) rows.push([String(fe.id), fe.address, fe.type, '']);
    for (let i = 0; i < backends.length; i++) {
      const backend = `${i + 1} => ${backends[i]}`;
      rows.push(i === 0 ? [String(fe.id), fe.address, fe.type, backend] : ['', '', '', backend]);
    }
  }
  return tabwrite(rows);
}

function ctFlagsString(flags: number): string {
  const names: string[] = [];
  if (flags & CtEntryFlag.RX_CLOSING) names.push('RxClosing');
  if (flags & CtEntryFlag.TX_CLOSING) names.push('TxClosing');
  if (flags & CtEntryFlag.LB_LOOPBACK) names.push('LBLoopback');
  if (flags & CtEntryFlag.SEEN_NON_SYN) names.push('SeenNonSyn');
  if (flags & CtEntryFlag.NODE_PORT) names.push('NodePort');
  return `Flags=0x${flags.toString(16).padStart(4, '0')} [ ${names.map((n) => `${n} `).join('')}]`;
}

function ctLines(
  map: BpfInlineHashMap,
  endpoint: (addr: number, port: number) => string,
  out: string[],
): void {
  map.forEach((_i, ko, vo) => {
    const k = map.keys;
    const v = map.values;
    const flags = k[ko + 3] >>> 8;
    const proto = PROTO_NAMES[k[ko + 3] & 0xff] ?? String(k[ko + 3] & 0xff);
    const dir = flags & TupleFlag.IN ? 'IN' : 'OUT';
    const service = (flags & TupleFlag.SERVICE) !== 0;
    // As cilium-dbg's CtKey4Global.Dump(reverse=true) prints the key (Cilium issue 5848): the
    // C struct's daddr with its first port field, then saddr with the second.
    const src = endpoint(k[ko], k[ko + 2] >>> 16);
    const dst = endpoint(k[ko + 1], k[ko + 2] & 0xffff);
    const related = flags & TupleFlag.RELATED ? 'related ' : '';
    const entryFlags = v[vo + 1] & 0xffff;
    const revNat = v[vo + 1] >>> 16;
    const rxPackets = service ? 0 : v[vo + 2];
    const counters =
      `RxPackets=${rxPackets} RxBytes=${service ? v[vo + 2] : 0} RxFlagsSeen=0x00 LastRxReport=0 ` +
      `TxPackets=${v[vo + 3]} TxBytes=0 TxFlagsSeen=0x00 LastTxReport=0`;
    out.push(
      `${proto} ${dir} ${src} -> ${dst} ${related}${service ? 'service ' : ''}expires=${v[vo]} ${counters} ` +
        `${ctFlagsString(entryFlags)} RevNAT=${revNat} SourceSecurityID=0 IfIndex=0 `,
    );
  });
}

/**
 * `cilium-dbg bpf ct list global`: the TCP map, then the non-TCP one, each in map order. For the
 * IPv6 load balancer (its words are address-table indices) the cilium_ct6 maps, `[addr]:port`.
 */
export function renderCiliumCtList(lb: EbpfLoadBalancer): string {
  const out: string[] = [];
  const v6 = lb.ipv6;
  const endpoint =
    v6 === undefined
      ? (a: number, port: number) => `${formatIPv4(a)}:${port}`
      : (a: number, port: number) => `[${v6.text(a)}]:${port}`;
  ctLines(lb.maps.ctTcp, endpoint, out);
  ctLines(lb.maps.ctAny, endpoint, out);
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}
