/**
 * Attaches a proxy mode to every node of a simulated cluster: compiles the shared
 * ProxyModel into that mode's tables per node, wires the mode's program into the node
 * (netfilter hooks or tc ingress), and re-syncs when the cluster changes — what
 * kube-proxy (or Cilium's agent) does on each node.
 */
import type { CiliumConfig } from '../config/cilium-values.js';
import type { KubeProxyConfig } from '../config/kube-proxy-config.js';
import {
  conntrackSettings,
  defaultKubeProxyConfig,
  ebpfOptions,
  iptablesOptions,
  ipvsOptions,
  ipvsTimeouts,
  type NodeFacts,
  nftablesOptions,
  plainNodeFacts,
} from '../config/node-options.js';
import { ConntrackTable, clashResolutionOf } from '../conntrack/index.js';
import type { ProxyMode } from '../proxy/common/datapath.js';
import { buildOnce, LazyNetfilterProgram } from '../proxy/common/lazy-program.js';
import type { ProxyModel } from '../proxy/common/model.js';
import { renderCiliumCtList, renderCiliumServiceList } from '../proxy/ebpf/cilium-views.js';
import type { EbpfOptions } from '../proxy/ebpf/compile.js';
import type { DatapathOptions } from '../proxy/ebpf/datapath.js';
import {
  compileEbpf,
  EbpfDatapath,
  type EbpfLoadBalancer,
  type LbMapSizes,
  renderBpftoolDump,
  renderCiliumLbList,
} from '../proxy/ebpf/index.js';
import { EbpfNodeIngress, EbpfPodIngress } from '../proxy/ebpf/node-program.js';
import { EbpfSocketLb } from '../proxy/ebpf/socket-lb.js';
import {
  compileIptablesRuleset,
  type IptablesCompileOptions,
  IptablesEvaluator,
  parseIptables,
  type Ruleset,
  renderIptablesSave,
  type SaveOptions,
} from '../proxy/iptables/index.js';
import { IptablesNodeProgram } from '../proxy/iptables/node-program.js';
import { ipvsBoundAddresses } from '../proxy/ipvs/bound-addresses.js';
import {
  compileIpvs,
  IpvsNode,
  type IpvsNodeState,
  renderIpsetList,
  renderIpvsadmConnections,
  renderIpvsadmList,
} from '../proxy/ipvs/index.js';
import { IpvsNodeProgram } from '../proxy/ipvs/node-program.js';
import { parseIpsetList } from '../proxy/ipvs/parse-ipset.js';
import { parseIpvsadmList } from '../proxy/ipvs/parse-ipvsadm.js';
import {
  compileNftables,
  type NftCompileOptions,
  NftDatapath,
  renderTable,
} from '../proxy/nftables/index.js';
import { NftablesNodeProgram } from '../proxy/nftables/node-program.js';
import { parseNftRuleset } from '../proxy/nftables/parse.js';
import type { ShareSource } from '../shares/node-shares.js';
import type { ClusterTopology } from '../topology/build.js';
import type { Host } from '../topology/host.js';
import { NodeNetfilter } from '../topology/netfilter-path.js';
import { formatIPv4, parseIPv4 } from '../util/ipv4.js';
import type { Rng } from '../util/rng.js';

export interface ModeOptions {
  /** nf_conntrack_max per node (kube-proxy sets max(32768 × cores, 131072)). */
  readonly conntrackMax?: number;
  /** A real node's `iptables-save` dump to run instead of the compiled rules (iptables mode). */
  readonly iptablesSave?: string;
  /** A real node's `nft list ruleset` to run instead of the compiled table (nftables mode). */
  readonly nftRuleset?: string;
  /** A real node's `ipvsadm -Ln` to run instead of the compiled virtual servers (IPVS mode). */
  readonly ipvsadm?: string;
  /** A real node's `ipset list` whose members replace the compiled ipsets (IPVS mode). */
  readonly ipsetList?: string;
  /** eBPF backend selection. */
  readonly ebpfAlgorithm?: 'random' | 'maglev';
  readonly maglevTableSize?: number;
  /**
   * eBPF map capacities (default DEFAULT_MAP_SIZES). Small maps make a simulation cheap to
   * build (the default CT/NAT/LB maps take ~0.3 s per node to allocate), e.g. in tests.
   */
  readonly ebpfMapSizes?: LbMapSizes;
  /** IPVS mode: --ipvs-scheduler (default rr). */
  readonly ipvsScheduler?: string;
  /**
   * Wall clock (ms since the epoch) at simulated time 0: the nodes' clock, which dated dumps
   * (iptables-save's header) show. Default 0, the epoch.
   */
  readonly clockEpochMs?: number;
  /** The nodes' KubeProxyConfiguration (default: kube-proxy's defaults with the model's cluster CIDR). */
  readonly kubeProxyConfig?: KubeProxyConfig;
  /** Cilium's values for eBPF mode (flags above, when given, take precedence). */
  readonly cilium?: CiliumConfig;
  /** What each node's proxy finds on it: addresses, podCIDR, kernel (default: the model's node IP, today's kernel). */
  readonly nodeFacts?: ReadonlyMap<string, NodeFacts>;
}

