import type { HookResult, NetfilterProgram, RuleTraceSink } from './datapath.js';
import type { PacketMeta } from './packet-meta.js';

/**
 * A node's netfilter program built the first time a packet reaches one of its hooks. At 10k
 * Services a node's compiled rules cost seconds to build, and one curl touches only the client's
 * first node (and the pod's); the other nodes never need theirs. The build must be pure (same
 * program whenever it runs), which the compilers are: they read only the model they were given.
 */
export class LazyNetfilterProgram implements NetfilterProgram {
  private program: NetfilterProgram | null = null;

  constructor(private readonly build: () => NetfilterProgram) {}

  runHook(meta: PacketMeta, out: HookResult, trace: RuleTraceSink | null): void {
    this.program ??= this.build();
    this.program.runHook(meta, out, trace);
  }

  /** Builds the program now if no packet has yet (compile benchmarks time the build itself). */
  ensureBuilt(): void {
    this.program ??= this.build();
  }

  /** The program itself, built now if no packet has yet (benchmarks that drive a mode's program directly). */
  built(): NetfilterProgram {
    this.program ??= this.build();
    return this.program;
  }
}

/**
 * `build` run at most once, on the first call; later calls return the same value. The lazy
 * modes use it so a node's rule dump and its hooks share one compilation.
 */
export function buildOnce<T>(build: () => T): () => T {
  let value: T | undefined;
  let built = false;
  return () => {
    if (!built) {
      value = build();
      built = true;
    }
    return value as T;
  };
}
