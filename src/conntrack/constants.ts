/**
 * Conntrack's numeric vocabulary: status bits (`enum ip_conntrack_status`), directions,
 * statistics counters (as `conntrack -S` names them), drop reasons and the result codes
 * of `ConntrackTable.track`.
 */

/** `IPS_*` status bits (same bit positions as the kernel). */
export const enum CtStatus {
  EXPECTED = 1 << 0,
  SEEN_REPLY = 1 << 1,
  ASSURED = 1 << 2,
  CONFIRMED = 1 << 3,
  SRC_NAT = 1 << 4,
  DST_NAT = 1 << 5,
  /** The source binding is set up (a null binding when the nat table asked for none). */
  SRC_NAT_DONE = 1 << 7,
  DST_NAT_DONE = 1 << 8,
  DYING = 1 << 9,
  /** Timeout not refreshed by packets (set with NAT_CLASH). */
  FIXED_TIMEOUT = 1 << 10,
  /** A clash loser kept for its reply direction only (IPS_NAT_CLASH shares bit 12 with UNTRACKED). */
  NAT_CLASH = 1 << 12,
}

/** conntrack states as `-m conntrack --ctstate` and nft `ct state` name them (bit flags). */
export const enum CtState {
  INVALID = 1,
  ESTABLISHED = 2,
  RELATED = 4,
  NEW = 8,
  UNTRACKED = 64,
  /** The connection's source was translated (`--ctstate SNAT`). */
  SNAT = 128,
  /** The connection's destination was translated (`--ctstate DNAT`). */
  DNAT = 256,
}

export const enum CtDir {
  ORIGINAL = 0,
  REPLY = 1,
}

/** Per-table statistics, named as in `conntrack -S`. */
export const enum CtStat {
  FOUND = 0,
  NEW = 1,
  INVALID = 2,
  INSERT = 3,
  INSERT_FAILED = 4,
  DROP = 5,
  EARLY_DROP = 6,
  EXPIRED = 7,
  /** A confirm clash resolved instead of dropping the packet. */
  CLASH_RESOLVE = 8,
}

export const CT_STAT_NAMES: readonly string[] = [
  'found',
  'new',
  'invalid',
  'insert',
  'insert_failed',
  'drop',
  'early_drop',
  'expired',
  'clash_resolve',
];

/**
 * What nf_conntrack_confirm does when a new UDP connection's original tuple is already in
 * the table (two packets of one socket raced through conntrack on two CPUs), by kernel:
 *  - `none` (before 4.19): insert_failed, the packet is dropped;
 *  - `matching` (4.19 – 5.5, "resolve clash for matching conntracks"): the packet joins the
 *    existing entry when both entries are identical (same NAT), else it is dropped;
 *  - `harder` (5.6 and later, "allow insertion of clashing entries"): also when they differ
 *    the packet goes on: its entry is inserted for its reply direction only, with a fixed
 *    1 s timeout, and removed by the first reply.
 */
export type ClashResolution = 'none' | 'matching' | 'harder';

/** The clash handling of a kernel release ("6.1.0", "4.14"). */
export function clashResolutionOf(kernelVersion: string): ClashResolution {
  const [major, minor] = kernelVersion.split('.').map((n) => Number.parseInt(n, 10));
  const v = (major ?? 0) * 1000 + (minor ?? 0);
  if (v >= 5006) return 'harder';
  if (v >= 4019) return 'matching';
  return 'none';
}

/** Why conntrack dropped a packet. */
export const enum CtDropReason {
  /** No free entry and nothing evictable (`early_drop` failed). */
  TABLE_FULL = 0,
  /** The tuples of a new connection clashed with an existing entry at confirm time. */
  INSERT_FAILED = 1,
}

export const CT_DROP_REASON_NAMES: readonly string[] = [
  'nf_conntrack: table full, dropping packet',
  'nf_conntrack: insert failed (tuple already in the table)',
];

/** `track` results below zero; a result ≥ 0 is a packet reference `(conn << 1) | dir`. */
export const CT_TRACK_INVALID = -1;
export const CT_TRACK_DROP = -2;

/** SNAT range flags (`NF_NAT_RANGE_PROTO_RANDOM`, `…_RANDOM_FULLY`). */
export const NAT_RANGE_PROTO_RANDOM = 1 << 2;
export const NAT_RANGE_PROTO_RANDOM_FULLY = 1 << 4;
export const NAT_RANGE_PROTO_RANDOM_ALL = NAT_RANGE_PROTO_RANDOM | NAT_RANGE_PROTO_RANDOM_FULLY;

/** NAT binding results below zero. */
export const NAT_ERR_CONFIRMED = -1;
export const NAT_ERR_BAD_CONN = -2;
/** `--to-ports` range empty or outside 0..65535. */
export const NAT_ERR_BAD_RANGE = -3;