/** One node's view for its proxy: the facts plus the configuration in effect. */
interface NodeContext {
  readonly facts: NodeFacts;
  readonly kubeProxy: KubeProxyConfig;
}

/** A node's wall clock now, as its tools (iptables-save) date their output. */
function nodeDate(node: Host, options: ModeOptions): Date {
  return new Date((options.clockEpochMs ?? 0) + node.network.nowNs / 1e6);
}

/** iptables-save's options: dated by the node's clock; with -c, rule and policy counters. */
function saveOptions(
  node: Host,
  options: ModeOptions,
  evaluator: IptablesEvaluator,
  counters: boolean | undefined,
): SaveOptions {
  const date = nodeDate(node, options);
  return counters
    ? { date, counters: evaluator.counterLookup(), policyCounters: evaluator.policyCounterLookup() }
    : { date };
}

/**
 * Which native text `dump` prints. IPVS mode has several: `ipvsadm -Ln` (default;
 * `counters` ⇒ `--stats`), `ipvsadm -Lnc` ('connections'), `ipset list` and the remaining
 * `iptables-save` (`counters` ⇒ `-c`). eBPF mode: `bpftool map dump` (default), and the agent's
 * `cilium-dbg bpf lb list` ('cilium-lb'), `cilium-dbg service list` ('cilium-service') and
 * `cilium-dbg bpf ct list global` ('cilium-ct'). iptables and nftables have one and ignore `part`.
 */
export type DumpPart =
  | 'ipvsadm'
  | 'connections'
  | 'ipset'
  | 'iptables'
  | 'bpftool'
  | 'cilium-lb'
  | 'cilium-service'
  | 'cilium-ct';

/** One node's proxy: its native dump and its re-sync. */
export interface NodeProxy {
  readonly mode: ProxyMode;
  readonly node: Host;
  /** The native text form: iptables-save, nft list table, ipvsadm -Ln, bpftool map dump. */
  dump(options?: { counters?: boolean; part?: DumpPart }): string;
  /**
   * Applies a new model (endpoint churn, new Services). `changed` names the Services (`ns/name`,
   * or servicePortNames) that differ from the last synced model, when the caller knows: eBPF
   * mode then re-plans only their frontends, as Cilium's agent handles one Service event at a
   * time. iptables, nftables and IPVS ignore it and rebuild their tables: the datapath runs the
   * state a full sync leaves, which kube-proxy's partial iptables syncs and incremental nftables
   * transactions also leave (IptablesSyncer and NftablesSyncer write those, for `rules --sync-log`).
   */
  sync(model: ProxyModel, changed?: ReadonlySet<string>): void;
  /**
   * Compiles now what the mode otherwise compiles on the node's first packet or dump (every
   * mode defers it: one curl touches one node). Benchmarks call it to time the compile itself.
   */
  build(): void;
  /** The structures the node selects endpoints with, for `rules --shares` (compiles them if needed). */
  shareSource(): ShareSource;
  /** iptables mode: the options this node's kube-proxy compiles with (for its sync log). */
  readonly iptablesCompileOptions?: IptablesCompileOptions;
  /** nftables mode (compiled, not a user's ruleset): the options its kube-proxy compiles with (for its sync log). */
  readonly nftablesCompileOptions?: NftCompileOptions;
  /** Rules a new connection walked on this node (last packet), for benchmarks. */
  readonly conntrack: ConntrackTable | null;
  /** The node's flow table and how full it is (nf_conntrack, or the eBPF TCP CT map). */
  flowTable(proto?: 'tcp' | 'udp'): FlowTableUsage;
}

/** How full a node's flow table is, whichever mode keeps it. */
export interface FlowTableUsage {
  readonly table: 'nf_conntrack' | 'cilium_ct4_global' | 'cilium_ct_any4_global';
  readonly entries: number;
  readonly max: number;
}

