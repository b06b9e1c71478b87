/**
 * dpsim's public API: what another package gets from `import … from 'dpsim'`.
 *
 * The top level is the simulation a user drives the way the CLI does — build a cluster from
 * manifests (or the embedded origin scenario), then curl, trace, dump a node's rules, list
 * its conntrack table or push synthetic load through it. Each layer underneath is exported
 * as one namespace (`iptables`, `nftables`, `ipvs`, `ebpf`, `wire`, `capture`, `conntrack`,
 * `maps`, `k8s`, `traffic`) re-exporting that folder's own index, so a user can compile a
 * {@link ProxyModel} with one mode's compiler and print its dump, build or decode frames, or
 * write a pcapng, without the simulation.
 *
 * Only what is re-exported here is public; anything reached by a deep import into `dist/` is
 * internal and may change in any release (the package's `exports` map blocks such imports).
 *
 * @example
 * ```ts
 * import { buildSimulation } from 'dpsim';
 * const sim = buildSimulation({ mode: 'nftables' }); // the origin scenario
 * console.log(sim.curl({ from: 'client', url: 'http://192.168.100.100:31244' }).stdout);
 * ```
 *
 * @packageDocumentation
 */

// Layers are namespaces (capture, conntrack, k8s, maps, ebpf, iptables, ipvs, nftables,
// traffic, wire); the entry points a user starts from are also named at the top level.
export * as capture from './capture/index.js';
export * as conntrack from './conntrack/index.js';
export * as k8s from './k8s/index.js';
export {
  Cluster,
  type ClusterOptions,
  type GetRequest,
  type GetResult,
  type LoadResult,
  loadManifests,
  type OutputFormat,
  originScenarioYaml,
  runGet,
  toProxyModel,
} from './k8s/index.js';
export * as maps from './maps/index.js';
export { PROXY_MODES, type ProxyMode } from './proxy/common/datapath.js';
export type {
  Endpoint,
  NodeInfo,
  Protocol,
  ProxyModel,
  ServicePort,
  ServiceType,
  TrafficPolicy,
} from './proxy/common/model.js';
export * as ebpf from './proxy/ebpf/index.js';
export * as iptables from './proxy/iptables/index.js';
export * as ipvs from './proxy/ipvs/index.js';
export * as nftables from './proxy/nftables/index.js';
export { type DumpPart, ModeError, type ModeOptions, type NodeProxy } from './sim/modes.js';
export {
  buildSimulation,
  type CurlOutcome,
  type CurlRequest,
  Simulation,
  SimulationError,
  type SimulationOptions,
} from './sim/simulation.js';
export type { Network } from './topology/network.js';
export { formatTraceSteps, PacketTracer, type TraceStep } from './trace/packet-trace.js';
export * as traffic from './traffic/index.js';
export { type LoadReport, runLoad } from './traffic/index.js';
export * as wire from './wire/index.js';
