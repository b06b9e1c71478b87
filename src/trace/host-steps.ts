/**
 * The wording of a host's trace steps (`dpsim trace`): what the topology's receive,
 * forward and output paths print at each step, kept apart from the code that moves the
 * packets so that the path reads as mechanics and the trace reads the same everywhere.
 */
import { CtState } from '../conntrack/constants.js';
import { formatIPv4 } from '../util/ipv4.js';
import { DropReason, PathVerdict } from './drop-reasons.js';

/** How each verdict of the netfilter path reads in a hook step. */
export const PATH_VERDICT_TEXT: Readonly<Record<PathVerdict, string>> = {
  [PathVerdict.CONTINUE]: 'ACCEPT',
  [PathVerdict.DROP]: 'DROP',
  [PathVerdict.REJECT]: 'REJECT',
  [PathVerdict.CT_FULL]: 'DROP (conntrack table full)',
  [PathVerdict.NAT_FAILED]: 'DROP (NAT failed)',
  [PathVerdict.INVALID]: 'DROP (INVALID)',
};

/** Short text of a drop at the host (the step after 'drop'). */
const DROP_TEXT: Partial<Record<DropReason, string>> = {
  [DropReason.OTHERHOST]: 'not our MAC',
  [DropReason.UNHANDLED_PROTO]: 'unhandled protocol',
  [DropReason.PKT_TOO_SMALL]: 'malformed',
  [DropReason.IP_CSUM]: 'bad IP checksum',
  [DropReason.TCP_CSUM]: 'bad TCP checksum',
  [DropReason.IP_NOROUTE]: 'no route',
  [DropReason.IP_NOT_FORWARDING]: 'not forwarding',
  [DropReason.IP_TTL_EXCEEDED]: 'TTL exceeded',
  [DropReason.NEIGH_FAILED]: 'no neighbour',
  [DropReason.NETFILTER_DROP]: 'netfilter DROP',
  [DropReason.NETFILTER_REJECT]: 'netfilter REJECT',
  [DropReason.CONNTRACK_FULL]: 'nf_conntrack: table full, dropping packet',
  [DropReason.CONNTRACK_INVALID]: 'conntrack INVALID',
  [DropReason.NAT_FAILED]: 'NAT failed',
  [DropReason.NO_SOCKET]: 'no socket',
  [DropReason.TC_PROGRAM]: 'tc program',
};

export function dropText(reason: DropReason): string {
  return DROP_TEXT[reason] ?? String(reason);
}

/** `--ctstate`-style text of CtState bits. */
export function ctStateText(bits: number): string {
  const names: string[] = [];
  if (bits & CtState.NEW) names.push('NEW');
  if (bits & CtState.ESTABLISHED) names.push('ESTABLISHED');
  if (bits & CtState.RELATED) names.push('RELATED');
  if (bits & CtState.INVALID) names.push('INVALID');
  if (bits & CtState.DNAT) names.push('DNAT');
  if (bits & CtState.SNAT) names.push('SNAT');
  return names.join(',') || 'UNTRACKED';
}

/** The tuple fields a hook step compares (what the rules saw, and the packet after the hook). */
export interface TupleFields {
  readonly saddr: number;
  readonly daddr: number;
  readonly sport: number;
  readonly dport: number;
}

/** One netfilter hook: verdict, the tuple after it, conntrack state, and the NAT it did. */
export function hookStepText(
  verdict: PathVerdict,
  seen: TupleFields,
  after: TupleFields,
  ctState: number,
  firstPacket: boolean,
): string {
  const tuple = `${formatIPv4(after.saddr)}:${after.sport} → ${formatIPv4(after.daddr)}:${after.dport}`;
  let nat = '';
  if (seen.daddr !== after.daddr || seen.dport !== after.dport)
    nat = `  DNAT ${formatIPv4(seen.daddr)}:${seen.dport} → ${formatIPv4(after.daddr)}:${after.dport}`;
  if (seen.saddr !== after.saddr || seen.sport !== after.sport)
    nat += `  SNAT ${formatIPv4(seen.saddr)}:${seen.sport} → ${formatIPv4(after.saddr)}:${after.sport}`;
  const ct = ctStateText(ctState) + (firstPacket ? ', first packet' : '');
  return `${PATH_VERDICT_TEXT[verdict]}  ${tuple}  ct ${ct}${nat}`;
}

export function routeText(daddr: number, nextHop: number, device: string): string {
  return `${formatIPv4(daddr)} via ${formatIPv4(nextHop)} dev ${device}`;
}

export function encapsulatedText(remoteNode: number, underlay: string): string {
  return `encapsulated → ${formatIPv4(remoteNode)} via ${underlay}`;
}

export function decapsulatedText(device: string): string {
  return `decapsulated on ${device}`;
}

export function socketLbNoBackendText(
  localAddr: number,
  localPort: number,
  remoteAddr: number,
  remotePort: number,
): string {
  return `connect ${formatIPv4(localAddr)}:${localPort} -> ${formatIPv4(remoteAddr)}:${remotePort}: service has no backend, EHOSTUNREACH`;
}

export function deliverTcpText(daddr: number, dport: number, saddr: number, sport: number): string {
  return `tcp ${formatIPv4(daddr)}:${dport} from ${formatIPv4(saddr)}:${sport}`;
}

export function deliverUdpText(daddr: number, dport: number, saddr: number, sport: number): string {
  return `udp ${formatIPv4(daddr)}:${dport} from ${formatIPv4(saddr)}:${sport}`;
}

export function deliverSctpText(daddr: number, dport: number, saddr: number, sport: number): string {
  return `sctp ${formatIPv4(daddr)}:${dport} from ${formatIPv4(saddr)}:${sport}`;
}

export function deliverIcmpText(code: number): string {
  return `icmp unreachable code ${code}`;
}

export function icmpSentText(code: number, dst: number): string {
  return `unreachable code ${code} → ${formatIPv4(dst)}`;
}

export function ipvsRedirectText(daddr: number, dport: number): string {
  return `→ ${formatIPv4(daddr)}:${dport}`;
}