/** Builds a node's lazily compiled netfilter program (iptables, nftables, IPVS) now. */
function buildNetfilterProgram(node: Host): void {
  const program = node.netfilter?.program;
  if (program instanceof LazyNetfilterProgram) program.ensureBuilt();
}

function conntrackUsage(ct: ConntrackTable): FlowTableUsage {
  return { table: 'nf_conntrack', entries: ct.count, max: ct.max };
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
  for (const [name, node] of topology.nodes)
    proxies.set(name, attachNodeProxy(mode, node, model, rng, options));
  return proxies;
}

/** The mode's proxy on one node (also for a node that joins a running simulation). */
export function attachNodeProxy(
  mode: ProxyMode,
  node: Host,
  model: ProxyModel,
  rng: Rng,
  options: ModeOptions = {},
): NodeProxy {
  const name = node.name;
  const info = model.nodes.find((n) => n.name === name);
  const facts =
    options.nodeFacts?.get(name) ??
    plainNodeFacts(name, info?.ip ?? formatIPv4(node.interfaces[0]?.addr ?? 0), info?.podCIDR ?? '');
  // The node's other addresses (spec.nodes[].addresses) are local to it.
  for (const a of facts.addresses.slice(1)) node.localAddresses.add(parseIPv4(a));
  const ctx: NodeContext = {
    facts,
    kubeProxy: options.kubeProxyConfig ?? defaultKubeProxyConfig(model.clusterCIDR),
  };
  return mode === 'iptables'
    ? attachIptables(node, model, rng.fork(), options, ctx)
    : mode === 'nftables'
      ? attachNftables(node, model, rng.fork(), options, ctx)
      : mode === 'ebpf'
        ? attachEbpf(node, model, rng.fork(), options)
        : mode === 'ipvs'
          ? attachIpvs(node, model, rng.fork(), options, ctx)
          : unsupported(mode);
}

function unsupported(mode: string): never {
  throw new ModeError(`proxy mode "${mode}" is not attachable to the simulated topology yet`);
}

/** nf_conntrack as kube-proxy leaves it: its max and timeouts; --conntrack-max, when given, wins. */
function newConntrack(rng: Rng, options: ModeOptions, ctx: NodeContext): ConntrackTable {
  const { max, timeouts } = conntrackSettings(ctx.kubeProxy, ctx.facts, 131072);
  return new ConntrackTable({
    max: options.conntrackMax ?? max,
    rng,
    timeouts,
    // The kernel release decides what a UDP insert clash does (the A/AAAA race).
    clashResolution: clashResolutionOf(ctx.facts.kernel.version),
    cpus: ctx.facts.kernel.cpus,
  });
}

function nodeAddresses(node: Host, ctx: NodeContext): string[] {
  const own = node.interfaces.filter((i) => i.addr !== 0).map((i) => formatIPv4(i.addr));
  return [...own, ...ctx.facts.addresses.filter((a) => !own.includes(a))];
}

function attachIptables(
  node: Host,
  model: ProxyModel,
  rng: Rng,
  options: ModeOptions,
  ctx: NodeContext,
): NodeProxy {
  const conntrack = newConntrack(rng.fork(), options, ctx);
  const evalRng = rng.fork();
  const compileOptions = iptablesOptions(ctx.kubeProxy, ctx.facts);
  if (options.iptablesSave !== undefined) {
    // A user's dump is parsed at once (its errors belong to the build) and fixed thereafter.
    const ruleset = parseIptables(options.iptablesSave).ruleset;
    const evaluator = new IptablesEvaluator(ruleset, {
      rng: evalRng,
      localAddresses: nodeAddresses(node, ctx),
    });
    node.netfilter = new NodeNetfilter(conntrack, new IptablesNodeProgram(evaluator));
    return {
      mode: 'iptables',
      node,
      conntrack,
      flowTable: () => conntrackUsage(conntrack),
      dump: (o) => renderIptablesSave(ruleset, saveOptions(node, options, evaluator, o?.counters)),
      shareSource: () => ({ mode: 'iptables', ruleset }),
      sync: () => {},
      build: () => {},
    };
  }
  // The rules are compiled when first needed (a packet at a hook, or a dump): at 10k Services
  // compiling every node's rules up front took most of a build, while one curl touches one node.
  let current: () => { ruleset: Ruleset; evaluator: IptablesEvaluator };
  const install = (m: ProxyModel): void => {
    const localAddresses = nodeAddresses(node, ctx);
    const ensure = buildOnce(() => {
      const ruleset = compileIptablesRuleset(m, node.name, compileOptions);
      return { ruleset, evaluator: new IptablesEvaluator(ruleset, { rng: evalRng, localAddresses }) };
    });
    current = ensure;
    // iptables-restore replaces the tables; conntrack and xt_recent state survive.
    node.netfilter = new NodeNetfilter(
      conntrack,
      new LazyNetfilterProgram(() => new IptablesNodeProgram(ensure().evaluator)),
    );
  };
  install(model);
  return {
    mode: 'iptables',
    node,
    conntrack,
    iptablesCompileOptions: compileOptions,
    flowTable: () => conntrackUsage(conntrack),
    dump: (o) => {
      const { ruleset, evaluator } = current();
      return renderIptablesSave(ruleset, saveOptions(node, options, evaluator, o?.counters));
    },
    shareSource: () => ({ mode: 'iptables', ruleset: current().ruleset }),
    sync: (m) => install(m),
    build: () => buildNetfilterProgram(node),
  };
}

