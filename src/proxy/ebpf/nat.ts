/**
 * The eBPF datapath's NodePort SNAT (Cilium's `bpf/lib/nat.h` for IPv4): the SNAT map's
 * value words and the mapping create/lookup (`snat_v4_nat` + `snat_v4_new_mapping`,
 * `snat_v4_rev_nat`). Map operations only; the programs rewrite the packet.
 *
 * SNAT map (`cilium_snat_v4_external`): key [daddr, saddr, dport << 16 | sport,
 * nexthdr | dir << 8] → value [to_addr, to_port, created].
 */
import { BPF_NOEXIST, type BpfLruHashMap } from '../../maps/index.js';
import type { Rng } from '../../util/rng.js';
import { NatDir } from './layouts.js';

/** SNAT port range for NodePort masquerading (NODEPORT_PORT_MAX+1 .. 65535). */
export const SNAT_PORT_MIN = 32768;
export const SNAT_PORT_MAX = 65535;
export const SNAT_COLLISION_RETRIES = 128;

/** Word indexes of a SNAT map value. */
export const enum NatValue {
  TO_ADDR = 0,
  TO_PORT = 1,
  CREATED = 2,
}

/** `snat_v4_nat` failed to find or create a mapping (DROP_NAT_NO_MAPPING). */
export const NAT_NO_MAPPING = -1;

/**
 * The node port a flow client:cport → backend:bport is masqueraded to: the flow's existing
 * mapping, else a new one — the client port if it lies in range, else random then
 * consecutive ports — with its reverse entry. Returns the port or NAT_NO_MAPPING.
 */
export function snatV4Port(
  nat: BpfLruHashMap,
  rng: Rng,
  nodeIp: number,
  client: number,
  cport: number,
  backend: number,
  bport: number,
  proto: number,
  now: number,
  /** First SNAT port: nodePort.range's maximum + 1 (Cilium's default SNAT_PORT_MIN). */
  portMin: number = SNAT_PORT_MIN,
): number {
  const nv = nat.values;
  const fk2 = ((bport << 16) | cport) >>> 0;
  let f = nat.lookupWords(backend, client, fk2, proto | (NatDir.EGRESS << 8));
  if (f >= 0) return nv[nat.valueOffset(f) + NatValue.TO_PORT];
  // Cilium folds every candidate as (value % (max − min)) + min, so max itself never occurs.
  const span = SNAT_PORT_MAX - portMin;
  let port = cport >= portMin && cport <= SNAT_PORT_MAX ? cport : (rng.nextU32() % span) + portMin;
  let r = -1;
  for (let retry = 0; retry <= SNAT_COLLISION_RETRIES; retry++) {
    // Reverse key: the reply backend:bport → node:port.
    r = nat.insertWords(
      BPF_NOEXIST,
      nodeIp,
      backend,
      ((port << 16) | bport) >>> 0,
      proto | (NatDir.INGRESS << 8),
    );
    if (r >= 0) break;
    port = ((retry === 0 ? rng.nextU32() : port + 1) % span) + portMin;
  }
  if (r < 0) return NAT_NO_MAPPING;
  const ro = nat.valueOffset(r);
  nv[ro + NatValue.TO_ADDR] = client;
  nv[ro + NatValue.TO_PORT] = cport;
  nv[ro + NatValue.CREATED] = now;
  f = nat.insertWords(BPF_NOEXIST, backend, client, fk2, proto | (NatDir.EGRESS << 8));
  if (f < 0) {
    nat.deleteEntry(r);
    return NAT_NO_MAPPING;
  }
  const fo = nat.valueOffset(f);
  nv[fo + NatValue.TO_ADDR] = nodeIp;
  nv[fo + NatValue.TO_PORT] = port;
  nv[fo + NatValue.CREATED] = now;
  return port;
}

/**
 * The reverse mapping of a reply saddr:sport → daddr:dport addressed to the node: the value
 * offset of its [to_addr, to_port] (the original client), or −1 when the node has none.
 */
export function revSnatV4Lookup(
  nat: BpfLruHashMap,
  saddr: number,
  daddr: number,
  sport: number,
  dport: number,
  proto: number,
): number {
  const r = nat.lookupWords(daddr, saddr, ((dport << 16) | sport) >>> 0, proto | (NatDir.INGRESS << 8));
  return r < 0 ? -1 : nat.valueOffset(r);
}
