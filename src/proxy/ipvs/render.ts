/**
 * Text a user would see on an IPVS-mode node, byte for byte where the tools' source fixes
 * it (ipvsadm.c print_title / print_service_entry / print_conn, libipvs sort order):
 *
 * - `ipvsadm -Ln` and `ipvsadm -Ln --stats`;
 * - `ipvsadm -Lnc` (the connection table, from /proc/net/ip_vs_conn order);
 * - `ipset list`.
 *
 * printf padding is reproduced exactly, including the trailing spaces `%-10u` leaves at the
 * end of destination lines.
 *
 * Sorting: libipvs compares addresses as `int r = ntohl(a) - ntohl(b)`, a wrapping 32-bit
 * difference, so addresses more than 2^31 apart compare "backwards" (192.168.x sorts
 * before 10.x). The kernel list is sorted with glibc's qsort, whose classic implementation
 * is a top-down merge sort; `mergeSort` follows it so the non-transitive comparator gives
 * the same order. (glibc 2.37 briefly switched qsort to introsort — on such a system the
 * order of addresses more than 2^31 apart could differ.)
 */
import { formatIPv4 } from '../../util/ipv4.js';
import { IpProtocol } from '../../wire/ip-protocol.js';
import { CONN_TAB_SIZE, type IpvsConnTable } from './conn-table.js';
import { SVC_F_ONEPACKET, SVC_F_PERSISTENT, SVC_F_SCHED1, SVC_F_SCHED2, SVC_F_SCHED3 } from './ip-vs.js';
import type { IpsetTable } from './ipsets.js';
import { ipsetReferences } from './iptables-rules.js';
import { SCTP_STATE_NAMES, TCP_STATE_NAMES, TEMPLATE_STATE_NAMES } from './proto-states.js';
import type { IpvsDest, IpvsService, IpvsServiceTable, IpvsStats } from './service-table.js';

/** IP_VS_VERSION_CODE 0x010201 → "1.2.1". */
export const IPVS_VERSION = '1.2.1';

function padRight(s: string, width: number): string {
  return s.length >= width ? s : s + ' '.repeat(width - s.length);
}

function padLeft(s: string, width: number): string {
  return s.length >= width ? s : ' '.repeat(width - s.length) + s;
}

export function protocolName(proto: number): string {
  if (proto === IpProtocol.TCP) return 'TCP';
  if (proto === IpProtocol.UDP) return 'UDP';
  if (proto === IpProtocol.SCTP) return 'SCTP';
  return 'IP';
}

/** C's `(int)(a - b)` for u32 operands. */
function wrapDiff(a: number, b: number): number {
  return ((a >>> 0) - (b >>> 0)) | 0;
}

/** glibc msort: split n/2 | n - n/2, sort both halves, merge taking the left on cmp <= 0. */
export function mergeSort<T>(items: T[], cmp: (a: T, b: T) => number): T[] {
  if (items.length <= 1) return items.slice();
  const n1 = items.length >> 1;
  const left = mergeSort(items.slice(0, n1), cmp);
  const right = mergeSort(items.slice(n1), cmp);
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length && j < right.length) {
    if (cmp(left[i], right[j]) <= 0) out.push(left[i++]);
    else out.push(right[j++]);
  }
  while (i < left.length) out.push(left[i++]);
  while (j < right.length) out.push(right[j++]);
  return out;
}

/** ipvs_cmp_services (fwmark and af are equal for dpsim's services). */
export function compareServices(a: IpvsService, b: IpvsService): number {
  if (a.protocol !== b.protocol) return a.protocol - b.protocol;
  const r = wrapDiff(a.addr, b.addr);
  if (r !== 0) return r;
  return a.port - b.port;
}

/** ipvs_cmp_dests. */
export function compareDests(a: IpvsDest, b: IpvsDest): number {
  const r = wrapDiff(a.addr, b.addr);
  if (r !== 0) return r;
  return a.port - b.port;
}

function schedFlags(svc: IpvsService): string {
  const f: string[] = [];
  const name = svc.scheduler.name;
  if (name === 'sh' || name === 'mh') {
    if (svc.flags & SVC_F_SCHED1) f.push(`${name}-fallback`);
    if (svc.flags & SVC_F_SCHED2) f.push(`${name}-port`);
  } else {
    if (svc.flags & SVC_F_SCHED1) f.push('flag-1');
    if (svc.flags & SVC_F_SCHED2) f.push('flag-2');
    if (svc.flags & SVC_F_SCHED3) f.push('flag-3');
  }
  return f.join(',');
}

function serviceName(svc: IpvsService): string {
  // snprintf("%-4s %s") truncated to 33 characters for IPv4.
  return `${padRight(protocolName(svc.protocol), 4)} ${formatIPv4(svc.addr)}:${svc.port}`.slice(0, 33);
}

function destName(d: IpvsDest): string {
  return `${formatIPv4(d.addr)}:${d.port}`.slice(0, 28);
}

/** print_largenum without --exact. */
function largeNum(i: number): string {
  if (i < 100000000) return padLeft(String(i), 9);
  if (i < 1000000000) return `${padLeft(String(Math.floor(i / 1000)), 8)}K`;
  if (i < 100000000000) return `${padLeft(String(Math.floor(i / 1000000)), 8)}M`;
  if (i < 100000000000000) return `${padLeft(String(Math.floor(i / 1000000000)), 8)}G`;
  return `${padLeft(String(Math.floor(i / 1000000000000)), 8)}T`;
}

function statsColumns(s: IpvsStats): string {
  return (
    largeNum(s.conns) + largeNum(s.inPkts) + largeNum(s.outPkts) + largeNum(s.inBytes) + largeNum(s.outBytes)
  );
}

