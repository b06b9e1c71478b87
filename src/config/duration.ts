/**
 * Go's time.ParseDuration, as metav1.Duration fields of a KubeProxyConfiguration are read
 * ("30s", "1m", "2h22m", "250ms", "0"), and time.Duration.String() to print one back.
 */

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

export class DurationError extends Error {
  override name = 'DurationError';
}

/** Nanoseconds of a Go duration string; throws DurationError with Go's wording. */
export function parseGoDuration(text: string): number {
  const quoted = JSON.stringify(text);
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new DurationError(`time: invalid duration ${quoted}`);
  let total = 0;
  const re = /^(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)/;
  while (s.length > 0) {
    const m = re.exec(s);
    if (m === null || m[1] === '' || m[1] === '.') {
      if (/^\d*\.?\d*$/.test(s)) throw new DurationError(`time: missing unit in duration ${quoted}`);
      const unit = /^\d*\.?\d*([^\d.]+)/.exec(s)?.[1];
      throw new DurationError(
        unit !== undefined
          ? `time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`
          : `time: invalid duration ${quoted}`,
      );
    }
    total += Number(m[1]) * UNIT_NS[m[2]];
    s = s.slice(m[0].length);
  }
  return sign * Math.round(total);
}

/** time.Duration.String(): "1h0m0s", "30s", "250ms", "0s". */
export function formatGoDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.abs(ns);
  let out: string;
  if (u < 1e9) {
    out = u < 1e3 ? `${u}ns` : u < 1e6 ? `${trim(u / 1e3)}µs` : `${trim(u / 1e6)}ms`;
  } else {
    const h = Math.floor(u / 3600e9);
    u -= h * 3600e9;
    const m = Math.floor(u / 60e9);
    u -= m * 60e9;
    const sec = `${trim(u / 1e9)}s`;
    out = h > 0 ? `${h}h${m}m${sec}` : m > 0 ? `${m}m${sec}` : sec;
  }
  return neg ? `-${out}` : out;
}

function trim(n: number): string {
  return String(Number(n.toFixed(9)));
}
