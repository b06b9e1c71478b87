/**
 * `ipvsadm -Ln` of an IPv6 IPVS proxier's compiled virtual servers (a dual-stack node's
 * second proxier), as ipvsadm prints AF_INET6 services (ipvsadm.c print_service_entry):
 * addresses as `[addr]:port` from inet_ntop, never cut to the IPv4 column widths (ipvsadm
 * truncates only AF_INET names), so a long address pushes the columns right; no `mask` after
 * `persistent N` because kube-proxy gives IPv6 services netmask 128. libipvs sorts IPv6
 * services and destinations by the four address words in turn, each compared as a wrapping
 * 32-bit difference (as for IPv4), after the protocol.
 *
 * The IPv6 virtual servers are compiled, not run, so the connection counters are 0.
 */
import { ipv6Bytes, parseIPv6 } from '../../util/ipv6.js';
import { IpProtocol } from '../../wire/ip-protocol.js';
import type { IpvsNodeState, IpvsVirtualServerSpec } from './compile.js';
import { CONN_TAB_SIZE } from './conn-table.js';
import { SVC_F_PERSISTENT, SVC_F_SCHED1, SVC_F_SCHED2 } from './ip-vs.js';
import { IPVS_VERSION, mergeSort } from './render.js';

const PROTO_NUMBER = { TCP: IpProtocol.TCP, UDP: IpProtocol.UDP, SCTP: IpProtocol.SCTP } as const;

const padRight = (s: string, width: number): string =>
  s.length >= width ? s : s + ' '.repeat(width - s.length);

/** The address as four host-order 32-bit words. */
function words(text: string): number[] {
  const b = ipv6Bytes(parseIPv6(text));
  const out: number[] = [];
  for (let i = 0; i < 16; i += 4)
    out.push(((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0);
  return out;
}

/** C's `(int)(ntohl(a[i]) - ntohl(b[i]))` over the words until one differs. */
function compareAddr6(a: string, b: string): number {
  const x = words(a);
  const y = words(b);
  for (let i = 0; i < 4; i++) {
    const r = (x[i] - y[i]) | 0;
    if (r !== 0) return r;
  }
  return 0;
}

function compareServices6(a: IpvsVirtualServerSpec, b: IpvsVirtualServerSpec): number {
  const p = PROTO_NUMBER[a.protocol] - PROTO_NUMBER[b.protocol];
  if (p !== 0) return p;
  return compareAddr6(a.address, b.address) || a.port - b.port;
}

function schedulerFlags(vs: IpvsVirtualServerSpec): string {
  const f: string[] = [];
  if (vs.scheduler === 'sh' || vs.scheduler === 'mh') {
    if (vs.flags & SVC_F_SCHED1) f.push(`${vs.scheduler}-fallback`);
    if (vs.flags & SVC_F_SCHED2) f.push(`${vs.scheduler}-port`);
  } else if (vs.flags & SVC_F_SCHED2) f.push('flag-2');
  return f.join(',');
}

/** `ipvsadm -Ln` of the node's IPv6 virtual servers. */
export function renderIpvsadmList6(state: IpvsNodeState): string {
  const lines = [
    `IP Virtual Server version ${IPVS_VERSION} (size=${CONN_TAB_SIZE})`,
    'Prot LocalAddress:Port Scheduler Flags',
    '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
  ];
  for (const vs of mergeSort([...state.virtualServers], compareServices6)) {
    let line = `${padRight(vs.protocol, 4)} [${vs.address}]:${vs.port} ${vs.scheduler}`;
    const flags = schedulerFlags(vs);
    if (flags !== '') line += ` (${flags})`;
    if (vs.flags & SVC_F_PERSISTENT) line += ` persistent ${vs.timeoutS}`;
    lines.push(line);
    const dests = mergeSort([...vs.realServers], (a, b) => compareAddr6(a.ip, b.ip) || a.port - b.port);
    for (const d of dests) {
      lines.push(
        `  -> ${padRight(`[${d.ip}]:${d.port}`, 28)} ${padRight('Masq', 7)} ${padRight(String(d.weight), 6)} ${padRight('0', 10)} ${padRight('0', 10)}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
