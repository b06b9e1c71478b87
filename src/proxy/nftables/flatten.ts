/**
 * The `ip kube-proxy` table flattened for the datapath into one Int32Array of fixed-width
 * instructions, chain after chain in table order:
 *
 *     chain:  RULE(next, rule#) match… statement…   RULE(next, rule#) …   CHAIN_END(chain#)
 *
 * A jump, goto or verdict-map value holds the code position of its target chain, `numgen`
 * keeps its targets and a multi-prefix address match its prefixes right after the
 * instruction, and sets and maps are indices into a few shared hash tables.
 *
 * Addresses become the numbers packets carry in PacketMeta: an `ip` table's are the u32
 * addresses themselves; an `ip6` table's are IPv6 address-table indices (interned here at
 * load, src/topology/ipv6-address-table.ts), so its maps and sets key the same slots and its
 * prefix matches (OP_ADDR6) read the address bytes from the table.
 *
 * Why: a new connection walks a constant number of rules (the service-ips lookup, the
 * Service's chain, one endpoint chain), and the kernel's cost for that is flat in the number
 * of Services. With one JS object per chain, rule, match and statement, the same walk chased
 * a dozen pointers scattered over a heap that grows with the table, so cache misses (and GC
 * work) grew with the Service count. Here a Service's chain and an endpoint chain are a few
 * consecutive cache lines, and the table adds no objects per rule to the heap.
 */
import { CtState } from '../../conntrack/constants.js';
import { parseCidr, parseIPv4, prefixMask } from '../../util/ipv4.js';
import { ipv6Bytes, parseCidr6 } from '../../util/ipv6.js';
import type { Ipv6AddressLookup } from '../common/ipv6-lookup.js';
import { PairMap, TimeoutAddrSet } from './lookup-tables.js';
import { PROTO_NUMBER } from './render.js';
import type { NftHookName, NftMatch, NftRule, NftStatement, NftTable, NftVerdict } from './table.js';

export class NftEvaluateError extends Error {
  override name = 'NftEvaluateError';
}

// Verdict codes: kind in the low 3 bits, target chain index above.
export const V_CONTINUE = 0;
export const V_ACCEPT = 1;
export const V_DROP = 2;
export const V_RETURN = 3;
export const V_JUMP = 4;
export const V_GOTO = 5;
export const V_REJECT = 6;
export const KIND_MASK = 7;

/** Words per instruction: opcode word, then three operands. */
export const WIDTH = 4;

// Opcodes (low 8 bits of the opcode word). Matches first, then statements.
export const OP_ADDR = 0;
export const OP_STATIC_SET = 1;
export const OP_DYNAMIC_SET = 2;
export const OP_CT_STATE = 3;
export const OP_FIB_LOCAL = 4;
export const OP_L4PROTO = 5;
export const OP_MARK = 6;
export const OP_VERDICT = 7;
export const OP_VMAP_ADDR_PROTO_PORT = 8;
export const OP_VMAP_PROTO_PORT = 9;
export const OP_NUMGEN = 10;
export const OP_MARK_OR = 11;
export const OP_MARK_XOR = 12;
export const OP_MASQUERADE = 13;
export const OP_DNAT = 14;
export const OP_SET_UPDATE = 15;
export const OP_REJECT = 16;
/** Rule header: operands next rule's position, rule number. */
export const OP_RULE = 17;
/** End of a chain: operand chain number. */
export const OP_CHAIN_END = 18;
/** An ip6 prefix match: operands first prefix (prefixes6 index), prefix count. */
export const OP_ADDR6 = 19;

// Flags (bits 8..15 of the opcode word); bits 16.. count the words inline after the instruction.
export const F_SADDR = 1 << 8;
export const F_NEGATE = 1 << 9;
export const F_FULLY_RANDOM = 1 << 10;
export const OP_MASK = 0xff;
export const INLINE_SHIFT = 16;

const HOOK_OF: Record<NftHookName, number> = {
  prerouting: 0,
  input: 1,
  forward: 2,
  output: 3,
  postrouting: 4,
};

const CT_STATE_BITS = {
  new: CtState.NEW,
  established: CtState.ESTABLISHED,
  related: CtState.RELATED,
  invalid: CtState.INVALID,
  untracked: CtState.UNTRACKED,
};

