/**
 * Socket-level load balancing, the hook a mode may attach to a host's own sockets (Cilium's
 * cgroup `connect4` / `recvmsg4` / `getpeername4` programs), next to the tc and netfilter
 * hook interfaces of datapath.ts. The mode decides at connect(); `SocketLbTranslations`
 * remembers each socket's choice so its segments carry the backend and the app sees the
 * Service address on the way back.
 */
import { APP_IPV6_BASE } from '../../apps/transport.js';
import { TcpFlag } from '../../wire/tcp.js';

/**
 * What socket-LB makes of one connect(): no Service (connect as asked), the backend to
 * connect to instead, or a Service with no backend to pick (connect() fails, EHOSTUNREACH).
 */
export type SocketLbVerdict =
  | { readonly kind: 'not-service' }
  | { readonly kind: 'backend'; readonly addr: number; readonly port: number }
  | { readonly kind: 'no-backend' };

/** Connect-time Service translation for a host's own sockets (Cilium's socket-LB). */
export interface SocketLb {
  connect(daddr: number, dport: number, proto: number): SocketLbVerdict;
}

/** One socket's translation: the Service address the app connected to and the backend used. */
export interface SocketTranslation {
  readonly vip: number;
  readonly vport: number;
  readonly addr: number;
  readonly port: number;
}

/**
 * Keys fit in a double exactly: port · 2^33 + address (an IPv4 address, or an IPv6 one as
 * APP_IPV6_BASE + its index, below 2^33).
 */
function sockKey(port: number, addr: number): number {
  return port * 8589934592 + addr;
}

/** The translations of one host's sockets, by (local port, Service) and (local port, backend). */
export class SocketLbTranslations {
  private readonly byService = new Map<number, SocketTranslation>();
  private readonly byBackend = new Map<number, SocketTranslation>();

  constructor(readonly lb: SocketLb) {}

  /** connect4: asks the mode and records a backend choice for the socket on `localPort`. */
  connect(localPort: number, vip: number, vport: number, proto: number): SocketLbVerdict {
    const verdict = this.lb.connect(vip, vport, proto);
    if (verdict.kind === 'backend') this.record(localPort, vip, vport, verdict);
    return verdict;
  }

  /**
   * The translation of an outgoing TCP segment's socket: made by `connect` when the app
   * connected through the stack, else at the SYN (a segment sent without connect()).
   */
  outgoing(
    sport: number,
    dst: number,
    dport: number,
    flags: number,
    proto: number,
  ): SocketTranslation | undefined {
    let x = this.byService.get(sockKey(sport, dst));
    const isSyn = (flags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN;
    if (isSyn && (x === undefined || x.vport !== dport)) {
      const verdict = this.lb.connect(dst, dport, proto);
      if (verdict.kind !== 'backend') return undefined;
      x = this.record(sport, dst, dport, verdict);
    }
    return x !== undefined && x.vport === dport ? x : undefined;
  }

  /** recvmsg/getpeername: the app sees the Service address again instead of the backend. */
  untranslate(peer: { src: number; sport: number }, localPort: number): void {
    const x = this.byBackend.get(sockKey(localPort, peer.src));
    if (x !== undefined && x.port === peer.sport) {
      peer.src = x.vip;
      peer.sport = x.vport;
    }
  }

  private record(
    localPort: number,
    vip: number,
    vport: number,
    backend: { readonly addr: number; readonly port: number },
  ): SocketTranslation {
    const x: SocketTranslation = { vip, vport, addr: backend.addr, port: backend.port };
    this.byService.set(sockKey(localPort, vip), x);
    this.byBackend.set(sockKey(localPort, backend.addr), x);
    return x;
  }
}

/**
 * Socket-LB of a dual-stack host: Cilium's connect4 and connect6 hooks, each over its family's
 * load balancer. An IPv6 address reaches it as the apps number it (APP_IPV6_BASE + its
 * address-table index); the IPv6 load balancer keys the bare index.
 */
export class DualStackSocketLb implements SocketLb {
  constructor(
    private readonly v4: SocketLb,
    private readonly v6: SocketLb,
  ) {}

  connect(daddr: number, dport: number, proto: number): SocketLbVerdict {
    if (daddr < APP_IPV6_BASE) return this.v4.connect(daddr, dport, proto);
    const v = this.v6.connect(daddr - APP_IPV6_BASE, dport, proto);
    return v.kind === 'backend' ? { kind: 'backend', addr: APP_IPV6_BASE + v.addr, port: v.port } : v;
  }
}