function attachNftables(
  node: Host,
  model: ProxyModel,
  rng: Rng,
  options: ModeOptions,
  ctx: NodeContext,
): NodeProxy {
  const conntrack = newConntrack(rng.fork(), options, ctx);
  const evalRng = rng.fork();
  const compileOptions = nftablesOptions(ctx.kubeProxy, ctx.facts);
  if (options.nftRuleset !== undefined) {
    // A user's ruleset is parsed at once (its errors belong to the build) and fixed thereafter.
    const table = parseNftRuleset(options.nftRuleset, { name: node.name, ip: ctx.facts.addresses[0] }).table;
    const datapath = new NftDatapath(table, { rng: evalRng, localAddresses: nodeAddresses(node, ctx) });
    node.netfilter = new NodeNetfilter(conntrack, new NftablesNodeProgram(datapath));
    return {
      mode: 'nftables',
      node,
      conntrack,
      flowTable: () => conntrackUsage(conntrack),
      dump: () => renderTable(table),
      shareSource: () => ({ mode: 'nftables', table }),
      sync: () => {},
      build: () => {},
    };
  }
  // Compiled when first needed, as in iptables mode.
  let current: () => { table: ReturnType<typeof compileNftables>; datapath: NftDatapath };
  const install = (m: ProxyModel): void => {
    const localAddresses = nodeAddresses(node, ctx);
    const ensure = buildOnce(() => {
      const table = compileNftables(m, node.name, compileOptions);
      return { table, datapath: new NftDatapath(table, { rng: evalRng, localAddresses }) };
    });
    current = ensure;
    node.netfilter = new NodeNetfilter(
      conntrack,
      new LazyNetfilterProgram(() => new NftablesNodeProgram(ensure().datapath)),
    );
  };
  install(model);
  return {
    mode: 'nftables',
    node,
    conntrack,
    nftablesCompileOptions: compileOptions,
    flowTable: () => conntrackUsage(conntrack),
    dump: () => renderTable(current().table),
    shareSource: () => ({ mode: 'nftables', table: current().table }),
    sync: (m) => install(m),
    build: () => buildNetfilterProgram(node),
  };
}

/**
 * IPVS mode: per node the compiled virtual servers live in an IpvsNode (kept across syncs,
 * so connections and graceful termination survive), the kube-ipvs0 addresses become local
 * addresses of the node, and the remaining iptables rules plus the IPVS hooks run as the
 * node's netfilter program.
 */