export interface IpvsadmListOptions {
  /** `--stats`: traffic counters instead of weights and connection counts. */
  readonly stats?: boolean;
}

/** `ipvsadm -Ln` (or `-Ln --stats`). */
export function renderIpvsadmList(table: IpvsServiceTable, opts: IpvsadmListOptions = {}): string {
  const lines: string[] = [`IP Virtual Server version ${IPVS_VERSION} (size=${CONN_TAB_SIZE})`];
  if (opts.stats) {
    lines.push(
      `${padRight('Prot LocalAddress:Port', 33)} ${padLeft('Conns', 8)} ${padLeft('InPkts', 8)} ${padLeft('OutPkts', 8)} ${padLeft('InBytes', 8)} ${padLeft('OutBytes', 8)}`,
      '  -> RemoteAddress:Port',
    );
  } else {
    lines.push(
      'Prot LocalAddress:Port Scheduler Flags',
      '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
    );
  }
  for (const svc of mergeSort([...table.services()], compareServices)) {
    const name = serviceName(svc);
    if (opts.stats) {
      lines.push(padRight(name, 33) + statsColumns(svc.stats));
    } else {
      let line = `${name} ${svc.scheduler.name}`;
      const flags = schedFlags(svc);
      if (flags !== '') line += ` (${flags})`;
      if (svc.flags & SVC_F_PERSISTENT) {
        line += ` persistent ${svc.timeoutS}`;
        if (svc.netmask !== 0xffffffff) line += ` mask ${formatIPv4(svc.netmask)}`;
      }
      if (svc.flags & SVC_F_ONEPACKET) line += ' ops';
      lines.push(line);
    }
    for (const d of mergeSort(svc.dests, compareDests)) {
      if (opts.stats) {
        lines.push(`  -> ${padRight(destName(d), 28)}${statsColumns(d.stats)}`);
      } else {
        lines.push(
          `  -> ${padRight(destName(d), 28)} ${padRight('Masq', 7)} ${padRight(String(d.weight), 6)} ${padRight(String(d.activeConns), 10)} ${padRight(String(d.inactConns), 10)}`,
        );
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

function stateName(conns: IpvsConnTable, i: number): string {
  const s = conns.state[i];
  if (conns.isTemplate(i)) return TEMPLATE_STATE_NAMES[s] ?? 'ERR!';
  const proto = conns.proto[i];
  if (proto === IpProtocol.TCP) return TCP_STATE_NAMES[s] ?? 'ERR!';
  if (proto === IpProtocol.UDP) return 'UDP';
  return SCTP_STATE_NAMES[s] ?? 'ERR!';
}

/** `ipvsadm -Lnc` at simulated time `nowNs`. */
export function renderIpvsadmConnections(conns: IpvsConnTable, nowNs: number): string {
  const lines = [
    'IPVS connection entries',
    `pro expire ${padRight('state', 11)} ${padRight('source', 18)} ${padRight('virtual', 18)} destination`,
  ];
  for (const i of conns.listOrder()) {
    // /proc prints jiffies_delta_to_msecs(expires - now) / 1000: whole seconds, never negative.
    const remaining = Math.max(0, Math.floor((conns.expiresNs[i] - nowNs) / 1e9));
    const expire = `${String(Math.floor(remaining / 60)).padStart(2, '0')}:${String(remaining % 60).padStart(2, '0')}`;
    const src = `${formatIPv4(conns.caddr[i])}:${conns.cport[i]}`;
    const virt = `${formatIPv4(conns.vaddr[i])}:${conns.vport[i]}`;
    const dst = `${formatIPv4(conns.daddr[i])}:${conns.dport[i]}`;
    lines.push(
      `${padRight(protocolName(conns.proto[i]), 3)} ${padRight(expire, 6)} ${padRight(stateName(conns, i), 11)} ${padRight(src, 18)} ${padRight(virt, 18)} ${dst}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** ipset type revisions a current system shows on the "Revision:" line (checked: ipset 7.17 on Linux 6.18). */
const REVISION: Record<string, number> = {
  'hash:ip': 6,
  'hash:ip,port': 7,
  'hash:ip,port,ip': 6,
  'hash:ip,port,net': 8,
  'bitmap:port': 3,
};

export interface IpsetListOptions {
  /** iptables-save text whose `--match-set` references fill the "References:" line. */
  readonly iptablesSave: string;
  /** Only these sets (default: all, in kube-proxy's order). */
  readonly names?: readonly string[];
}

/**
 * `ipset list` for kube-proxy's sets. Members are printed sorted (as `ipset list -sorted`);
 * "Size in memory" and the hash `initval` depend on kernel internals and are rendered as
 * plausible fixed values, not exact ones.
 */
export function renderIpsetList(sets: IpsetTable, opts: IpsetListOptions): string {
  const refs = ipsetReferences(opts.iptablesSave);
  const blocks: string[] = [];
  const names = opts.names ?? [...sets.sets.keys()];
  for (const name of names) {
    const set = sets.get(name);
    const type = set.spec.type;
    const header =
      type === 'bitmap:port'
        ? 'range 0-65535 comment'
        : `family ${sets.family} hashsize 1024 maxelem 65536 comment bucketsize 12 initval 0x00000000`;
    const entries = set.sortedEntries();
    const memory = type === 'bitmap:port' ? 524432 : 408 + entries.length * 56;
    blocks.push(
      [
        `Name: ${sets.kernelName(name)}`,
        `Type: ${type}`,
        `Revision: ${REVISION[type]}`,
        `Header: ${header}`,
        `Size in memory: ${memory}`,
        `References: ${refs.get(sets.kernelName(name)) ?? 0}`,
        `Number of entries: ${entries.length}`,
        'Members:',
        ...entries,
      ].join('\n'),
    );
  }
  return `${blocks.join('\n\n')}\n`;
}
