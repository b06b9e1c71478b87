/**
 * Number and date formatting exactly as the C and Go code behind iptables does it.
 * JavaScript's toFixed rounds exact ties away from zero; glibc printf and Go's strconv
 * round them to even, and ties do occur here (1/2048 = 0.00048828125, 2^19/2^31), so
 * decimals are produced from the double's exact binary value with BigInt arithmetic.
 */

const TWO_POW_31 = 0x80000000;

/** printf("%.<digits>f", x) / Go fmt "%0.<digits>f" for finite x ≥ 0, exact with ties to even. */
export function formatFixed(x: number, digits: number): string {
  if (!Number.isFinite(x) || x < 0) throw new RangeError(`formatFixed: unsupported value ${x}`);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biasedExp = (hi >>> 20) & 0x7ff;
  let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp: number;
  if (biasedExp === 0) exp = -1074;
  else {
    mantissa |= 1n << 52n;
    exp = biasedExp - 1075;
  }
  // x = mantissa * 2^exp exactly; scaled = x * 10^digits.
  const scale = 10n ** BigInt(digits);
  let q: bigint;
  if (exp >= 0) q = (mantissa << BigInt(exp)) * scale;
  else {
    const denom = 1n << BigInt(-exp);
    const num = mantissa * scale;
    q = num / denom;
    const twiceRem = (num % denom) * 2n;
    if (twiceRem > denom || (twiceRem === denom && q % 2n === 1n)) q += 1n;
  }
  const text = q.toString().padStart(digits + 1, '0');
  return digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`;
}

/** kube-proxy computeProbability(n): fmt.Sprintf("%0.10f", 1.0/float64(n)). */
export function kubeProxyProbability(n: number): string {
  return formatFixed(1 / n, 10);
}

/** libxt_statistic: probability = lround(0x80000000 * p), p in [0, 1]. */
export function probabilityToKernel(p: number): number {
  return Math.round(TWO_POW_31 * p);
}

/** libxt_statistic save: printf("%.11f", probability / 0x80000000). */
export function formatKernelProbability(threshold: number): string {
  return formatFixed(threshold / TWO_POW_31, 11);
}

/** printf("0x%x"). */
export function hex(value: number): string {
  return `0x${(value >>> 0).toString(16)}`;
}

/** Go fmt.Sprintf("%#08x", v): the width counts digits only, so 0x4000 becomes "0x00004000". */
export function goHex08(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, '0')}`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** ctime(3) without the newline ("Thu Jan  1 00:00:00 2025"), in UTC so output is reproducible. */
export function ctime(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${DAYS[date.getUTCDay()]} ${MONTHS[date.getUTCMonth()]} ${String(date.getUTCDate()).padStart(2, ' ')} ` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} ${date.getUTCFullYear()}`
  );
}
