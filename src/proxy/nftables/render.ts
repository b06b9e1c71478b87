/**
 * Prints an NftTable exactly as `nft list table ip kube-proxy` (nftables 1.0.6) shows it,
 * so the text can be diffed against a real node and loaded back with `nft -f`.
 *
 * nft's listing conventions reproduced here (checked against the real nft in a netns):
 * sets/maps first, then chains, each in creation order, separated by blank lines; base
 * chains print symbolic priorities (`dstnat`, `filter - 10`…) only where nft knows a name
 * for that hook; named-set elements are sorted the way nft sorts them and wrapped (maps one
 * element per line, IPv4 sets two per line); one-element anonymous sets lose their braces;
 * marks print as 0x%08x; a dynamic set that a rule updates gets nft's default `size 65535`.
 * An `ip6` table (kube-proxy's IPv6 proxier) prints `ip6 saddr`/`ip6 daddr`, IPv6 prefixes
 * and `dnat to [addr]:port`; its named sets hold one address per line.
 */
import { parseCidr } from '../../util/ipv4.js';
// nft prints IPv6 addresses with inet_ntop, RFC 5952's compressed form: formatIPv6.
import { formatIPv6, ipv6Bytes, parseCidr6, parseIPv6 } from '../../util/ipv6.js';
import { IpProtocol } from '../../wire/ip-protocol.js';
import type { NftFamily } from './family.js';
import type {
  NftBaseChainSpec,
  NftChain,
  NftMap,
  NftMapElement,
  NftMatch,
  NftRule,
  NftSet,
  NftStatement,
  NftTable,
  NftVerdict,
} from './table.js';

const NEWLINE_DELIMITER = ',\n\t\t\t     ';
/** nft prints an IPv6 set one element per line (IPv4 sets two), checked against the real nft. */
const IPV6_SET_DELIMITER = NEWLINE_DELIMITER;
/** nft's default size for a set that the packet path fills (`update @set`). */
const DYNAMIC_SET_DEFAULT_SIZE = 65535;

export const PROTO_NUMBER = { tcp: IpProtocol.TCP, udp: IpProtocol.UDP, sctp: IpProtocol.SCTP } as const;

export function renderVerdict(v: NftVerdict): string {
  return v.kind === 'jump' || v.kind === 'goto' ? `${v.kind} ${v.chain}` : v.kind;
}

function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

/**
 * Address prefixes as nft prints them. One prefix is a plain compare (a /32 or /128 collapses
 * to the address). Several are an anonymous interval set, which nft keeps sorted and merged:
 * overlapping or adjacent prefixes become one interval, printed as a prefix when it is one
 * and as `first-last` otherwise (`{ 10.0.0.0/24, 10.0.0.5 }` lists as `{ 10.0.0.0/24 }`).
 */
function renderPrefixes(family: NftFamily, prefixes: readonly string[]): string {
  const bits = family === 'ip6' ? 128 : 32;
  const ranges = prefixes.map((p) => prefixRange(family, p));
  if (ranges.length === 1) return formatInterval(family, ranges[0][0], ranges[0][1], bits);
  ranges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const merged: [bigint, bigint][] = [];
  for (const [lo, hi] of ranges) {
    const last = merged[merged.length - 1];
    if (last !== undefined && lo <= last[1] + 1n) {
      if (hi > last[1]) last[1] = hi;
    } else merged.push([lo, hi]);
  }
  return `{ ${merged.map(([lo, hi]) => formatInterval(family, lo, hi, bits)).join(', ')} }`;
}

function prefixRange(family: NftFamily, text: string): [bigint, bigint] {
  if (family === 'ip6') {
    const c = parseCidr6(text);
    return [c.network, c.network + (1n << BigInt(128 - c.prefixLength)) - 1n];
  }
  const c = parseCidr(text);
  const lo = BigInt(c.network >>> 0);
  return [lo, lo + (1n << BigInt(32 - c.prefixLength)) - 1n];
}

function formatInterval(family: NftFamily, lo: bigint, hi: bigint, bits: number): string {
  const fmt = (v: bigint) => (family === 'ip6' ? formatIPv6(v) : formatAddr(Number(v)));
  const size = hi - lo + 1n;
  // A prefix: a power-of-two size with the first address aligned to it.
  if ((size & (size - 1n)) === 0n && lo % size === 0n) {
    const len = bits - (size.toString(2).length - 1);
    return len === bits ? fmt(lo) : `${fmt(lo)}/${len}`;
  }
  return `${fmt(lo)}-${fmt(hi)}`;
}