/** The flattened table; everything the packet path reads is a typed array or a shared lookup table. */
export interface NftProgram {
  readonly code: Int32Array;
  /** Code position of each chain's first instruction. */
  readonly chainPc: Int32Array;
  /** 1 for a nat-type base chain (runs only for a connection's first packet). */
  readonly chainIsNat: Uint8Array;
  /** Base chains of each hook (NfHook order), by priority. */
  readonly hookChains: readonly Int32Array[];
  /** Rules of chain c are the rule numbers chainRuleStart[c] .. chainRuleStart[c + 1] - 1 (traces). */
  readonly chainRuleStart: Int32Array;
  readonly staticSets: readonly PairMap[];
  readonly dynamicSets: readonly TimeoutAddrSet[];
  readonly vmaps: readonly PairMap[];
  readonly chainNames: readonly string[];
  /** The table's rule objects by rule number, for trace texts (rendered on demand). */
  readonly rules: readonly NftRule[];
  readonly dynamicSetIndex: ReadonlyMap<string, number>;
  /** An ip6 table's prefixes: 16 bytes each, with their lengths (OP_ADDR6 operands index them). */
  readonly prefixes6: Uint8Array;
  readonly prefixLengths6: Uint8Array;
}

export function protoPortKey(proto: number, port: number): number {
  return ((proto & 0xff) << 16) | (port & 0xffff);
}

/** Growable Int32Array for building the code. */
class CodeBuffer {
  data = new Int32Array(4096);
  length = 0;

  push(a: number): void {
    if (this.length === this.data.length) this.grow();
    this.data[this.length++] = a;
  }

  instr(a: number, b: number, c: number, d: number): void {
    if (this.length + WIDTH > this.data.length) this.grow();
    const data = this.data;
    const at = this.length;
    data[at] = a;
    data[at + 1] = b;
    data[at + 2] = c;
    data[at + 3] = d;
    this.length = at + WIDTH;
  }

  private grow(): void {
    const bigger = new Int32Array(this.data.length * 2);
    bigger.set(this.data);
    this.data = bigger;
  }

  /** Pads inline words to a whole instruction, so every instruction stays WIDTH-aligned. */
  align(): void {
    while (this.length % WIDTH !== 0) this.push(0);
  }

  finish(): Int32Array {
    return this.data.slice(0, this.length);
  }
}

/** Words the inline data of `n` words takes once padded to whole instructions. */
function inlineWords(n: number): number {
  return Math.ceil(n / WIDTH) * WIDTH;
}

/**
 * Flattens `table`; an ip6 table needs `ipv6`, the network's address table, whose indices
 * its packets carry.
 */
