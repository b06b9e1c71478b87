/**
 * Text views of a node's eBPF LB maps for `dpsim rules --mode ebpf`:
 * - `renderBpftoolDump` / `renderBpftoolJson`: what `bpftool map dump pinned <map>` prints for
 *   maps without BTF (hex key/value bytes, 8-byte groups, "Found N elements") and its `-j` JSON
 *   shape (`[{"key":["0x0a",…],"value":[…]}]`), byte-exact to the kernel structs (layouts.ts);
 * - `renderCiliumLbList`: `cilium-dbg bpf lb list` (SERVICE ADDRESS / BACKEND ADDRESS
 *   (REVNAT_ID) (SLOT)), laid out like Go's tabwriter (min width 5, padding 3).
 * Control-plane code: clarity over speed.
 */

import type { BpfHashMap, BpfInlineHashMap } from '../../maps/index.js';
import { formatIPv4 } from '../../util/ipv4.js';
import type { EbpfLoadBalancer } from './compile.js';
import { CtValue, ctRevNat } from './ct.js';
import {
  encodeCtEntry,
  encodeCtTuple,
  encodeLb4AffinityKey,
  encodeLb4Backend,
  encodeLb4Key,
  encodeLb4ReverseNat,
  encodeLb4Service,
  encodeLb4SrcRangeKey,
  encodeLbAffinityVal,
  encodeNatEntry,
  encodeU16Key,
  encodeU32Key,
  SvcFlag,
  SvcFlag2,
  TupleFlag,
} from './layouts.js';
import {
  BACKEND_VALUE_WORDS,
  BackendValue,
  backendAddr,
  backendPort,
  backendProto,
  backendState,
  RevNatValue,
  svcFlags,
  svcFlags2,
  svcRevNat,
} from './lbmaps.js';
import { NatValue } from './nat.js';

