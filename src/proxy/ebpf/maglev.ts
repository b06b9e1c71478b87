/**
 * Maglev consistent hashing (Eisenbud et al., NSDI 2016, §3.4) exactly as Cilium's
 * `pkg/maglev` builds its lookup tables:
 * - each backend is named by a stable string (`ciliumBackendKey`) and backends are sorted by
 *   that name, so every node builds the same table whatever its node-local backend IDs;
 * - `offset = h1 mod M`, `skip = h2 mod (M−1) + 1` from MurmurHash3_x64_128(name, SeedMurmur);
 * - step n (0..M−1) starts with backend `n mod N`; the backend claims its next free preferred
 *   slot `(offset + j·skip) mod M`;
 * - weights (Envoy-style) change how often a backend gets a turn, Cilium's float counters included.
 *
 * Control-plane code: it runs when a service's backends change, not per packet.
 */
import { murmur3x64x128 } from './hash.js';

/** The table sizes Cilium accepts for `--bpf-lb-maglev-table-size` (all prime). */
export const MAGLEV_TABLE_SIZES = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071] as const;
export type MaglevTableSize = (typeof MAGLEV_TABLE_SIZES)[number];
export const DEFAULT_MAGLEV_TABLE_SIZE: MaglevTableSize = 16381;
/** Cilium's default `--bpf-lb-maglev-hash-seed` (base64 of 12 bytes). */
export const DEFAULT_MAGLEV_HASH_SEED = 'JLfvgnHc2kaSUFaI';

export class MaglevError extends Error {
  override name = 'MaglevError';
}

/** The three 32-bit seeds Cilium derives from the 12-byte Maglev seed (big-endian words). */
export interface MaglevSeeds {
  /** Seeds the backend-name murmur3 hash (bytes 0–3). */
  readonly murmur: number;
  /** HASH_INIT4_SEED: the datapath's IPv4 flow hash seed (bytes 4–7). */
  readonly jhash0: number;
  /** HASH_INIT6_SEED (bytes 8–11). */
  readonly jhash1: number;
}

export function parseMaglevSeed(base64: string): MaglevSeeds {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64) || base64.length % 4 !== 0) {
    throw new MaglevError(`Cannot decode base64 Maglev hash seed "${base64}"`);
  }
  const d = Buffer.from(base64, 'base64');
  if (d.length !== 12) throw new MaglevError(`Decoded hash seed is ${d.length} bytes (not 12 bytes)`);
  return { murmur: d.readUInt32BE(0), jhash0: d.readUInt32BE(4), jhash1: d.readUInt32BE(8) };
}

export function isMaglevTableSize(m: number): m is MaglevTableSize {
  return (MAGLEV_TABLE_SIZES as readonly number[]).includes(m);
}

/**
 * The string Cilium hashes for a backend: `[ip:port/PROTO,State:active]`, with `/i` after the
 * protocol for the internal scope of a two-scope service.
 */
export function ciliumBackendKey(ip: string, port: number, protocol: string, internalScope = false): string {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return `[${host}:${port}/${protocol}${internalScope ? '/i' : ''},State:active]`;
}

/** One backend's permutation parameters. */
export interface OffsetSkip {
  readonly offset: number;
  readonly skip: number;
}

export function maglevOffsetSkip(name: string, m: number, murmurSeed: number): OffsetSkip {
  const [h1, h2] = murmur3x64x128(new TextEncoder().encode(name), murmurSeed);
  const bm = BigInt(m);
  return { offset: Number(h1 % bm), skip: Number((h2 % (bm - 1n)) + 1n) };
}

/**
 * The population loop over backends given in turn order with their permutation parameters.
 * Returns, for each of the M slots, the index (into `params`) of the owning backend.
 * `weights` (optional, one per backend) follows Cilium: weights take effect only when
 * `floor(Σw / N) > 1`; then a backend of weight 0 gets its one initial turn and no more.
 */
