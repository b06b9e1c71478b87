/**
 * Exact non-negative rationals over BigInt. A backend's share of new connections is a
 * product of kernel fixed-point probabilities (denominators 2^31, 2^32, a Maglev table
 * size), so it is computed exactly and only rounded when printed.
 */

export interface Fraction {
  readonly num: bigint;
  readonly den: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

export function frac(num: bigint | number, den: bigint | number = 1n): Fraction {
  const n = BigInt(num);
  const d = BigInt(den);
  if (d === 0n) throw new RangeError('fraction with a zero denominator');
  const g = gcd(n, d) || 1n;
  const sign = d < 0n ? -1n : 1n;
  return { num: (sign * n) / g, den: (sign * d) / g };
}

export const ZERO: Fraction = { num: 0n, den: 1n };
export const ONE: Fraction = { num: 1n, den: 1n };

export function add(a: Fraction, b: Fraction): Fraction {
  return frac(a.num * b.den + b.num * a.den, a.den * b.den);
}

export function sub(a: Fraction, b: Fraction): Fraction {
  return frac(a.num * b.den - b.num * a.den, a.den * b.den);
}

export function mul(a: Fraction, b: Fraction): Fraction {
  return frac(a.num * b.num, a.den * b.den);
}

export function equals(a: Fraction, b: Fraction): boolean {
  return a.num === b.num && a.den === b.den;
}

/** |a − b| ≤ tol, exactly. */
export function within(a: Fraction, b: Fraction, tol: Fraction): boolean {
  const d = sub(a, b);
  const abs = d.num < 0n ? frac(-d.num, d.den) : d;
  return abs.num * tol.den <= tol.num * abs.den;
}

export function toNumber(f: Fraction): number {
  // Scale so that the quotient keeps ~17 significant digits before converting.
  const SCALE = 10n ** 18n;
  return Number((f.num * SCALE) / f.den) / 1e18;
}

/** `33.333333349%`: the share as a percentage with `digits` decimals (truncated toward zero). */
export function percent(f: Fraction, digits = 9): string {
  const scale = 10n ** BigInt(digits);
  const q = (f.num * 100n * scale) / f.den;
  const text = q.toString().padStart(digits + 1, '0');
  return `${text.slice(0, -digits)}.${text.slice(-digits)}%`;
}

/** `a/b` in lowest terms (`1/3`, `715827883/2147483648`). */
export function fractionText(f: Fraction): string {
  return f.den === 1n ? f.num.toString() : `${f.num}/${f.den}`;
}