export interface MapEntryBytes {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export interface MapDump {
  /** Cilium's pinned map name. */
  readonly name: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly entries: readonly MapEntryBytes[];
}

const PROTO_NAMES: Record<number, string> = { 6: 'TCP', 17: 'UDP', 132: 'SCTP' };

function hashEntries(
  map: BpfHashMap | BpfInlineHashMap,
  fn: (k: Uint32Array, ko: number, v: Uint32Array, vo: number) => MapEntryBytes,
) {
  const out: MapEntryBytes[] = [];
  map.forEach((_i, ko, vo) => {
    out.push(fn(map.keys, ko, map.values, vo));
  });
  return out;
}

function ctDump(name: string, map: BpfInlineHashMap): MapDump {
  return {
    name,
    keySize: 14,
    valueSize: 56,
    entries: hashEntries(map, (k, ko, v, vo) => {
      const flags = k[ko + 3] >>> 8;
      const service = (flags & TupleFlag.SERVICE) !== 0;
      return {
        key: encodeCtTuple(k[ko], k[ko + 1], k[ko + 2] >>> 16, k[ko + 2] & 0xffff, k[ko + 3] & 0xff, flags),
        value: encodeCtEntry(
          {
            rxPackets: service ? 0 : v[vo + CtValue.BACKEND_OR_RX],
            rxBytes: 0,
            txPackets: v[vo + CtValue.TX_PACKETS],
            txBytes: 0,
            lifetime: v[vo + CtValue.LIFETIME],
            flags: v[vo + CtValue.FLAGS_REV_NAT] & 0xffff,
            revNat: ctRevNat(v, vo),
            backendId: service ? v[vo + CtValue.BACKEND_OR_RX] : 0,
          },
          service,
        ),
      };
    }),
  };
}

/** Every map of the node as raw bytes, in Cilium's layouts. Maglev inner maps (4·M bytes each) only on request. */
export function dumpMaps(lb: EbpfLoadBalancer, options: { maglevInner?: boolean } = {}): MapDump[] {
  const m = lb.maps;
  const dumps: MapDump[] = [];
  dumps.push({
    name: 'cilium_lb4_services_v2',
    keySize: 12,
    valueSize: 12,
    entries: hashEntries(m.services, (k, ko, v, vo) => ({
      key: encodeLb4Key(k[ko], k[ko + 1] & 0xffff, k[ko + 1] >>> 16, k[ko + 2] & 0xff, k[ko + 2] >>> 8),
      value: encodeLb4Service(v[vo], v[vo + 1] & 0xffff, svcRevNat(v, vo), svcFlags(v, vo), svcFlags2(v, vo)),
    })),
  });
  const backends: MapEntryBytes[] = [];
  for (let id = 1; id < m.backends.maxEntries; id++) {
    const o = id * BACKEND_VALUE_WORDS;
    const v = m.backends.values;
    if (v[o + BackendValue.PRESENT] === 0) continue;
    backends.push({
      key: encodeU32Key(id),
      value: encodeLb4Backend(backendAddr(v, o), backendPort(v, o), backendProto(v, o), backendState(v, o)),
    });
  }
  dumps.push({ name: 'cilium_lb4_backends_v3', keySize: 4, valueSize: 12, entries: backends });
  dumps.push({
    name: 'cilium_lb4_reverse_nat',
    keySize: 2,
    valueSize: 6,
    entries: hashEntries(m.revNat, (k, ko, v, vo) => ({
      key: encodeU16Key(k[ko]),
      value: encodeLb4ReverseNat(v[vo + RevNatValue.ADDR], v[vo + RevNatValue.PORT]),
    })),
  });
  dumps.push({
    name: 'cilium_lb4_affinity',
    keySize: 16,
    valueSize: 16,
    entries: hashEntries(m.affinity, (k, ko, v, vo) => ({
      key: encodeLb4AffinityKey(k[ko], k[ko + 1]),
      value: encodeLbAffinityVal(v[vo], v[vo + 1]),
    })),
  });
  const srcRanges: MapEntryBytes[] = [];
  m.sourceRanges.forEach((trie, revNat) => {
    trie?.forEach((prefix, length) => {
      srcRanges.push({ key: encodeLb4SrcRangeKey(length, revNat, prefix), value: new Uint8Array([1]) });
    });
  });
  dumps.push({ name: 'cilium_lb4_source_range', keySize: 12, valueSize: 1, entries: srcRanges });
  dumps.push({
    name: 'cilium_lb4_maglev',
    keySize: 2,
    valueSize: 4,
    entries: hashEntries(m.maglevOuter, (k, ko, v, vo) => ({
      key: encodeU16Key(k[ko]),
      value: encodeU32Key(v[vo]),
    })),
  });
  if (options.maglevInner) {
    m.maglevInner.forEach((inner, idx) => {
      if (inner === undefined) return;
      const bytes = new Uint8Array(inner.values.length * 4);
      const dv = new DataView(bytes.buffer);
      for (let s = 0; s < inner.values.length; s++) dv.setUint32(s * 4, inner.values[s], true);
      dumps.push({
        name: `cilium_lb4_maglev_inner_${idx}`,
        keySize: 4,
        valueSize: bytes.length,
        entries: [{ key: encodeU32Key(0), value: bytes }],
      });
    });
  }
  dumps.push(ctDump('cilium_ct4_global', m.ctTcp));
  dumps.push(ctDump('cilium_ct_any4_global', m.ctAny));
  dumps.push({
    name: 'cilium_snat_v4_external',
    keySize: 14,
    valueSize: 40,
    entries: hashEntries(m.nat, (k, ko, v, vo) => ({
      key: encodeCtTuple(
        k[ko],
        k[ko + 1],
        k[ko + 2] >>> 16,
        k[ko + 2] & 0xffff,
        k[ko + 3] & 0xff,
        k[ko + 3] >>> 8,
      ),
      value: encodeNatEntry(v[vo + NatValue.CREATED], v[vo + NatValue.TO_ADDR], v[vo + NatValue.TO_PORT]),
    })),
  });
  return dumps;
}

/** bpftool's fprint_hex: bytes separated by spaces, two spaces every 8, a newline every 16. */
function hex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) {
    if (i > 0) s += i % 16 === 0 ? '\n' : i % 8 === 0 ? '  ' : ' ';
    s += bytes[i].toString(16).padStart(2, '0');
  }
  return s;
}

/** One map as `bpftool map dump` prints it without BTF (print_entry_plain). */
export function formatBpftoolPlain(dump: MapDump): string {
  const breakNames = dump.keySize > 16 || dump.valueSize > 16;
  const singleLine = dump.keySize + dump.valueSize <= 24 && !breakNames;
  let out = '';
  for (const e of dump.entries) {
    out += `key:${breakNames ? '\n' : ' '}${hex(e.key)}${singleLine ? '  ' : '\n'}`;
    out += `value:${breakNames ? '\n' : ' '}${hex(e.value)}\n`;
  }
  const n = dump.entries.length;
  return `${out}Found ${n} element${n === 1 ? '' : 's'}\n`;
}

/** One map as `bpftool -j map dump` prints it. */
export function formatBpftoolJson(dump: MapDump): string {
  const bytes = (b: Uint8Array) => Array.from(b, (x) => `0x${x.toString(16).padStart(2, '0')}`);
  return JSON.stringify(dump.entries.map((e) => ({ key: bytes(e.key), value: bytes(e.value) })));
}

