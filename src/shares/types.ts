/**
 * What a node's rules say about balance: for one way into a service port, the exact
 * fraction of new connections each endpoint receives, computed from the rules the datapath
 * runs (not sampled), and what kube-proxy or Cilium intended.
 */
import type { Fraction } from './fraction.js';

/** The exact shares one selection mechanism (a chain, a vmap, a virtual server, a frontend) gives. */
export interface RuleShares {
  /** Endpoint `ip:port` → exact share of new connections, in the rules' order. */
  readonly shares: ReadonlyMap<string, Fraction>;
  /** Share of new connections no endpoint gets (they fall through the chain or the map). */
  readonly unmatched: Fraction;
  /** The mechanism, in the rules' own words (`statistic --mode random cascade`, `numgen random mod 3`…). */
  readonly mechanism: string;
  /**
   * The largest deviation from an intended share that is the kernel's fixed-point resolution,
   * not a different balance: iptables keeps each probability as a u32 fraction of 2^31,
   * numgen and Cilium's random slot pick divide a 32-bit random number, Maglev has M slots.
   */
  readonly resolution: Fraction;
  /** Null when the shares hold for every new connection; else what the choice depends on. */
  readonly dependsOn: string | null;
}

/** One row of `dpsim rules --shares`: a way into a service port on a node. */
export interface ServiceShares {
  readonly node: string;
  readonly servicePortName: string;
  /** Which rules decide: `KUBE-SVC-… (cluster traffic policy)`, `TCP 10.233.0.5:80 rr`, … */
  readonly path: string;
  readonly rules: RuleShares;
  /** Endpoints kube-proxy's/Cilium's semantics select here, each meant to get an equal share. */
  readonly intended: readonly string[];
  /** Endpoint → pod name, where known. */
  readonly pods: ReadonlyMap<string, string>;
  /** The rules' exact shares equal the intended ones (within the kernel's resolution). */
  readonly agree: boolean;
  /** Why not, in one line, when they disagree. */
  readonly problem: string | null;
}
