/**
 * Seeded delay distributions for the control plane's clock (a node's watch delay, …), written
 * the way a user types them: `150ms` (fixed), `uniform:50ms-500ms`, `exp:200ms` (exponential
 * with that mean). Durations are Go's (`1.5s`, `300ms`). Every draw comes from the run's Rng,
 * so a seed fixes every delay.
 */
import { parseGoDuration } from '../config/duration.js';
import type { Rng } from '../util/rng.js';

export type DelaySpec =
  | { readonly kind: 'fixed'; readonly ns: number }
  | { readonly kind: 'uniform'; readonly minNs: number; readonly maxNs: number }
  | { readonly kind: 'exp'; readonly meanNs: number };

export class DelaySpecError extends Error {
  override name = 'DelaySpecError';
}

function duration(text: string, whole: string): number {
  try {
    const ns = parseGoDuration(text.trim());
    if (ns < 0) throw new DelaySpecError(`delay "${whole}": ${text} is negative`);
    return ns;
  } catch (e) {
    if (e instanceof DelaySpecError) throw e;
    throw new DelaySpecError(
      `delay "${whole}": "${text}" is not a duration (expected e.g. 150ms, uniform:50ms-500ms, exp:200ms)`,
    );
  }
}

export function parseDelaySpec(text: string): DelaySpec {
  const t = text.trim();
  if (t.startsWith('uniform:')) {
    const parts = t.slice('uniform:'.length).split('-');
    if (parts.length !== 2)
      throw new DelaySpecError(`delay "${text}": expected uniform:MIN-MAX, e.g. uniform:50ms-500ms`);
    const minNs = duration(parts[0], text);
    const maxNs = duration(parts[1], text);
    if (maxNs < minNs) throw new DelaySpecError(`delay "${text}": ${parts[1]} is below ${parts[0]}`);
    return { kind: 'uniform', minNs, maxNs };
  }
  if (t.startsWith('exp:')) return { kind: 'exp', meanNs: duration(t.slice(4), text) };
  return { kind: 'fixed', ns: duration(t, text) };
}

/** One draw, whole nanoseconds. */
export function sampleDelay(spec: DelaySpec, rng: Rng): number {
  switch (spec.kind) {
    case 'fixed':
      return spec.ns;
    case 'uniform':
      return Math.round(spec.minNs + rng.nextFloat() * (spec.maxNs - spec.minNs));
    case 'exp':
      // 1 - u is in (0, 1], so the log is finite.
      return Math.round(-Math.log(1 - rng.nextFloat()) * spec.meanNs);
  }
}

export function formatDelaySpec(spec: DelaySpec): string {
  const ms = (ns: number) => `${ns / 1e6}ms`;
  switch (spec.kind) {
    case 'fixed':
      return ms(spec.ns);
    case 'uniform':
      return `uniform:${ms(spec.minNs)}-${ms(spec.maxNs)}`;
    case 'exp':
      return `exp:${ms(spec.meanNs)}`;
  }
}
