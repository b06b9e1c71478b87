/**
 * The proxy modes that have a hot-path (batch) datapath, by name. Worker threads import this
 * module to build their own datapath, so a mode must be registered here statically (an entry
 * added at run time with `registerHotpathMode` exists only in the thread that added it).
 */
import { PROXY_MODES } from '../proxy/common/datapath.js';
import type { HotpathDatapath } from './hotpath-datapath.js';
import { EbpfHotpath } from './hotpath-ebpf.js';
import { NaiveMapHotpath } from './hotpath-naive.js';
import { PlainTypedArrayHotpath } from './hotpath-plain.js';

export type HotpathFactory = () => HotpathDatapath;

export class UnknownHotpathModeError extends Error {
  override name = 'UnknownHotpathModeError';
  constructor(
    readonly mode: string,
    readonly available: readonly string[],
  ) {
    super(
      `${(PROXY_MODES as readonly string[]).includes(mode) ? `proxy mode "${mode}" has no hot-path datapath yet` : `unknown hot-path mode "${mode}"`}; available: ${available.join(', ')}`,
    );
  }
}

const factories = new Map<string, HotpathFactory>([
  ['ebpf', () => new EbpfHotpath('random')],
  ['ebpf-maglev', () => new EbpfHotpath('maglev')],
  // Not a proxy mode: the string-keyed Map baseline the typed-array datapaths are compared to.
  ['naive-js-map', () => new NaiveMapHotpath()],
  // Not a proxy mode: bench/c/hotpath-ref.c in plain typed-array JS (what V8 makes of the work).
  ['plain-js', () => new PlainTypedArrayHotpath()],
]);

/** Registry names that are baselines rather than proxy modes. */
export const BASELINE_MODES: readonly string[] = ['naive-js-map', 'plain-js'];

/** Adds (or replaces) a mode in this thread's registry. */
export function registerHotpathMode(name: string, factory: HotpathFactory): void {
  factories.set(name, factory);
}

/** Names of the modes with a hot-path datapath, sorted. */
export function hotpathModes(): string[] {
  return [...factories.keys()].sort();
}

/** A fresh, unprepared datapath of `mode`; throws UnknownHotpathModeError listing the modes. */
export function createHotpathDatapath(mode: string): HotpathDatapath {
  const factory = factories.get(mode);
  if (factory === undefined) throw new UnknownHotpathModeError(mode, hotpathModes());
  return factory();
}
