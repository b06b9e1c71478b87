/**
 * One cell of a sweep: `connections` new connections, pod → a random ClusterIP among
 * `services` Services × `endpoints` endpoints, through one node of the given mode (the
 * harness of `dpsim bench newconn`, seeded by the cell's seed).
 *
 * The outcome has two parts. `result` is deterministic — a pure function of the cell — so
 * shard runs merged must equal a one-process run: how many connections were translated to a
 * pod, how many distinct backends were chosen, and the histogram of the chosen endpoint's
 * rank within its Service (the per-mode load-balancing fairness, what a what-if sweep asks).
 * `timing` is wall-clock (µs per new connection, table build time) and excluded from equality.
 */
import { buildHarness } from '../bench/mode-harness.js';
import { syntheticModel } from '../traffic/synthetic-model.js';
import { parseIPv4 } from '../util/ipv4.js';
import type { SweepCell } from './spec.js';

export interface CellResult {
  readonly connections: number;
  /** Connections whose first packet was translated to an endpoint of the model. */
  readonly dnat: number;
  readonly distinctBackends: number;
  /** rankHistogram[r]: connections sent to the r-th endpoint (address order) of their Service. */
  readonly rankHistogram: readonly number[];
}

export interface CellTiming {
  /** µs per new connection (the `connections` of the cell, one pass). */
  readonly us: number;
  /** Building the node's tables, ms. */
  readonly buildMs: number;
}

export interface CellOutcome {
  readonly cell: SweepCell;
  readonly result: CellResult;
  readonly timing: CellTiming;
}

export function runCell(cell: SweepCell, connections: number): CellOutcome {
  const endpoints = cell.setting.endpoints;
  const model = syntheticModel({ services: cell.services, endpointsOf: () => endpoints });
  const rankOf = new Map<number, number>();
  for (const sp of model.servicePorts)
    for (let r = 0; r < sp.endpoints.length; r++) rankOf.set(parseIPv4(sp.endpoints[r].ip), r);
  const t0 = performance.now();
  const harness = buildHarness(cell.mode, model, cell.services, cell.seed);
  const buildMs = performance.now() - t0;
  const rankHistogram = new Array<number>(endpoints).fill(0);
  const backends = new Set<number>();
  let dnat = 0;
  const t1 = performance.now();
  for (let i = 0; i < connections; i++) {
    harness.newConn();
    const rank = rankOf.get(harness.lastDestination());
    if (rank === undefined) continue;
    dnat++;
    rankHistogram[rank]++;
    backends.add(harness.lastDestination());
  }
  const us = ((performance.now() - t1) * 1000) / connections;
  return {
    cell,
    result: { connections, dnat, distinctBackends: backends.size, rankHistogram },
    timing: { us, buildMs },
  };
}