/** All maps, each preceded by the command that would print it. */
export function renderBpftoolDump(lb: EbpfLoadBalancer, options: { maglevInner?: boolean } = {}): string {
  return dumpMaps(lb, options)
    .map((d) => `# bpftool map dump pinned /sys/fs/bpf/tc/globals/${d.name}\n${formatBpftoolPlain(d)}`)
    .join('\n');
}

/** All maps as one JSON object: map name → bpftool -j array. */
export function renderBpftoolJson(lb: EbpfLoadBalancer, options: { maglevInner?: boolean } = {}): string {
  const parts = dumpMaps(lb, options).map((d) => `${JSON.stringify(d.name)}:${formatBpftoolJson(d)}`);
  return `{${parts.join(',')}}\n`;
}

/** Cilium's ServiceFlags.String(). */
export function serviceFlagsString(flags: number, flags2: number): string {
  const parts: string[] = [];
  if (flags & SvcFlag.EXTERNAL_IP) parts.push('ExternalIPs');
  else if (flags & SvcFlag.NODEPORT) parts.push('NodePort');
  else if (flags & SvcFlag.LOADBALANCER) parts.push('LoadBalancer');
  else if (flags & SvcFlag.HOSTPORT) parts.push('HostPort');
  else if (flags2 & SvcFlag2.LOCALREDIRECT) parts.push('LocalRedirect');
  else parts.push('ClusterIP');
  if (flags & SvcFlag.EXT_LOCAL_SCOPE) parts.push('Local');
  if (flags2 & SvcFlag2.INT_LOCAL_SCOPE) parts.push('InternalLocal');
  if (flags2 & SvcFlag2.TWO_SCOPES) parts.push('two-scopes');
  if (flags & SvcFlag.AFFINITY) parts.push('sessionAffinity');
  if ((flags & SvcFlag.ROUTABLE) === 0) parts.push('non-routable');
  if (flags & SvcFlag.SOURCE_RANGE) parts.push('check source-range');
  if (flags2 & SvcFlag2.FWD_MODE_DSR) parts.push('dsr');
  return parts.join(', ');
}

/** Go text/tabwriter with minwidth 5, tabwidth 0, padding 3, every cell tab-terminated. */
export function tabwrite(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) {
    for (let i = 0; i < r.length; i++) widths[i] = Math.max(widths[i] ?? 0, 5, r[i].length + 3);
  }
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('')).join('\n') + '\n';
}

/** `cilium-dbg bpf lb list`: services sorted by address string, slots in order under each. */
export function renderCiliumLbList(lb: EbpfLoadBalancer): string {
  const m = lb.maps;
  const byService = new Map<string, { slot: number; text: string }[]>();
  m.services.forEach((_i, ko, vo) => {
    const k = m.services.keys;
    const v = m.services.values;
    const addr = k[ko];
    const port = k[ko + 1] & 0xffff;
    const slot = k[ko + 1] >>> 16;
    const proto = PROTO_NAMES[k[ko + 2] & 0xff] ?? 'NONE';
    const scope = k[ko + 2] >>> 8;
    const svc = `${formatIPv4(addr)}:${port}/${proto}${scope === 1 ? '/i' : ''}`;
    const revNat = svcRevNat(v, vo);
    let text: string;
    if (slot === 0) {
      text = `0.0.0.0:0 (${revNat}) (0) [${serviceFlagsString(svcFlags(v, vo), svcFlags2(v, vo))}]`;
    } else {
      const o = m.backendOffset(v[vo]);
      if (o < 0) text = `backend ${v[vo]} not found`;
      else {
        const bv = m.backends.values;
        const bproto = PROTO_NAMES[backendProto(bv, o)] ?? 'NONE';
        text = `${formatIPv4(backendAddr(bv, o))}:${backendPort(bv, o)}/${bproto} (${revNat}) (${slot})`;
      }
    }
    const list = byService.get(svc) ?? [];
    list.push({ slot, text });
    byService.set(svc, list);
  });
  const rows: string[][] = [['SERVICE ADDRESS', 'BACKEND ADDRESS (REVNAT_ID) (SLOT)']];
  for (const svc of [...byService.keys()].sort()) {
    const entries = byService.get(svc)!.sort((a, b) => a.slot - b.slot);
    for (let i = 0; i < entries.length; i++) rows.push([i === 0 ? svc : '', entries[i].text]);
  }
  return tabwrite(rows);
}