export function flattenTable(table: NftTable, ipv6?: Ipv6AddressLookup): NftProgram {
  if (table.family === 'ip6' && ipv6 === undefined)
    throw new NftEvaluateError('an ip6 table runs only on the IPv6 path (no IPv6 address table given)');
  const v6 = table.family === 'ip6' ? ipv6 : undefined;
  const addressKey = (text: string): number => (v6 === undefined ? parseIPv4(text) : v6.internText(text));
  const prefixes6: number[] = [];
  const prefixLengths6: number[] = [];
  const nChains = table.chains.length;
  const chainIndex = new Map<string, number>();
  for (let i = 0; i < nChains; i++) chainIndex.set(table.chains[i].name, i);
  const code = new CodeBuffer();
  const chainPc = new Int32Array(nChains);
  // Jump/goto codes are first written with the target's chain number; once every chain has its
  // position they are patched (these code positions, and the verdict maps, built last).
  const patches: number[] = [];
  const chainVerdict = (v: NftVerdict): number => {
    switch (v.kind) {
      case 'accept':
        return V_ACCEPT;
      case 'drop':
        return V_DROP;
      case 'return':
        return V_RETURN;
      default: {
        const target = chainIndex.get(v.chain);
        if (target === undefined) throw new NftEvaluateError(`${v.kind} to undefined chain "${v.chain}"`);
        return (v.kind === 'jump' ? V_JUMP : V_GOTO) | (target << 3);
      }
    }
  };
  const verdictAt = (v: NftVerdict): void => {
    const c = chainVerdict(v);
    if ((c & KIND_MASK) === V_JUMP || (c & KIND_MASK) === V_GOTO) patches.push(code.length);
    code.push(c);
  };

  const staticSets: PairMap[] = [];
  const dynamicSets: TimeoutAddrSet[] = [];
  const staticSetIndex = new Map<string, number>();
  const dynamicSetIndex = new Map<string, number>();
  const vmapIndex = new Map<string, number>();
  for (const s of table.sets) {
    if (s.kind === 'set') {
      if (s.flags?.includes('timeout')) {
        dynamicSetIndex.set(s.name, dynamicSets.length);
        dynamicSets.push(new TimeoutAddrSet((s.timeoutSeconds ?? 0) * 1e9));
      } else {
        const set = new PairMap();
        for (const e of s.elements) set.set(addressKey(e), 0, 1);
        staticSetIndex.set(s.name, staticSets.length);
        staticSets.push(set);
      }
    } else {
      vmapIndex.set(s.name, vmapIndex.size);
    }
  }

  const emitMatch = (m: NftMatch): void => {
    switch (m.kind) {
      case 'addr': {
        if (m.prefixes.length === 0) throw new NftEvaluateError('address match with no prefixes');
        const flags = (m.field === 'saddr' ? F_SADDR : 0) | (m.negate ? F_NEGATE : 0);
        if (v6 !== undefined) {
          code.instr(OP_ADDR6 | flags, prefixLengths6.length, m.prefixes.length, 0);
          for (const text of m.prefixes) {
            const c = parseCidr6(text);
            prefixes6.push(...ipv6Bytes(c.network));
            prefixLengths6.push(c.prefixLength);
          }
          return;
        }
        const first = parseCidr(m.prefixes[0]);
        const extra = m.prefixes.length - 1;
        code.instr(
          OP_ADDR | flags | (inlineWords(extra * 2) << INLINE_SHIFT),
          first.network | 0,
          prefixMask(first.prefixLength) | 0,
          extra,
        );
        for (let i = 1; i < m.prefixes.length; i++) {
          const c = parseCidr(m.prefixes[i]);
          code.push(c.network | 0);
          code.push(prefixMask(c.prefixLength) | 0);
        }
        code.align();
        return;
      }
      case 'addrInSet': {
        const saddr = m.field === 'saddr' ? F_SADDR : 0;
        const dynamic = dynamicSetIndex.get(m.set);
        if (dynamic !== undefined) {
          code.instr(OP_DYNAMIC_SET | saddr, dynamic, 0, 0);
          return;
        }
        const stat = staticSetIndex.get(m.set);
        if (stat === undefined) throw new NftEvaluateError(`rule refers to undefined set @${m.set}`);
        code.instr(OP_STATIC_SET | saddr, stat, 0, 0);
        return;
      }
      case 'ctState':
        code.instr(
          OP_CT_STATE,
          m.states.reduce((bits, s) => bits | CT_STATE_BITS[s], 0),
          0,
          0,
        );
        return;
      case 'fibLocal':
        code.instr(OP_FIB_LOCAL | (m.field === 'saddr' ? F_SADDR : 0), 0, 0, 0);
        return;
      case 'l4proto':
        code.instr(OP_L4PROTO, PROTO_NUMBER[m.proto], 0, 0);
        return;
      case 'markMask':
        code.instr(OP_MARK | (m.negate ? F_NEGATE : 0), m.mask | 0, m.value | 0, 0);
        return;
    }
  };

  const emitStatement = (s: NftStatement): void => {
    switch (s.kind) {
      case 'verdict':
        code.push(OP_VERDICT);
        verdictAt(s.verdict);
        code.push(0);
        code.push(0);
        return;
      case 'vmap': {
        const map = vmapIndex.get(s.map);
        if (map === undefined) throw new NftEvaluateError(`rule refers to undefined map @${s.map}`);
        code.instr(s.key === 'daddr.l4proto.dport' ? OP_VMAP_ADDR_PROTO_PORT : OP_VMAP_PROTO_PORT, map, 0, 0);
        return;
      }
      case 'numgenVmap':
        if (s.targets.length === 0) throw new NftEvaluateError('numgen random mod 0');
        code.instr(OP_NUMGEN | (inlineWords(s.targets.length) << INLINE_SHIFT), s.targets.length, 0, 0);
        for (const t of s.targets) verdictAt(t);
        code.align();
        return;
      case 'markSet':
        code.instr(s.op === 'or' ? OP_MARK_OR : OP_MARK_XOR, s.value | 0, 0, 0);
        return;
      case 'masquerade':
        code.instr(OP_MASQUERADE | (s.fullyRandom ? F_FULLY_RANDOM : 0), 0, 0, 0);
        return;
      case 'dnat':
        code.instr(OP_DNAT, addressKey(s.addr) | 0, s.port, 0);
        return;
      case 'setUpdate': {
        const set = dynamicSetIndex.get(s.set);
        if (set === undefined) throw new NftEvaluateError(`update of undefined or non-dynamic set @${s.set}`);
        code.instr(OP_SET_UPDATE | (s.field === 'saddr' ? F_SADDR : 0), set, 0, 0);
        return;
      }
      case 'reject':
        code.instr(OP_REJECT, 0, 0, 0);
        return;
    }
  };

  let nRules = 0;
  for (const c of table.chains) nRules += c.rules.length;
  const chainRuleStart = new Int32Array(nChains + 1);
  const chainIsNat = new Uint8Array(nChains);
  const chainNames: string[] = new Array(nChains);
  const rules: NftRule[] = new Array(nRules);
  const hookLists: { chain: number; priority: number }[][] = [[], [], [], [], []];
  let r = 0;
  for (let ci = 0; ci < nChains; ci++) {
    const c = table.chains[ci];
    chainNames[ci] = c.name;
    chainIsNat[ci] = c.base?.type === 'nat' ? 1 : 0;
    chainRuleStart[ci] = r;
    chainPc[ci] = code.length;
    for (const rule of c.rules) {
      const header = code.length;
      code.instr(OP_RULE, 0, r, 0);
      for (const m of rule.matches) emitMatch(m);
      for (const s of rule.statements) emitStatement(s);
      code.data[header + 1] = code.length;
      rules[r++] = rule;
    }
    code.instr(OP_CHAIN_END, ci, 0, 0);
    if (c.base !== undefined) hookLists[HOOK_OF[c.base.hook]].push({ chain: ci, priority: c.base.priority });
  }
  chainRuleStart[nChains] = r;
  const toPc = (v: number): number => (v & KIND_MASK) | (chainPc[v >>> 3] << 3);
  for (const at of patches) code.data[at] = toPc(code.data[at]);

  const vmaps: PairMap[] = [];
  for (const s of table.sets) {
    if (s.kind !== 'map') continue;
    const map = new PairMap();
    for (const e of s.elements) {
      const k1 = e.addr === undefined ? 0 : addressKey(e.addr);
      const v = chainVerdict(e.verdict);
      const kind = v & KIND_MASK;
      map.set(
        k1,
        protoPortKey(PROTO_NUMBER[e.proto], e.port),
        kind === V_JUMP || kind === V_GOTO ? toPc(v) : v,
      );
    }
    vmaps.push(map);
  }
  const hookChains = hookLists.map((list) => {
    list.sort((a, b) => a.priority - b.priority || a.chain - b.chain);
    return Int32Array.from(list, (l) => l.chain);
  });

  return {
    code: code.finish(),
    chainPc,
    chainIsNat,
    hookChains,
    chainRuleStart,
    staticSets,
    dynamicSets,
    vmaps,
    chainNames,
    rules,
    dynamicSetIndex,
    prefixes6: Uint8Array.from(prefixes6),
    prefixLengths6: Uint8Array.from(prefixLengths6),
  };
}

/** The chain whose code starts at `pc` (binary search; traces and drop reports only). */
export function chainAtPc(p: NftProgram, pc: number): number {
  let lo = 0;
  let hi = p.chainPc.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (p.chainPc[mid] <= pc) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The chain a rule number belongs to (binary search over chainRuleStart; control plane only). */
export function chainOfRule(p: NftProgram, rule: number): number {
  let lo = 0;
  let hi = p.chainNames.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (p.chainRuleStart[mid] <= rule) lo = mid;
    else hi = mid - 1;
  }
  // Empty chains share a start with the next one: the rule is in the last chain starting at or before it.
  return lo;
}
