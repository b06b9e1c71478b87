import { CaptureWriteError } from './errors.js';

/** A simulator clock reading in nanoseconds: a bigint, or a number when it fits in 2^53. */
export type TimestampNs = bigint | number;

const TWO_POW_32 = 4294967296;
const NS_PER_SECOND = 1_000_000_000;

// Module-level scratch for the second half of a split, so the per-packet path returns one
// number and allocates no tuple.
let low = 0;
let nanos = 0;

/** Splits a nanosecond timestamp into u32 halves: returns the high one, see {@link lastLow}. */
export function splitHighLow(ts: TimestampNs): number {
  if (typeof ts === 'bigint') {
    if (ts < 0n || ts > 0xffffffffffffffffn) throw badTimestamp(ts);
    low = Number(ts & 0xffffffffn);
    return Number(ts >> 32n);
  }
  if (!Number.isSafeInteger(ts) || ts < 0) throw badTimestamp(ts);
  low = ts % TWO_POW_32;
  return (ts - low) / TWO_POW_32;
}

/** The low 32 bits of the last {@link splitHighLow} call. */
export function lastLow(): number {
  return low;
}

/**
 * Splits a nanosecond timestamp into whole seconds (returned, must fit pcap's u32) and the
 * nanoseconds within that second (left in {@link lastNanos}).
 */
export function splitSecondsNanos(ts: TimestampNs): number {
  if (typeof ts === 'bigint') {
    if (ts < 0n) throw badTimestamp(ts);
    const s = ts / 1_000_000_000n;
    if (s > 0xffffffffn) throw badTimestamp(ts, 'its seconds do not fit the 32-bit pcap field');
    nanos = Number(ts - s * 1_000_000_000n);
    return Number(s);
  }
  if (!Number.isSafeInteger(ts) || ts < 0) throw badTimestamp(ts);
  nanos = ts % NS_PER_SECOND;
  const seconds = (ts - nanos) / NS_PER_SECOND;
  if (seconds > 0xffffffff) throw badTimestamp(ts, 'its seconds do not fit the 32-bit pcap field');
  return seconds;
}

/** The sub-second nanoseconds of the last {@link splitSecondsNanos} call. */
export function lastNanos(): number {
  return nanos;
}

function badTimestamp(ts: TimestampNs, why = 'expected a non-negative integer count of nanoseconds'): Error {
  return new CaptureWriteError(`invalid timestamp ${String(ts)}: ${why}`);
}

/**
 * Converts a pcapng timestamp in if_tsresol ticks to nanoseconds. Bit 7 clear: ticks of
 * 10^-n s; bit 7 set: ticks of 2^-n s. Finer than 1 ns is rounded down.
 */
export function ticksToNanoseconds(ticks: bigint, tsresol: number): bigint {
  const exponent = BigInt(tsresol & 0x7f);
  if ((tsresol & 0x80) !== 0) return (ticks * 1_000_000_000n) >> exponent;
  if (exponent <= 9n) return ticks * 10n ** (9n - exponent);
  return ticks / 10n ** (exponent - 9n);
}
