/**
 * The eBPF mode's programs as tc ingress attachments: `cil_from_netdev` on the node's
 * eth0 and `cil_from_container` on each pod's host-side veth, both sharing the node's
 * EbpfDatapath (and so its maps). Cilium's programs handle both families; here each family's
 * half is its own attachment over its own load balancer (the IPv6 one: datapath6.ts), and a
 * frame of the other family passes it untouched.
 */

import { formatIPv4 } from '../../util/ipv4.js';
import { formatIPv6Bytes } from '../../util/ipv6.js';
import { type RuleTraceSink, TcAction, type TcProgram, type TcResult } from '../common/datapath.js';
import type { EbpfDatapath } from './datapath.js';
import { dropReasonName } from './drop.js';
import { BACKEND_VALUE_WORDS } from './lbmaps.js';

const NS_PER_S = 1e9;
/** Trace text per TcAction. */
const ACTION_TEXT: Record<TcAction, string> = {
  [TcAction.PASS]: 'TC_ACT_OK (pass to the stack)',
  [TcAction.DROP]: 'TC_ACT_SHOT (drop)',
  [TcAction.REDIRECT]: 'bpf_redirect_neigh',
  [TcAction.TX]: 'bpf_redirect back out (TX)',
};

function finish(dp: EbpfDatapath, v: TcAction, out: TcResult): void {
  out.action = v;
  if (v === TcAction.DROP) out.dropReason = dp.dropReason;
  if (dp.replyLength > 0) out.length = dp.replyLength;
}

/** Which of the node's two programs an attachment runs. */
type Attachment = 'netdev' | 'container';

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;

/**
 * The node's datapath, or how to build it: a node's maps are compiled when its first packet
 * arrives (sim/modes.ts), so a program can be attached before they exist.
 */
export type EbpfDatapathSource = EbpfDatapath | (() => EbpfDatapath);

class EbpfTcIngress implements TcProgram {
  readonly name: string;
  private dp: EbpfDatapath | null;
  private readonly etherType: number;
  constructor(
    private readonly source: EbpfDatapathSource,
    private readonly attachment: Attachment,
    family: 'ipv4' | 'ipv6',
  ) {
    this.name = attachment === 'netdev' ? 'cil_from_netdev' : 'cil_from_container';
    this.dp = typeof source === 'function' ? null : source;
    this.etherType = family === 'ipv6' ? ETH_P_IPV6 : ETH_P_IP;
  }

  get datapath(): EbpfDatapath {
    this.dp ??= (this.source as () => EbpfDatapath)();
    return this.dp;
  }

  run(frame: Uint8Array, length: number, nowNs: number, out: TcResult, trace: RuleTraceSink | null): void {
    // The other family's half of the program takes this frame.
    if (length >= 14 && ((frame[12] << 8) | frame[13]) !== this.etherType) {
      out.action = TcAction.PASS;
      return;
    }
    const now = nowNs / NS_PER_S;
    // Only when tracing: what the packet was, and the datapath's counters, to tell what it did.
    const before = trace !== null ? snapshot(this.datapath, frame, length) : null;
    const v =
      this.attachment === 'netdev'
        ? this.datapath.tcIngressNode(frame, 0, length, now)
        : this.datapath.tcIngressPod(frame, 0, length, now);
    finish(this.datapath, v, out);
    if (trace === null || before === null) return;
    const lines = explain(this.datapath, before, snapshot(this.datapath, frame, out.length));
    lines.push(ACTION_TEXT[v] ?? String(v));
    for (let i = 0; i < lines.length; i++)
      trace.record({ hook: 'tc ingress', table: 'bpf', chain: this.name, ruleIndex: i, ruleText: lines[i] });
  }

  dropReasonName(code: number): string {
    return dropReasonName(code);
  }
}

/** A packet's addresses and the datapath's translation counters at one moment (tracing only). */
interface Snapshot {
  readonly tuple: { saddr: string; daddr: string; sport: number; dport: number; proto: number } | null;
  readonly dnat: number;
  readonly snat: number;
  readonly revNat: number;
  readonly revSnat: number;
  readonly noServiceReplies: number;
}

function snapshot(dp: EbpfDatapath, frame: Uint8Array, length: number): Snapshot {
  const c = dp.counters;
  return {
    tuple: tupleOf(frame, length),
    dnat: c.dnat,
    snat: c.snat,
    revNat: c.revNat,
    revSnat: c.revSnat,
    noServiceReplies: c.noServiceReplies,
  };
}

/**
 * The TCP/UDP 4-tuple of an Ethernet frame (IPv4, or IPv6 without extension headers), its
 * addresses as text (IPv6 in brackets), or null.
 */