function formatAddr(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

function renderMatch(family: NftFamily, m: NftMatch): string {
  switch (m.kind) {
    case 'addr':
      return `${family} ${m.field} ${m.negate ? '!= ' : ''}${renderPrefixes(family, m.prefixes)}`;
    case 'addrInSet':
      return `${family} ${m.field} @${m.set}`;
    case 'ctState':
      return `ct state ${m.states.join(',')}`;
    case 'fibLocal':
      return `fib ${m.field} type local`;
    case 'l4proto':
      return `meta l4proto ${m.proto}`;
    case 'markMask':
      return `meta mark & ${hex32(m.mask)} ${m.negate ? '!=' : '=='} ${hex32(m.value)}`;
  }
}

function renderStatement(family: NftFamily, s: NftStatement): string {
  switch (s.kind) {
    case 'verdict':
      return renderVerdict(s.verdict);
    case 'vmap':
      return s.key === 'daddr.l4proto.dport'
        ? `${family} daddr . meta l4proto . th dport vmap @${s.map}`
        : `meta l4proto . th dport vmap @${s.map}`;
    case 'numgenVmap':
      return `numgen random mod ${s.targets.length} vmap { ${s.targets.map((t, i) => `${i} : ${renderVerdict(t)}`).join(', ')} }`;
    case 'markSet':
      return `meta mark set meta mark ${s.op === 'or' ? '|' : '^'} ${hex32(s.value)}`;
    case 'masquerade':
      return s.fullyRandom ? 'masquerade fully-random' : 'masquerade';
    case 'dnat':
      return family === 'ip6' ? `dnat to [${s.addr}]:${s.port}` : `dnat to ${s.addr}:${s.port}`;
    case 'setUpdate':
      return `update @${s.set} { ${family} ${s.field} }`;
    case 'reject':
      return 'reject';
  }
}

/** One rule as `nft list` prints it (without indentation), in a table of `family`. */
export function renderRule(r: NftRule, family: NftFamily = 'ip'): string {
  const parts = [
    ...r.matches.map((m) => renderMatch(family, m)),
    ...r.statements.map((st) => renderStatement(family, st)),
  ];
  if (r.comment !== undefined) parts.push(`comment ${quote(r.comment)}`);
  return parts.join(' ');
}

function quote(s: string): string {
  return `"${s}"`;
}

/** Standard priority names nft 1.0.6 prints for the ip family, with the hooks they apply to. */
const PRIORITY_NAMES: readonly { name: string; value: number; hooks: readonly string[] | null }[] = [
  { name: 'raw', value: -300, hooks: null },
  { name: 'mangle', value: -150, hooks: null },
  { name: 'dstnat', value: -100, hooks: ['prerouting'] },
  { name: 'filter', value: 0, hooks: null },
  { name: 'security', value: 50, hooks: null },
  { name: 'srcnat', value: 100, hooks: ['postrouting'] },
];

/** `dstnat`, `dstnat - 10`, `filter`, or the plain number where no name applies to the hook. */
export function renderPriority(base: NftBaseChainSpec): string {
  for (const p of PRIORITY_NAMES) {
    if (p.hooks !== null && !p.hooks.includes(base.hook)) continue;
    const offset = base.priority - p.value;
    if (offset === 0) return p.name;
    if (Math.abs(offset) <= 10) return `${p.name} ${offset > 0 ? '+' : '-'} ${Math.abs(offset)}`;
  }
  return String(base.priority);
}

/** nft's time format: 10800 s → `3h`, 90 s → `1m30s`, 90061 s → `1d1h1m1s`. */
export function renderDuration(seconds: number): string {
  let rest = Math.floor(seconds);
  const units: [string, number][] = [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ];
  let out = '';
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) out += `${n}${unit}`;
  }
  return out === '' ? '0s' : out;
}

function ipv4Value(text: string): number {
  return parseCidr(text).network;
}

/** The address's bytes in network order (4 or 16). */
function addrBytes(text: string): number[] {
  if (text.includes(':')) return [...ipv6Bytes(parseIPv6(text))];
  const a = ipv4Value(text);
  return [a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff];
}

/**
 * nft sorts elements by the key's bytes read as one little-endian number (each field in
 * its own byte order, concatenated: addr BE 4 bytes, proto 1 byte, port BE 2 bytes), so
 * the port's low byte is the most significant, then its high byte, the protocol, then the
 * address octets from last to first.
 */
