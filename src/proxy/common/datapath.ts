/**
 * How a proxy mode plugs into a node, whatever its rule language. The topology owns the
 * packet path (hooks in Linux order, routing, conntrack, byte rewrites); a mode only
 * decides. Two attachment points exist, as on a real node:
 *
 * - netfilter hooks (iptables, nftables, and IPVS with its remaining iptables rules):
 *   `runHook` sees the packet's PacketMeta at each hook and answers with a verdict and
 *   possibly a NAT request, which the node applies through its conntrack table (nat rules
 *   run only for a connection's first packet, as netfilter does).
 * - tc ingress (the eBPF mode): `tcIngress` runs on the frame bytes when they arrive on an
 *   interface, before the stack, and may rewrite them, drop them, or redirect them.
 *
 * Results are written into caller-owned objects so the per-packet call allocates nothing.
 */
import type { PacketMeta } from './packet-meta.js';

export type ProxyMode = 'iptables' | 'nftables' | 'ipvs' | 'ebpf';
export const PROXY_MODES: readonly ProxyMode[] = ['iptables', 'nftables', 'ipvs', 'ebpf'];

/** A netfilter hook's verdict on a packet (iptables, nftables and IPVS node programs alike). */
export const enum HookVerdict {
  /** The kernel's NF_DROP = 0, NF_ACCEPT = 1; REJECT is a DROP that answers. */
  DROP = 0,
  ACCEPT = 1,
  /** Drop and answer with ICMP destination unreachable (code in `rejectCode`). */
  REJECT = 2,
}

/**
 * The one NAT kind: what a rule asks for (`-j DNAT/SNAT/MASQUERADE`, nft `dnat`/`snat`/
 * `masquerade`) and what the netfilter path then binds in conntrack.
 */
export const enum NatKind {
  NONE = 0,
  DNAT = 1,
  SNAT = 2,
  MASQUERADE = 3,
}

/** The answer of one hook; `reset()` before each hook. */
export class HookResult {
  verdict: HookVerdict = HookVerdict.ACCEPT;
  /** ICMP unreachable code for REJECT (3 = port unreachable, the default of `-j REJECT` and nft `reject`). */
  rejectCode = 3;
  nat: NatKind = NatKind.NONE;
  /** DNAT/SNAT target address (u32); MASQUERADE leaves it 0 (the out-interface address is used). */
  natAddr = 0;
  /** Port range; 0/0 keeps the port (DNAT) or uses the kernel's default range (SNAT). */
  natPortMin = 0;
  natPortMax = 0;
  /** `--random-fully` / `masquerade fully-random`. */
  natRandomFully = false;
  /** Rules the mode examined for this hook: the per-packet cost of a linear rule walk. */
  rulesEvaluated = 0;

  reset(): void {
    this.verdict = HookVerdict.ACCEPT;
    this.rejectCode = 3;
    this.nat = NatKind.NONE;
    this.natAddr = 0;
    this.natPortMin = 0;
    this.natPortMax = 0;
    this.natRandomFully = false;
    this.rulesEvaluated = 0;
  }
}

/** One matched rule, for `dpsim trace` (like `iptables -j TRACE` / `nft monitor trace`). */
export interface RuleTraceEvent {
  readonly hook: string;
  /** Table (`nat`, `filter`, `ip kube-proxy`, `ipvs`, a BPF program name). */
  readonly table: string;
  readonly chain: string;
  readonly ruleIndex: number;
  readonly ruleText: string;
}

export interface RuleTraceSink {
  record(event: RuleTraceEvent): void;
}

/** A mode's netfilter-side program on one node. */
export interface NetfilterProgram {
  /** Runs the mode's rules for `meta.hook`. Reads/writes `meta.mark`. */
  runHook(meta: PacketMeta, out: HookResult, trace: RuleTraceSink | null): void;
}

export const enum TcAction {
  /** Continue into the kernel stack (TC_ACT_OK). */
  PASS = 0,
  /** TC_ACT_SHOT; the reason is in TcResult.dropReason. */
  DROP = 1,
  /** bpf_redirect_neigh to `TcResult.ifindex`: out that interface, skipping the stack. */
  REDIRECT = 2,
  /** Send back out of the interface it came in on (bpf_redirect to the ingress ifindex). */
  TX = 3,
}

export class TcResult {
  action: TcAction = TcAction.PASS;
  /** Target interface (topology-wide index) for REDIRECT. */
  ifindex = -1;
  /** Next-hop address for REDIRECT's neighbour lookup (0: the packet's destination). */
  nextHop = 0;
  /** Mode-specific drop reason code; the program names it via `dropReasonName`. */
  dropReason = 0;
  /** New frame length when the program changed it (encapsulation). */
  length = 0;

  reset(length: number): void {
    this.action = TcAction.PASS;
    this.ifindex = -1;
    this.nextHop = 0;
    this.dropReason = 0;
    this.length = length;
  }
}

/** A BPF-like program attached at tc ingress of one interface. */
export interface TcProgram {
  readonly name: string;
  /** Runs on `frame[0..length)`; may rewrite bytes in place (the buffer has room up to its byteLength). */
  run(frame: Uint8Array, length: number, nowNs: number, out: TcResult, trace: RuleTraceSink | null): void;
  dropReasonName(code: number): string;
}