function attachIpvs(
  node: Host,
  model: ProxyModel,
  rng: Rng,
  options: ModeOptions,
  ctx: NodeContext,
): NodeProxy {
  const conntrack = newConntrack(rng.fork(), options, ctx);
  const evalRng = rng.fork();
  const ipvs = new IpvsNode({ rng: rng.fork(), timeouts: ipvsTimeouts(ctx.kubeProxy) });
  const ownAddresses = nodeAddresses(node, ctx);
  const compileOptions = ipvsOptions(ctx.kubeProxy, ctx.facts);
  const compile = (m: ProxyModel): IpvsNodeState => {
    const compiled = compileIpvs(m, node.name, {
      ...compileOptions,
      nodeAddresses: ownAddresses,
      ...(options.ipvsScheduler !== undefined ? { scheduler: options.ipvsScheduler } : {}),
    });
    // A user's `ipset list` replaces the sets' members; the iptables rules naming them stay compiled.
    const withSets =
      options.ipsetList === undefined
        ? compiled
        : { ...compiled, ipsets: parseIpsetList(options.ipsetList).table };
    if (options.ipvsadm === undefined) return withSets;
    // A user's listing replaces the virtual servers; the iptables rules stay compiled.
    const virtualServers = parseIpvsadmList(options.ipvsadm, m);
    const bound = new Set([
      ...compiled.boundAddresses,
      ...virtualServers.filter((v) => v.bound).map((v) => v.address),
    ]);
    return {
      ...withSets,
      virtualServers,
      boundAddresses: [...bound].sort((a, b) => parseIPv4(a) - parseIPv4(b)),
    };
  };
  /** kube-ipvs0's addresses currently added to the node (those also on an interface are not ours to remove). */
  let bound: number[] = [];
  const bindAddresses = (addresses: readonly string[]): void => {
    for (const a of bound) node.localAddresses.delete(a);
    const own = new Set(node.interfaces.map((i) => i.addr));
    bound = addresses.map(parseIPv4).filter((a) => !own.has(a));
    for (const a of bound) node.localAddresses.add(a);
  };
  const programOf = (s: IpvsNodeState): IpvsNodeProgram =>
    new IpvsNodeProgram(ipvs, s, { rng: evalRng, nodeAddresses: ownAddresses });
  let current: () => { state: IpvsNodeState; program: IpvsNodeProgram };
  let install: (m: ProxyModel) => void;
  if (options.ipvsadm !== undefined || options.ipsetList !== undefined) {
    // A user's listing or sets are parsed at once (their errors belong to the build).
    let state = compile(model);
    let program: IpvsNodeProgram;
    const apply = (s: IpvsNodeState): void => {
      ipvs.sync(s);
      bindAddresses(s.boundAddresses);
      program = programOf(s);
      node.netfilter = new NodeNetfilter(conntrack, program);
    };
    apply(state);
    current = () => ({ state, program });
    install = (m) => {
      // kube-proxy's graceful-termination loop runs every minute on its own; dpsim runs it
      // at each sync, the moment its control plane acts.
      ipvs.gracefulTick(node.network.nowNs);
      state = compile(m);
      apply(state);
    };
  } else {
    // The virtual servers are compiled when first needed (a packet at a hook, or a dump), as
    // in iptables mode: at 10k Services compiling every node up front took most of a build.
    // The kube-ipvs0 addresses are bound at once, since the node's routing needs them. The
    // models synced before then are replayed in order, each with its graceful-termination
    // tick at the time of its sync, so the node ends where syncing each at once would have.
    let built: { state: IpvsNodeState; program: IpvsNodeProgram } | null = null;
    const pending: { model: ProxyModel; nowNs: number }[] = [];
    current = () => {
      for (let p = pending.shift(); p !== undefined; p = pending.shift()) {
        if (built !== null) ipvs.gracefulTick(p.nowNs);
        const state = compile(p.model);
        ipvs.sync(state);
        built = { state, program: programOf(state) };
      }
      return built!;
    };
    install = (m) => {
      pending.push({ model: m, nowNs: node.network.nowNs });
      bindAddresses(ipvsBoundAddresses(m, ownAddresses));
      node.netfilter = new NodeNetfilter(conntrack, new LazyNetfilterProgram(() => current().program));
    };
    // The node's settings (scheduler, masquerade bit, addresses) are checked now, as a full
    // compile up front would.
    compile({ ...model, servicePorts: [] });
    install(model);
  }
  return {
    mode: 'ipvs',
    node,
    conntrack,
    flowTable: () => conntrackUsage(conntrack),
    dump: (o) => {
      const { state, program } = current();
      switch (o?.part) {
        case 'connections':
          // The kernel's per-connection timers fire on time; dpsim's table runs them lazily,
          // so run the due ones before listing, or expired entries would show as 00:00.
          ipvs.conns.expireDue(node.network.nowNs);
          return renderIpvsadmConnections(ipvs.conns, node.network.nowNs);
        case 'ipset':
          return renderIpsetList(state.ipsets, { iptablesSave: state.iptablesSave });
        case 'iptables':
          return renderIptablesSave(
            state.iptables,
            saveOptions(node, options, program.evaluator, o?.counters),
          );
        default:
          return renderIpvsadmList(ipvs.services, { stats: o?.counters ?? false });
      }
    },
    shareSource: () => ({ mode: 'ipvs', virtualServers: current().state.virtualServers }),
    sync: (m) => install(m),
    build: () => buildNetfilterProgram(node),
  };
}