function tupleOf(frame: Uint8Array, length: number): Snapshot['tuple'] {
  const etherType = (frame[12] << 8) | frame[13];
  const ip = 14;
  let proto: number;
  let l4: number;
  let saddr: string;
  let daddr: string;
  if (etherType === ETH_P_IP && length >= 34) {
    proto = frame[ip + 9];
    l4 = ip + (frame[ip] & 0x0f) * 4;
    const u32 = (at: number) =>
      ((frame[at] << 24) | (frame[at + 1] << 16) | (frame[at + 2] << 8) | frame[at + 3]) >>> 0;
    saddr = formatIPv4(u32(ip + 12));
    daddr = formatIPv4(u32(ip + 16));
  } else if (etherType === ETH_P_IPV6 && length >= 54) {
    proto = frame[ip + 6];
    l4 = ip + 40;
    saddr = `[${formatIPv6Bytes(frame, ip + 8)}]`;
    daddr = `[${formatIPv6Bytes(frame, ip + 24)}]`;
  } else return null;
  if ((proto !== 6 && proto !== 17) || length < l4 + 4) return null;
  return {
    saddr,
    daddr,
    sport: (frame[l4] << 8) | frame[l4 + 1],
    dport: (frame[l4 + 2] << 8) | frame[l4 + 3],
    proto,
  };
}

const endpoint = (addr: string, port: number): string => `${addr}:${port}`;

/**
 * What the program did to the packet, in the words of `cilium monitor -v`'s debug messages
 * (frontend lookup, the backend chosen, reverse NAT), plus the DNAT/SNAT it applied as
 * pwru shows them: the tuple before and after.
 */
function explain(dp: EbpfDatapath, a: Snapshot, b: Snapshot): string[] {
  const lines: string[] = [];
  if (b.noServiceReplies > a.noServiceReplies && a.tuple !== null) {
    // The packet is now the ICMP error, so only the "before" tuple names the flow.
    const t = a.tuple;
    const v6 = t.daddr.startsWith('[');
    lines.push(`Frontend service lookup, addr=${t.daddr} key.dport=${t.dport}: no backends`);
    lines.push(
      `tail_no_service_ipv${v6 ? '6: ICMPv6' : '4: ICMP'} destination unreachable (port unreachable) ${t.daddr} -> ${t.saddr}`,
    );
    return lines;
  }
  if (a.tuple === null || b.tuple === null) return lines;
  const t0 = a.tuple;
  const t1 = b.tuple;
  if (b.dnat > a.dnat) {
    lines.push(`Frontend service lookup, addr=${t0.daddr} key.dport=${t0.dport}`);
    const fe = dp.lb.frontends.get(`${t0.daddr}:${t0.dport}/${t0.proto === 6 ? 'TCP' : 'UDP'}`);
    const bv = dp.lb.maps.backends.values;
    const o = dp.backendId * BACKEND_VALUE_WORDS;
    if (dp.backendId > 0 && o < bv.length)
      lines.push(
        `Service backend slot lookup result: target=${dp.lb.addressText(bv[o])} port=${bv[o + 1] & 0xffff}` +
          ` (backend ${dp.backendId}${fe !== undefined ? `, service ${fe.plan.servicePortName}, revNAT ${fe.revNat}` : ''})`,
      );
    lines.push(`DNAT ${endpoint(t0.daddr, t0.dport)} -> ${endpoint(t1.daddr, t1.dport)}`);
  }
  if (b.snat > a.snat) lines.push(`SNAT ${endpoint(t0.saddr, t0.sport)} -> ${endpoint(t1.saddr, t1.sport)}`);
  if (b.revSnat > a.revSnat)
    lines.push(`reverse SNAT ${endpoint(t0.daddr, t0.dport)} -> ${endpoint(t1.daddr, t1.dport)}`);
  if (b.revNat > a.revNat)
    lines.push(
      `Performing reverse NAT, address=${t1.saddr} port=${t1.sport}` +
        ` (${endpoint(t0.saddr, t0.sport)} -> ${endpoint(t1.saddr, t1.sport)})`,
    );
  return lines;
}

/** `cil_from_netdev` on the node's eth0 (its IPv4 half, or with 'ipv6' its IPv6 half). */
export class EbpfNodeIngress extends EbpfTcIngress {
  constructor(datapath: EbpfDatapathSource, family: 'ipv4' | 'ipv6' = 'ipv4') {
    super(datapath, 'netdev', family);
  }
}

/** `cil_from_container` on a pod's host-side veth (its IPv4 half, or with 'ipv6' its IPv6 half). */
export class EbpfPodIngress extends EbpfTcIngress {
  constructor(datapath: EbpfDatapathSource, family: 'ipv4' | 'ipv6' = 'ipv4') {
    super(datapath, 'container', family);
  }
}
