/**
 * Compile timing of a proxy mode: what the simulator does on a sync (NodeProxy.sync from
 * src/sim/modes.ts). Full: a fresh node proxy for the model. Incremental: one endpoint of one
 * Service changed, the sync told which Service. Every mode builds a node's rules
 * when a packet or a dump first needs them; the timing builds them at once (NodeProxy.build),
 * or it would time nothing. iptables, nftables and IPVS recompile their
 * whole tables on every sync (kube-proxy's full sync; partial sync is not modelled), so their
 * incremental figure is another full compile; eBPF's `lb.sync(model, changed)` re-plans and
 * rewrites only that Service's frontends.
 *
 * Used by bench/modes.bench.ts and `dpsim bench compile`.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ProxyMode } from '../proxy/common/datapath.js';
import type { ProxyModel } from '../proxy/common/model.js';
import type { NodeProxy } from '../sim/modes.js';
import type { Host } from '../topology/host.js';
import { withOneEndpointChanged } from '../traffic/synthetic-model.js';
import { median } from './hotpath.js';
import { attachOne } from './mode-harness.js';

/** eBPF's incremental sync is sub-millisecond: a median of many runs costs nothing. */
export const EBPF_INCREMENTAL_RUNS = 21;

export function elapsedMs<T>(fn: () => T): [T, number] {
  const t = performance.now();
  const r = fn();
  return [r, performance.now() - t];
}

export interface CompileTiming {
  full: number;
  incremental: number;
  runs: number;
  incrementalRuns: number;
}

/**
 * Full: a fresh node proxy for the model (median of `runs`). Incremental: NodeProxy.sync after
 * one endpoint of one Service changed, told which Service (median of `runs`, or of
 * EBPF_INCREMENTAL_RUNS for eBPF, whose incremental sync costs well under a millisecond).
 * Each change builds on the last, so the model the proxy holds differs from the next one in
 * exactly the Service named.
 */
export function timeCompile(mode: ProxyMode, model: ProxyModel, runs: number): CompileTiming {
  const full: number[] = [];
  let attached: { node: Host; proxy: NodeProxy } | null = null;
  for (let r = 0; r < runs; r++) {
    attached = null;
    const [a, ms] = elapsedMs(() => built(attachOne(mode, model)));
    attached = a;
    full.push(ms);
  }
  const incremental: number[] = [];
  const incrementalRuns = mode === 'ebpf' ? EBPF_INCREMENTAL_RUNS : runs;
  let current = model;
  for (let r = 0; r < incrementalRuns; r++) {
    const service = (r * 7919) % model.servicePorts.length;
    current = withOneEndpointChanged(current, service, r + 1);
    const changed = new Set([current.servicePorts[service].servicePortName]);
    const next = current;
    const node = attached!;
    incremental.push(
      elapsedMs(() => {
        node.proxy.sync(next, changed);
        built(node);
      })[1],
    );
  }
  return { full: median(full), incremental: median(incremental), runs, incrementalRuns };
}

/** Compiles what the mode defers to a node's first packet or dump: the timing is of the compile. */
function built<T extends { proxy: NodeProxy }>(attached: T): T {
  attached.proxy.build();
  return attached;
}

/** V8's full garbage collection, exposed on demand (a new context sees the flag once set). */
function fullGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** The node retainedHeapBytes measures, held here so nothing frees it before the second GC. */
const measured: { proxy: NodeProxy }[] = [];

/**
 * The heap one node's compiled rules keep alive: V8's used heap after a full GC with a freshly
 * built node proxy for `model`, minus the same before it was attached (the model itself, shared
 * by every node, is not counted).
 */
export function retainedHeapBytes(mode: ProxyMode, model: ProxyModel): number {
  const gc = fullGc();
  gc();
  const before = process.memoryUsage().heapUsed;
  measured.push(built(attachOne(mode, model)));
  gc();
  const after = process.memoryUsage().heapUsed;
  measured.pop();
  return Math.max(0, after - before);
}
