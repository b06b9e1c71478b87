/**
 * Conntrack timeouts (`net.netfilter.nf_conntrack_*` sysctls), in seconds, with the kernel
 * defaults. A table takes a copy, so a caller can model kube-proxy's start-up overrides
 * (`tcp_timeout_established = 86400`, `tcp_timeout_close_wait = 3600`) or any sysctl change.
 *
 * UDP: `udp_timeout_stream` is 120 s — the value current kernels (checked on 6.18) ship and
 * the kernel documentation lists; a 180 s figure belongs to GRE streams, not UDP.
 */
import { defaultSctpTimeouts } from './sctp-state.js';
import { TcpCtState } from './tcp-state.js';

export interface ConntrackTimeouts {
  /** Per TCP state, indexed by TcpCtState (NONE unused). */
  tcp: number[];
  /** `tcp_timeout_unacknowledged`: needs sequence/window tracking, which is not modelled; kept for dumps/config. */
  tcpUnacknowledged: number;
  udp: number;
  udpStream: number;
  icmp: number;
  generic: number;
  /** `sctp_timeout_*` per SCTP state, indexed by SctpCtState (see sctp-state.ts). */
  sctp: number[];
}

export function defaultTimeouts(): ConntrackTimeouts {
  const tcp = new Array<number>(10).fill(0);
  tcp[TcpCtState.SYN_SENT] = 120;
  tcp[TcpCtState.SYN_RECV] = 60;
  tcp[TcpCtState.ESTABLISHED] = 432000;
  tcp[TcpCtState.FIN_WAIT] = 120;
  tcp[TcpCtState.CLOSE_WAIT] = 60;
  tcp[TcpCtState.LAST_ACK] = 30;
  tcp[TcpCtState.TIME_WAIT] = 120;
  tcp[TcpCtState.CLOSE] = 10;
  tcp[TcpCtState.SYN_SENT2] = 120;
  return {
    tcp,
    tcpUnacknowledged: 300,
    udp: 30,
    udpStream: 120,
    icmp: 30,
    generic: 600,
    sctp: defaultSctpTimeouts(),
  };
}

/** kube-proxy (iptables/IPVS modes) sets these two at start-up. */
export function kubeProxyTimeouts(): ConntrackTimeouts {
  const t = defaultTimeouts();
  t.tcp[TcpCtState.ESTABLISHED] = 86400;
  t.tcp[TcpCtState.CLOSE_WAIT] = 3600;
  return t;
}

export const NS_PER_SECOND = 1e9;
