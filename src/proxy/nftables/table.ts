/**
 * The structured form of kube-proxy's `table ip kube-proxy`: what compile.ts produces and
 * both render.ts (text as `nft list table` prints it) and evaluate.ts (the datapath) consume.
 *
 * Objects are kept in creation order, because that is the order the kernel keeps them in
 * and `nft list` prints them in. Set/map elements are kept in kube-proxy's insertion order;
 * the renderer sorts them the way nft does.
 */

import type { NftAddrType, NftFamily } from './family.js';

export type NftL4Proto = 'tcp' | 'udp' | 'sctp';
export type NftHookName = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
export type NftAddrField = 'saddr' | 'daddr';

/** A verdict as it appears in rules and map elements. */
export type NftVerdict =
  | { readonly kind: 'accept' | 'drop' | 'return' }
  | { readonly kind: 'jump' | 'goto'; readonly chain: string };

/** One condition of a rule; all of a rule's matches must hold. */
export type NftMatch =
  /**
   * `ip saddr 10.0.0.0/8`, `ip daddr != 127.0.0.0/8`, `ip saddr != { a, b }` (addresses or CIDRs,
   * as text; `ip6 …` in an ip6 table).
   */
  | {
      readonly kind: 'addr';
      readonly field: NftAddrField;
      readonly negate: boolean;
      readonly prefixes: readonly string[];
    }
  /** `ip daddr @cluster-ips`, `ip saddr @affinity-…`. */
  | { readonly kind: 'addrInSet'; readonly field: NftAddrField; readonly set: string }
  /** `ct state new`. */
  | {
      readonly kind: 'ctState';
      readonly states: readonly ('new' | 'established' | 'related' | 'invalid' | 'untracked')[];
    }
  /** `fib saddr type local`. */
  | { readonly kind: 'fibLocal'; readonly field: NftAddrField }
  /** `meta l4proto tcp`. */
  | { readonly kind: 'l4proto'; readonly proto: NftL4Proto }
  /** `meta mark & 0x00004000 == 0x00000000`. */
  | { readonly kind: 'markMask'; readonly mask: number; readonly negate: boolean; readonly value: number };

/** What a rule does once its matches hold. */
export type NftStatement =
  | { readonly kind: 'verdict'; readonly verdict: NftVerdict }
  /** `ip daddr . meta l4proto . th dport vmap @service-ips` / `meta l4proto . th dport vmap @…`. */
  | { readonly kind: 'vmap'; readonly key: 'daddr.l4proto.dport' | 'l4proto.dport'; readonly map: string }
  /** `numgen random mod N vmap { 0 : goto A, 1 : goto B }` — targets[i] is the verdict for i. */
  | { readonly kind: 'numgenVmap'; readonly targets: readonly NftVerdict[] }
  /** `meta mark set meta mark | 0x00004000` (or `^`). */
  | { readonly kind: 'markSet'; readonly op: 'or' | 'xor'; readonly value: number }
  | { readonly kind: 'masquerade'; readonly fullyRandom: boolean }
  /** `dnat to 10.180.0.1:80` (`dnat to [fd00::1]:80` in an ip6 table). */
  | { readonly kind: 'dnat'; readonly addr: string; readonly port: number }
  /** `update @affinity-… { ip saddr }`. */
  | { readonly kind: 'setUpdate'; readonly set: string; readonly field: NftAddrField }
  /**
   * Plain `reject`: ICMP port-unreachable in an ip table, ICMPv6 port-unreachable in an ip6
   * table (nft's defaults for the family, like ip(6)tables' `-j REJECT`).
   */
  | { readonly kind: 'reject' };

export interface NftRule {
  readonly matches: readonly NftMatch[];
  readonly statements: readonly NftStatement[];
  readonly comment?: string;
}

export interface NftBaseChainSpec {
  readonly type: 'filter' | 'nat';
  readonly hook: NftHookName;
  /** Numeric priority (dstnat = -100, filter = 0, srcnat = 100). */
  readonly priority: number;
  readonly policy: 'accept';
}

export interface NftChain {
  readonly name: string;
  readonly base?: NftBaseChainSpec;
  readonly comment?: string;
  readonly rules: NftRule[];
}

export interface NftSet {
  readonly kind: 'set';
  readonly name: string;
  readonly type: NftAddrType;
  readonly comment?: string;
  readonly flags?: readonly ('dynamic' | 'timeout')[];
  readonly timeoutSeconds?: number;
  /** Addresses of the table's family, insertion order. */
  readonly elements: string[];
}

export type NftMapKeyType =
  | 'ipv4_addr . inet_proto . inet_service'
  | 'ipv6_addr . inet_proto . inet_service'
  | 'inet_proto . inet_service';

export interface NftMapElement {
  /** Present iff the key type starts with an address type. */
  readonly addr?: string;
  readonly proto: NftL4Proto;
  readonly port: number;
  readonly comment?: string;
  readonly verdict: NftVerdict;
}

export interface NftMap {
  readonly kind: 'map';
  readonly name: string;
  readonly keyType: NftMapKeyType;
  readonly comment?: string;
  readonly elements: NftMapElement[];
}

export interface NftTable {
  /** `ip` (kube-proxy's IPv4 proxier) or `ip6` (its IPv6 proxier on a dual-stack node). */
  readonly family: NftFamily;
  readonly name: 'kube-proxy';
  readonly comment: string;
  /** Sets and maps in creation order (nft lists them before the chains). */
  readonly sets: (NftSet | NftMap)[];
  /** Chains in creation order. */
  readonly chains: NftChain[];
  /** Facts the datapath needs that are not part of the ruleset text. */
  readonly node: { readonly name: string; readonly ip: string };
}
