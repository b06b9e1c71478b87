/**
 * The numeric vocabulary of bpf(2) map updates: update flags and the negative errno
 * codes the kernel returns, so map code reports outcomes as numbers (no exceptions on
 * the hot path) and callers can compare against the same names the kernel uses.
 */

/** Create a new element or update an existing one. */
export const BPF_ANY = 0;
/** Create a new element only if it did not exist (else -EEXIST). */
export const BPF_NOEXIST = 1;
/** Update an existing element only (else -ENOENT). */
export const BPF_EXIST = 2;

export const ENOENT = 2;
export const E2BIG = 7;
export const EEXIST = 17;
export const EINVAL = 22;
export const ENOSPC = 28;

/** Name of a (negative or positive) errno code returned by a map operation, for messages. */
export function errnoName(code: number): string {
  switch (Math.abs(code)) {
    case 0:
      return 'OK';
    case ENOENT:
      return 'ENOENT';
    case E2BIG:
      return 'E2BIG';
    case EEXIST:
      return 'EEXIST';
    case EINVAL:
      return 'EINVAL';
    case ENOSPC:
      return 'ENOSPC';
    default:
      return `errno ${Math.abs(code)}`;
  }
}

/** Thrown only at map creation (control plane) for an impossible shape. */
export class MapConfigError extends Error {
  override name = 'MapConfigError';
}

/** Validates a positive integer map dimension, naming the offending parameter. */
export function requirePositiveInt(what: string, n: number, max: number): number {
  if (!Number.isInteger(n) || n <= 0 || n > max) {
    throw new MapConfigError(`${what} must be an integer in 1..${max}, got ${n}`);
  }
  return n;
}
