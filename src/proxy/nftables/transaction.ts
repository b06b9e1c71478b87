/**
 * The `nft -f` command lines kube-proxy's nftables transactions are made of, spelled the way
 * knftables writes them (`add chain ip kube-proxy NAME { type nat hook prerouting priority
 * dstnat ; }`, `add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : goto … }`).
 * Rules are written in the form `nft list` prints them (render.ts), which nft reads back
 * unchanged; kube-proxy spells a few of them differently (`mark set mark or 0x4000` for
 * `meta mark set meta mark | 0x00004000`), which the kernel stores as the same rule.
 */
import { renderDuration, renderPriority, renderRule, renderVerdict } from './render.js';
import type { NftChain, NftMap, NftMapElement, NftRule, NftSet, NftTable } from './table.js';

const quote = (s: string) => `"${s}"`;

/** `ip kube-proxy` (or `ip6 kube-proxy`): what every command names its table by. */
export function tableRef(table: Pick<NftTable, 'family' | 'name'>): string {
  return `${table.family} ${table.name}`;
}

export function addTable(table: Pick<NftTable, 'family' | 'name' | 'comment'>): string {
  return `add table ${tableRef(table)} { comment ${quote(table.comment)} ; }`;
}

/** `add chain`: a base chain with its type, hook and priority; a regular one with its comment, if any. */
export function addChain(t: string, chain: Pick<NftChain, 'name' | 'base' | 'comment'>): string {
  const props: string[] = [];
  if (chain.base !== undefined)
    props.push(`type ${chain.base.type} hook ${chain.base.hook} priority ${renderPriority(chain.base)}`);
  if (chain.comment !== undefined) props.push(`comment ${quote(chain.comment)}`);
  return props.length === 0
    ? `add chain ${t} ${chain.name}`
    : `add chain ${t} ${chain.name} { ${props.map((p) => `${p} ;`).join(' ')} }`;
}

export const flushChain = (t: string, name: string) => `flush chain ${t} ${name}`;
export const deleteChain = (t: string, name: string) => `delete chain ${t} ${name}`;

export function addRule(t: string, chain: string, rule: NftRule, family: NftTable['family']): string {
  return `add rule ${t} ${chain} ${renderRule(rule, family)}`;
}

/** `add set` / `add map` with the properties kube-proxy gives them (no elements). */
export function addSetOrMap(t: string, s: NftSet | NftMap): string {
  const props: string[] = [];
  if (s.kind === 'set') {
    props.push(`type ${s.type}`);
    if (s.flags !== undefined && s.flags.length > 0) props.push(`flags ${s.flags.join(',')}`);
    if (s.timeoutSeconds !== undefined) props.push(`timeout ${renderDuration(s.timeoutSeconds)}`);
  } else props.push(`type ${s.keyType} : verdict`);
  if (s.comment !== undefined) props.push(`comment ${quote(s.comment)}`);
  return `add ${s.kind} ${t} ${s.name} { ${props.map((p) => `${p} ;`).join(' ')} }`;
}

export const flushSetOrMap = (t: string, kind: 'set' | 'map', name: string) => `flush ${kind} ${t} ${name}`;
export const deleteSetOrMap = (t: string, kind: 'set' | 'map', name: string) => `delete ${kind} ${t} ${name}`;

/** A map element's key as nft spells it: `172.30.0.41 . tcp . 80`, `tcp . 30080`. */
export function mapElementKey(el: Pick<NftMapElement, 'addr' | 'proto' | 'port'>): string {
  return el.addr !== undefined ? `${el.addr} . ${el.proto} . ${el.port}` : `${el.proto} . ${el.port}`;
}

export function addSetElement(t: string, set: string, addr: string): string {
  return `add element ${t} ${set} { ${addr} }`;
}

export function addMapElement(t: string, map: string, el: NftMapElement): string {
  const comment = el.comment !== undefined ? ` comment ${quote(el.comment)}` : '';
  return `add element ${t} ${map} { ${mapElementKey(el)}${comment} : ${renderVerdict(el.verdict)} }`;
}

/** `delete element` names the key only (a set's element is its key). */
export function deleteElement(t: string, container: string, key: string): string {
  return `delete element ${t} ${container} { ${key} }`;
}