function mapElementSortKey(el: NftMapElement): number[] {
  const key: number[] = [el.port & 0xff, el.port >>> 8, PROTO_NUMBER[el.proto]];
  if (el.addr !== undefined) key.push(...addrBytes(el.addr).reverse());
  return key;
}

function compareKeys(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

function renderMapElement(el: NftMapElement): string {
  const addr = el.addr?.includes(':') ? formatIPv6(parseIPv6(el.addr)) : el.addr;
  const key = addr !== undefined ? `${addr} . ${el.proto} . ${el.port}` : `${el.proto} . ${el.port}`;
  const comment = el.comment !== undefined ? ` comment ${quote(el.comment)}` : '';
  return `${key}${comment} : ${renderVerdict(el.verdict)}`;
}

function renderSetBody(set: NftSet, updated: boolean): string[] {
  const lines = [`\t\ttype ${set.type}`];
  const dynamic = set.flags?.includes('dynamic') ?? false;
  if (dynamic && updated) lines.push(`\t\tsize ${DYNAMIC_SET_DEFAULT_SIZE}`);
  if (set.flags !== undefined && set.flags.length > 0) lines.push(`\t\tflags ${set.flags.join(',')}`);
  if (set.timeoutSeconds !== undefined) lines.push(`\t\ttimeout ${renderDuration(set.timeoutSeconds)}`);
  if (set.comment !== undefined) lines.push(`\t\tcomment ${quote(set.comment)}`);
  if (set.elements.length > 0) {
    let text = '';
    if (set.type === 'ipv6_addr') {
      const sorted = [...new Set(set.elements.map((e) => parseIPv6(e)))].sort((a, b) =>
        a < b ? -1 : a > b ? 1 : 0,
      );
      text = sorted.map(formatIPv6).join(IPV6_SET_DELIMITER);
    } else {
      const sorted = [...new Set(set.elements)].sort((a, b) => ipv4Value(a) - ipv4Value(b));
      sorted.forEach((e, i) => {
        // IPv4 sets wrap after every second element.
        if (i > 0) text += i % 2 === 0 ? NEWLINE_DELIMITER : ', ';
        text += e;
      });
    }
    lines.push(`\t\telements = { ${text} }`);
  }
  return lines;
}

function renderMapBody(map: NftMap): string[] {
  const lines = [`\t\ttype ${map.keyType} : verdict`];
  if (map.comment !== undefined) lines.push(`\t\tcomment ${quote(map.comment)}`);
  if (map.elements.length > 0) {
    const sorted = [...map.elements].sort((a, b) => compareKeys(mapElementSortKey(a), mapElementSortKey(b)));
    lines.push(`\t\telements = { ${sorted.map(renderMapElement).join(NEWLINE_DELIMITER)} }`);
  }
  return lines;
}

function renderChain(chain: NftChain, family: NftFamily): string[] {
  const lines = [`\tchain ${chain.name} {`];
  if (chain.base !== undefined) {
    const b = chain.base;
    lines.push(`\t\ttype ${b.type} hook ${b.hook} priority ${renderPriority(b)}; policy ${b.policy};`);
  }
  if (chain.comment !== undefined) lines.push(`\t\tcomment ${quote(chain.comment)}`);
  for (const r of chain.rules) lines.push(`\t\t${renderRule(r, family)}`);
  lines.push('\t}');
  return lines;
}

function updatedSetNames(table: NftTable): Set<string> {
  const names = new Set<string>();
  for (const c of table.chains)
    for (const r of c.rules) for (const s of r.statements) if (s.kind === 'setUpdate') names.add(s.set);
  return names;
}

/** The whole table, as `nft list table ip kube-proxy` (or `ip6 kube-proxy`) prints it (ending with a newline). */
export function renderTable(table: NftTable): string {
  const updated = updatedSetNames(table);
  const blocks: string[][] = [];
  for (const s of table.sets) {
    const body = s.kind === 'set' ? renderSetBody(s, updated.has(s.name)) : renderMapBody(s);
    blocks.push([`\t${s.kind} ${s.name} {`, ...body, '\t}']);
  }
  for (const c of table.chains) blocks.push(renderChain(c, table.family));
  const out = [`table ${table.family} ${table.name} {`, `\tcomment ${quote(table.comment)}`];
  blocks.forEach((block, i) => {
    if (i > 0) out.push('');
    out.push(...block);
  });
  out.push('}');
  return `${out.join('\n')}\n`;
}
