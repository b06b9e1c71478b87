/**
 * Pre-loads a node's conntrack table from `conntrack -L` (conntrack-tools' default output,
 * what `kubectl debug node/…` can collect), so the connections a real node is tracking —
 * their NAT bindings, TCP states and timeouts — decide what their next packets do here too.
 * The NAT of an entry is read from its tuples, as the kernel keeps it: a reply source other
 * than the original destination is DNAT, a reply destination other than the original source
 * is SNAT. Lines dpsim cannot read are errors naming the line.
 */
import { isIPv4, parseIPv4 } from '../util/ipv4.js';
import { IpProtocol } from '../wire/ip-protocol.js';
import { CtStatus } from './constants.js';
import type { ConntrackTable, RestoredConnection } from './table.js';
import { TCP_CT_STATE_NAMES } from './tcp-state.js';

export class ConntrackRestoreError extends Error {
  override name = 'ConntrackRestoreError';
}

const PROTOS: Readonly<Record<string, number>> = {
  tcp: IpProtocol.TCP,
  udp: IpProtocol.UDP,
  icmp: IpProtocol.ICMP,
};

type Tuple = RestoredConnection['orig'];

/** Reads `conntrack -L` text (the summary line and blank lines are skipped). */
export function parseConntrackList(text: string): RestoredConnection[] {
  const out: RestoredConnection[] = [];
  text.split('\n').forEach((raw, i) => {
    const fail = (why: string): never => {
      throw new ConntrackRestoreError(`conntrack line ${i + 1}: ${why}`);
    };
    const line = raw.trim();
    if (line === '' || line.startsWith('conntrack v')) return;
    const words = line.split(/\s+/);
    const proto = PROTOS[words[0]];
    if (proto === undefined) fail(`protocol "${words[0]}" is not read (tcp, udp, icmp)`);
    if (Number(words[1]) !== proto) fail(`protocol number ${words[1]} does not match ${words[0]}`);
    const secondsLeft = Number(words[2]);
    if (!Number.isInteger(secondsLeft) || secondsLeft < 0) fail(`bad timeout "${words[2]}"`);
    let k = 3;
    let tcpState = 0;
    if (proto === IpProtocol.TCP) {
      tcpState = TCP_CT_STATE_NAMES.indexOf(words[k]);
      if (tcpState <= 0) fail(`unknown TCP state "${words[k]}"`);
      k++;
    }
    const tuples: Record<string, string>[] = [];
    let status = 0;
    let seenReply = true;
    let mark = 0;
    for (; k < words.length; k++) {
      const w = words[k];
      if (w === '[UNREPLIED]') seenReply = false;
      else if (w === '[ASSURED]') status |= CtStatus.ASSURED;
      else if (w.startsWith('[')) fail(`flag ${w} is not read`);
      else {
        const eq = w.indexOf('=');
        if (eq < 0) fail(`cannot read "${w}"`);
        const key = w.slice(0, eq);
        const value = w.slice(eq + 1);
        if (key === 'src') tuples.push({});
        if (key === 'mark') mark = Number(value);
        else if (key === 'use' || key === 'zone' || key === 'secctx') {
          // The table's own reference count and defaults: nothing to restore.
        } else if (tuples.length > 0 && ['src', 'dst', 'sport', 'dport', 'type', 'code', 'id'].includes(key))
          tuples[tuples.length - 1][key] = value;
        else fail(`cannot read "${w}"`);
      }
    }
    if (tuples.length !== 2) fail('an entry needs an original and a reply tuple');
    const tuple = (t: Record<string, string>): Tuple => {
      if (!isIPv4(t.src ?? '') || !isIPv4(t.dst ?? '')) fail('a tuple needs IPv4 src= and dst=');
      const n = (key: string) => {
        const v = Number(t[key]);
        if (!Number.isInteger(v) || v < 0 || v > 0xffff) fail(`bad ${key}="${t[key] ?? ''}"`);
        return v;
      };
      const ports =
        proto === IpProtocol.ICMP
          ? { sport: n('id'), dport: (n('type') << 8) | n('code') }
          : { sport: n('sport'), dport: n('dport') };
      return { saddr: parseIPv4(t.src), daddr: parseIPv4(t.dst), ...ports };
    };
    const orig = tuple(tuples[0]);
    const reply = tuple(tuples[1]);
    if (seenReply) status |= CtStatus.SEEN_REPLY;
    // The bindings are set up either way (a null binding when no NAT applies).
    status |= CtStatus.SRC_NAT_DONE | CtStatus.DST_NAT_DONE;
    if (reply.saddr !== orig.daddr || (proto !== IpProtocol.ICMP && reply.sport !== orig.dport))
      status |= CtStatus.DST_NAT;
    if (reply.daddr !== orig.saddr || (proto !== IpProtocol.ICMP && reply.dport !== orig.sport))
      status |= CtStatus.SRC_NAT;
    out.push({ proto, orig, reply, tcpState, status, mark, secondsLeft });
  });
  return out;
}

/** Puts every entry of the text into `table`; a clash or a full table is an error naming the entry. */
export function restoreConntrack(table: ConntrackTable, text: string, nowNs: number): number {
  const entries = parseConntrackList(text);
  entries.forEach((e, i) => {
    if (table.restore(e, nowNs) < 0)
      throw new ConntrackRestoreError(
        `conntrack entry ${i + 1}: the table is full (nf_conntrack_max ${table.max}) or one of its tuples is already tracked`,
      );
  });
  return entries.length;
}