export function populateMaglev(
  params: readonly OffsetSkip[],
  m: number,
  weights?: readonly number[],
): Int32Array {
  const n = params.length;
  const entry = new Int32Array(m).fill(-1);
  if (n === 0) return entry;
  if (weights !== undefined && weights.length !== n) {
    throw new MaglevError(`populateMaglev: ${weights.length} weights for ${n} backends`);
  }
  // Walk each permutation incrementally instead of materialising N×M preference lists
  // (Cilium allocates them; the sequence is the same).
  const pos = new Float64Array(n);
  const skip = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const { offset, skip: s } = params[i];
    if (!(offset >= 0 && offset < m && s >= 1 && s < m)) {
      throw new MaglevError(`backend ${i}: offset ${offset} / skip ${s} out of range for M=${m}`);
    }
    pos[i] = offset;
    skip[i] = s;
  }
  let weightSum = 0;
  if (weights !== undefined) for (const w of weights) weightSum += w;
  const useWeights = weights !== undefined && Math.floor(weightSum / n) > 1;
  const weightCntr = new Float64Array(n);
  if (useWeights) for (let i = 0; i < n; i++) weightCntr[i] = weights[i] / n;

  for (let step = 0; step < m; step++) {
    let i = step % n;
    if (useWeights) {
      // Skip backends whose weighted turn has not come yet (Cilium compares against the truncated counter).
      while ((step + 1) * weights[i] < Math.floor(weightCntr[i])) i = (i + 1) % n;
      weightCntr[i] += weightSum;
    }
    let c = pos[i];
    while (entry[c] >= 0) {
      c += skip[i];
      if (c >= m) c -= m;
    }
    entry[c] = i;
    c += skip[i];
    pos[i] = c >= m ? c - m : c;
  }
  return entry;
}

export interface MaglevBackendSpec {
  /** Stable name hashed into the permutation (use `ciliumBackendKey`). Must be unique. */
  readonly key: string;
  /** Cilium backend weight (default 1 there too). */
  readonly weight?: number;
}

export interface MaglevOptions {
  readonly tableSize?: number;
  /** Base64 12-byte seed; default Cilium's. */
  readonly seed?: string;
}

/**
 * Cilium's `GetLookupTable`: the M-slot table of indices into `backends` (the caller maps an
 * index to its backend ID). Backends are sorted by key before filling, so the input order does
 * not matter. An empty backend list gives an all −1 table.
 */
export function maglevLookupTable(
  backends: readonly MaglevBackendSpec[],
  options: MaglevOptions = {},
): Int32Array {
  const m = options.tableSize ?? DEFAULT_MAGLEV_TABLE_SIZE;
  if (!isMaglevTableSize(m)) {
    throw new MaglevError(`invalid Maglev table size ${m}: must be one of ${MAGLEV_TABLE_SIZES.join(', ')}`);
  }
  const seeds = parseMaglevSeed(options.seed ?? DEFAULT_MAGLEV_HASH_SEED);
  const order = backends.map((_, i) => i);
  // Go's sort.Strings compares bytes; for the ASCII names used here that equals code-unit order.
  order.sort((a, b) => (backends[a].key < backends[b].key ? -1 : backends[a].key > backends[b].key ? 1 : 0));
  for (let k = 1; k < order.length; k++) {
    if (backends[order[k]].key === backends[order[k - 1]].key) {
      throw new MaglevError(`duplicate Maglev backend key "${backends[order[k]].key}"`);
    }
  }
  const params = order.map((i) => maglevOffsetSkip(backends[i].key, m, seeds.murmur));
  const weights = order.map((i) => {
    const w = backends[i].weight ?? 1;
    if (!Number.isInteger(w) || w < 0 || w > 0xffff)
      throw new MaglevError(`invalid weight ${w} for "${backends[i].key}"`);
    return w;
  });
  const table = populateMaglev(params, m, weights);
  for (let s = 0; s < m; s++) table[s] = order[table[s]];
  return table;
}