/** Cilium's settings for a node's load balancer (both families): its compile and datapath options. */
export interface EbpfSettings {
  readonly compile: EbpfOptions;
  readonly datapath: Omit<DatapathOptions, 'rng'>;
}

export function ebpfSettings(options: ModeOptions): EbpfSettings {
  const fromValues = options.cilium !== undefined ? ebpfOptions(options.cilium) : {};
  // Cilium SNATs NodePort traffic to ports above nodePort.range.
  const snatPortMin = options.cilium !== undefined ? options.cilium.nodePortRange[1] + 1 : undefined;
  return {
    compile: {
      ...fromValues,
      algorithm: options.ebpfAlgorithm ?? fromValues.algorithm ?? 'random',
      ...(options.maglevTableSize !== undefined ? { maglevTableSize: options.maglevTableSize } : {}),
      ...(options.ebpfMapSizes !== undefined ? { mapSizes: options.ebpfMapSizes } : {}),
    },
    datapath: {
      ...(snatPortMin !== undefined ? { snatPortMin } : {}),
      serviceNoBackendResponse: options.cilium?.serviceNoBackendResponse ?? 'reject',
    },
  };
}

function attachEbpf(node: Host, model: ProxyModel, rng: Rng, options: ModeOptions): NodeProxy {
  const settings = ebpfSettings(options);
  const datapathRng = rng.fork();
  const socketLbRng = (options.cilium?.socketLB ?? true) ? rng.fork() : null;
  // The maps are compiled when first needed (a packet at one of the node's programs, a
  // connect() through its socket-LB, a dump), as iptables mode compiles its rules: at 10k
  // Services compiling every node up front took most of a build. The syncs before then are
  // replayed in order (Cilium's ID allocation depends on the order of upserts and deletes).
  let built: { lb: EbpfLoadBalancer; datapath: EbpfDatapath } | null = null;
  const pending: { model: ProxyModel; changed: ReadonlySet<string> | undefined }[] = [];
  const current = (): { lb: EbpfLoadBalancer; datapath: EbpfDatapath } => {
    if (built === null) {
      const lb = compileEbpf(model, node.name, settings.compile);
      const datapath = new EbpfDatapath(lb, { rng: datapathRng, ...settings.datapath });
      built = { lb, datapath };
    }
    for (let p = pending.shift(); p !== undefined; p = pending.shift()) built.lb.sync(p.model, p.changed);
    return built;
  };
  const datapath = (): EbpfDatapath => current().datapath;
  const attachPrograms = () => {
    for (const iface of node.interfaces) {
      // The overlay's tunnel device gets the uplink's program too (Cilium's cil_from_overlay):
      // a reply from a backend on another node arrives there, decapsulated, and needs its
      // reverse NAT before it reaches the pod that called the ClusterIP.
      if (iface.name === 'eth0' || iface === node.tunnel?.device)
        iface.tcIngress = new EbpfNodeIngress(built?.datapath ?? datapath);
      else if (iface.peer >= 0) iface.tcIngress = new EbpfPodIngress(built?.datapath ?? datapath);
    }
  };
  attachPrograms();
  node.netfilter = null;
  node.socketLb =
    socketLbRng === null
      ? null
      : new EbpfSocketLb(
          () => current().lb,
          socketLbRng,
          () => node.network.nowNs,
        );
  return {
    mode: 'ebpf',
    node,
    conntrack: null,
    // TCP flows live in the TCP CT map, UDP (and other) flows in the "any" one.
    flowTable: (proto) => {
      const { lb } = current();
      return proto === 'udp'
        ? { table: 'cilium_ct_any4_global', entries: lb.maps.ctAny.count, max: lb.maps.ctAny.maxEntries }
        : { table: 'cilium_ct4_global', entries: lb.maps.ctTcp.count, max: lb.maps.ctTcp.maxEntries };
    },
    dump: (o) => {
      const { lb } = current();
      switch (o?.part) {
        case 'cilium-lb':
          return renderCiliumLbList(lb);
        case 'cilium-service':
          return renderCiliumServiceList(lb);
        case 'cilium-ct':
          return renderCiliumCtList(lb);
        default:
          return renderBpftoolDump(lb);
      }
    },
    shareSource: () => ({ mode: 'ebpf', lb: current().lb }),
    build: () => {
      current();
    },
    sync: (m, changed) => {
      if (built === null) pending.push({ model: m, changed });
      else built.lb.sync(m, changed);
      attachPrograms();
    },
  };
}
