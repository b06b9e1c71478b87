/**
 * The hash functions Cilium's load balancer uses, bit-exact:
 * - MurmurHash3_x64_128 (Cilium `pkg/murmur3`, the smhasher reference algorithm) names the
 *   Maglev permutation of each backend. Control-plane only, so it uses BigInt for clarity.
 * - Linux/BPF `jhash` (Bob Jenkins' lookup3 with JHASH_INITVAL) and its `jhash_2words` /
 *   `jhash_3words` forms pick a Maglev slot per packet. These are per-packet: pure u32
 *   arithmetic with Math.imul-free shifts, no allocation.
 */

const MASK64 = (1n << 64n) - 1n;
const C1 = 0x87c37b91114253d5n;
const C2 = 0x4cf5ad432745937fn;

function rotl64(x: bigint, r: bigint): bigint {
  return ((x << r) | (x >> (64n - r))) & MASK64;
}

function fmix64(k: bigint): bigint {
  k ^= k >> 33n;
  k = (k * 0xff51afd7ed558ccdn) & MASK64;
  k ^= k >> 33n;
  k = (k * 0xc4ceb9fe1a85ec53n) & MASK64;
  k ^= k >> 33n;
  return k;
}

function readLe64(data: Uint8Array, at: number, count: number): bigint {
  let v = 0n;
  for (let i = count - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[at + i]);
  return v;
}

/** MurmurHash3_x64_128 of `data` with a 32-bit seed; returns the two 64-bit halves [h1, h2]. */
export function murmur3x64x128(data: Uint8Array, seed: number): [bigint, bigint] {
  const len = data.length;
  const nblocks = Math.floor(len / 16);
  let h1 = BigInt(seed >>> 0);
  let h2 = h1;
  for (let i = 0; i < nblocks; i++) {
    let k1 = readLe64(data, i * 16, 8);
    let k2 = readLe64(data, i * 16 + 8, 8);
    k1 = (k1 * C1) & MASK64;
    k1 = rotl64(k1, 31n);
    k1 = (k1 * C2) & MASK64;
    h1 ^= k1;
    h1 = rotl64(h1, 27n);
    h1 = (h1 + h2) & MASK64;
    h1 = (h1 * 5n + 0x52dce729n) & MASK64;
    k2 = (k2 * C2) & MASK64;
    k2 = rotl64(k2, 33n);
    k2 = (k2 * C1) & MASK64;
    h2 ^= k2;
    h2 = rotl64(h2, 31n);
    h2 = (h2 + h1) & MASK64;
    h2 = (h2 * 5n + 0x38495ab5n) & MASK64;
  }
  const tail = nblocks * 16;
  const rest = len & 15;
  if (rest > 8) {
    let k2 = readLe64(data, tail + 8, rest - 8);
    k2 = (k2 * C2) & MASK64;
    k2 = rotl64(k2, 33n);
    k2 = (k2 * C1) & MASK64;
    h2 ^= k2;
  }
  if (rest > 0) {
    let k1 = readLe64(data, tail, Math.min(rest, 8));
    k1 = (k1 * C1) & MASK64;
    k1 = rotl64(k1, 31n);
    k1 = (k1 * C2) & MASK64;
    h1 ^= k1;
  }
  const blen = BigInt(len);
  h1 ^= blen;
  h2 ^= blen;
  h1 = (h1 + h2) & MASK64;
  h2 = (h2 + h1) & MASK64;
  h1 = fmix64(h1);
  h2 = fmix64(h2);
  h1 = (h1 + h2) & MASK64;
  h2 = (h2 + h1) & MASK64;
  return [h1, h2];
}

import { jhash3words, jhashMixMixFinal } from '../../maps/jhash.js';

export { JHASH_INITVAL, jhash2words, jhash3words, jhashBytes } from '../../maps/jhash.js';

/** A host-order u32 as BPF sees the raw network-order field when it reads it as a little-endian word. */
export function rawBe32(hostOrder: number): number {
  return (
    ((hostOrder >>> 24) |
      ((hostOrder >>> 8) & 0xff00) |
      ((hostOrder << 8) & 0xff0000) |
      (hostOrder << 24)) >>>
    0
  );
}

/** A host-order port as the raw 16-bit network-order field value on a little-endian host. */
export function rawBe16(port: number): number {
  return ((port >>> 8) | ((port & 0xff) << 8)) & 0xffff;
}

/**
 * Cilium's IPv4 Maglev flow hash (`hash_from_tuple_v4`, v1.14-era word layout):
 * `jhash_3words(client addr, client_port<<16 | service_port, proto, HASH_INIT4_SEED)` over raw
 * network-order fields read as little-endian words. The VIP is deliberately not hashed, so a
 * client flow picks the same backend through every frontend of the service. Inputs are host
 * order (10.0.0.1 = 0x0a000001, port 80 = 80).
 */
export function ciliumMaglevHashV4(
  clientAddr: number,
  clientPort: number,
  servicePort: number,
  proto: number,
  seedJhash0: number,
): number {
  const ports = ((rawBe16(clientPort) << 16) | rawBe16(servicePort)) >>> 0;
  return jhash3words(rawBe32(clientAddr), ports, proto, seedJhash0);
}

/** The little-endian u32 at `bytes[at..at+4)`: a network-order address word as BPF loads it on x86. */
function rawWordAt(bytes: Uint8Array, at: number): number {
  return bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24);
}

/**
 * Cilium's IPv6 Maglev flow hash (`hash_from_tuple_v6`, same era as the IPv4 form): the client
 * address's four raw words, `client_port<<16 | service_port` and the protocol go through two
 * lookup3 mixes, HASH_INIT6_SEED (the Maglev seed's third word) is added before the final
 * avalanche. The client address is the 16 bytes at `addr[at..at+16)` in network order; ports
 * and protocol host order. As for IPv4, the VIP is not hashed.
 */
export function ciliumMaglevHashV6(
  addr: Uint8Array,
  at: number,
  clientPort: number,
  servicePort: number,
  proto: number,
  seedJhash1: number,
): number {
  const ports = (rawBe16(clientPort) << 16) | rawBe16(servicePort);
  return jhashMixMixFinal(
    rawWordAt(addr, at),
    rawWordAt(addr, at + 4),
    rawWordAt(addr, at + 8),
    rawWordAt(addr, at + 12),
    ports,
    proto,
    seedJhash1,
  );
}
