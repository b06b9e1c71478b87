/**
 * Attaches a proxy mode to every node of a simulated cluster: compiles the shared
 * ProxyModel into that mode's tables per node, wires the mode's program into the node
 * (netfilter hooks or tc ingress), and re-syncs when the cluster changes — what
 * kube-proxy (or Cilium's agent) does on each node.
 */
import { ConntrackTable, kubeProxyTimeouts } from '../conntrack/index.js';
import type { ProxyMode } from '../proxy/common/datapath.js';
import type { ProxyModel } from '../proxy/common/model.js';
import { compileEbpf, EbpfDatapath, type EbpfLoadBalancer, renderBpftoolDump } from '../proxy/ebpf/index.js';
import { EbpfNodeIngress, EbpfPodIngress } from '../proxy/ebpf/node-program.js';
import {
  compileIptables,
  IptablesEvaluator,
  parseIptables,
  type Ruleset,
  renderIptablesSave,
} from '../proxy/iptables/index.js';
import { IptablesNodeProgram } from '../proxy/iptables/node-program.js';
import { compileNftables, NftDatapath, renderTable } from '../proxy/nftables/index.js';
import { NftablesNodeProgram } from '../proxy/nftables/node-program.js';
import type { ClusterTopology } from '../topology/build.js';
import type { Host } from '../topology/host.js';
import { NodeNetfilter } from '../topology/netfilter-path.js';
import type { Rng } from '../util/rng.js';

export interface ModeOptions {
  /** nf_conntrack_max per node (kube-proxy sets max(32768 × cores, 131072)). */
  readonly conntrackMax?: number;
  /** A real node's `iptables-save` dump to run instead of the compiled rules (iptables mode). */
  readonly iptablesSave?: string;
  /** eBPF backend selection. */
  readonly ebpfAlgorithm?: 'random' | 'maglev';
  readonly maglevTableSize?: number;
}

/** One node's proxy: its native dump and its re-sync. */
export interface NodeProxy {
  readonly mode: ProxyMode;
  readonly node: Host;
  /** The native text form: iptables-save, nft list table, ipvsadm -Ln, bpftool map dump. */
  dump(options?: { counters?: boolean }): string;
  /** Applies a new model (endpoint churn, new Services). */
  sync(model: ProxyModel): void;
  /** Rules a new connection walked on this node (last packet), for benchmarks. */
  readonly conntrack: ConntrackTable | null;
}

export class ModeError extends Error {
  override name = 'ModeError';
}

export function attachMode(
  mode: ProxyMode,
  topology: ClusterTopology,
  model: ProxyModel,
  rng: Rng,
  options: ModeOptions = {},
): Map<string, NodeProxy> {
  const proxies = new Map<string, NodeProxy>();
  for (const [name, node] of topology.nodes) {
    const proxy =
      mode === 'iptables'
        ? attachIptables(node, model, rng.fork(), options)
        : mode === 'nftables'
          ? attachNftables(node, model, rng.fork(), options)
          : mode === 'ebpf'
            ? attachEbpf(node, model, rng.fork(), options)
            : unsupported(mode);
    proxies.set(name, proxy);
  }
  return proxies;
}

function unsupported(mode: string): never {
  throw new ModeError(`proxy mode "${mode}" is not attachable to the simulated topology yet`);
}

function newConntrack(rng: Rng, options: ModeOptions): ConntrackTable {
  return new ConntrackTable({ max: options.conntrackMax ?? 131072, rng, timeouts: kubeProxyTimeouts() });
}

function nodeAddresses(node: Host): string[] {
  return node.interfaces.filter((i) => i.addr !== 0).map((i) => formatAddr(i.addr));
}

function formatAddr(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

function attachIptables(node: Host, model: ProxyModel, rng: Rng, options: ModeOptions): NodeProxy {
  const conntrack = newConntrack(rng.fork(), options);
  const evalRng = rng.fork();
  const load = (m: ProxyModel): Ruleset =>
    options.iptablesSave !== undefined
      ? parseIptables(options.iptablesSave).ruleset
      : compileIptables(m, node.name).ruleset;
  let ruleset = load(model);
  let evaluator = new IptablesEvaluator(ruleset, { rng: evalRng, localAddresses: nodeAddresses(node) });
  node.netfilter = new NodeNetfilter(conntrack, new IptablesNodeProgram(evaluator));
  return {
    mode: 'iptables',
    node,
    conntrack,
    dump: (o) => renderIptablesSave(ruleset, o?.counters ? { counters: evaluator.counterLookup() } : {}),
    sync: (m) => {
      if (options.iptablesSave !== undefined) return; // a user's dump is fixed
      ruleset = load(m);
      // iptables-restore replaces the tables; conntrack and xt_recent state survive.
      evaluator = new IptablesEvaluator(ruleset, { rng: evalRng, localAddresses: nodeAddresses(node) });
      node.netfilter = new NodeNetfilter(conntrack, new IptablesNodeProgram(evaluator));
    },
  };
}

function attachNftables(node: Host, model: ProxyModel, rng: Rng, options: ModeOptions): NodeProxy {
  const conntrack = newConntrack(rng.fork(), options);
  const evalRng = rng.fork();
  let table = compileNftables(model, node.name);
  let datapath = new NftDatapath(table, { rng: evalRng, localAddresses: nodeAddresses(node) });
  node.netfilter = new NodeNetfilter(conntrack, new NftablesNodeProgram(datapath));
  return {
    mode: 'nftables',
    node,
    conntrack,
    dump: () => renderTable(table),
    sync: (m) => {
      table = compileNftables(m, node.name);
      datapath = new NftDatapath(table, { rng: evalRng, localAddresses: nodeAddresses(node) });
      node.netfilter = new NodeNetfilter(conntrack, new NftablesNodeProgram(datapath));
    },
  };
}

function attachEbpf(node: Host, model: ProxyModel, rng: Rng, options: ModeOptions): NodeProxy {
  const lb: EbpfLoadBalancer = compileEbpf(model, node.name, {
    algorithm: options.ebpfAlgorithm ?? 'random',
    ...(options.maglevTableSize !== undefined ? { maglevTableSize: options.maglevTableSize } : {}),
  });
  const datapath = new EbpfDatapath(lb, { rng: rng.fork() });
  const attachPrograms = () => {
    for (const iface of node.interfaces) {
      if (iface.name === 'eth0') iface.tcIngress = new EbpfNodeIngress(datapath);
      else if (iface.peer >= 0) iface.tcIngress = new EbpfPodIngress(datapath);
    }
  };
  attachPrograms();
  node.netfilter = null;
  return {
    mode: 'ebpf',
    node,
    conntrack: null,
    dump: () => renderBpftoolDump(lb),
    sync: (m) => {
      lb.sync(m);
      attachPrograms();
    },
  };
}
