/**
 * The IPv6 datapath of a dual-stack simulation: the topology's IPv6 side (addresses, routes,
 * static neighbours; src/topology/dual-stack.ts) and, on each node, kube-proxy's IPv6 proxier
 * at the IPv6 netfilter hooks with its own conntrack table (src/topology/netfilter-path6.ts).
 *
 * kube-proxy runs one proxier per family (its MetaProxier); the IPv6 one compiles the IPv6
 * model (ipv6-rules.ts) into its mode's form, run on the IPv6 path as the IPv4 one runs on the
 * IPv4 path: ip6tables rules, the `ip6 kube-proxy` table, or the IPVS proxier's IPv6 virtual
 * servers with their inet6 ipsets and ip6tables rules — each with the node's IPv6 conntrack.
 * In eBPF mode Cilium's tc programs take the node's IPv6 frames over its IPv6 load balancer
 * (src/proxy/ebpf/datapath6.ts), with their own CT and NAT maps and no netfilter.
 */
import type { KubeProxyConfig } from '../config/kube-proxy-config.js';
import {
  conntrackSettings,
  defaultKubeProxyConfig,
  ipvsTimeouts,
  type NodeFacts,
  plainNodeFacts,
} from '../config/node-options.js';
import { ConntrackTable, clashResolutionOf } from '../conntrack/index.js';
import type { Cluster } from '../k8s/cluster.js';
import type { NetfilterProgram, ProxyMode } from '../proxy/common/datapath.js';
import { buildOnce, LazyNetfilterProgram } from '../proxy/common/lazy-program.js';
import { DualStackSocketLb } from '../proxy/common/socket-lb.js';
import { compileEbpf, type EbpfLoadBalancer } from '../proxy/ebpf/compile.js';
import { EbpfDatapath6 } from '../proxy/ebpf/datapath6.js';
import { EbpfNodeIngress, EbpfPodIngress } from '../proxy/ebpf/node-program.js';
import { EbpfSocketLb } from '../proxy/ebpf/socket-lb.js';
import { IptablesEvaluator, type Ruleset, renderIptablesSave } from '../proxy/iptables/index.js';
import { IptablesNodeProgram } from '../proxy/iptables/node-program.js';
import { ipv6AddrFold } from '../proxy/ipvs/hash.js';
import { IpvsNode } from '../proxy/ipvs/index.js';
import { IpvsNodeProgram } from '../proxy/ipvs/node-program.js';
import { NftDatapath } from '../proxy/nftables/index.js';
import { NftablesNodeProgram } from '../proxy/nftables/node-program.js';
import type { ClusterTopology } from '../topology/build.js';
import { podKey } from '../topology/build.js';
import { Ipv6Topology } from '../topology/dual-stack.js';
import type { Host } from '../topology/host.js';
import type { Ipv6Stack } from '../topology/host6.js';
import { NodeNetfilter6 } from '../topology/netfilter-path6.js';
import type { Rng } from '../util/rng.js';
import {
  compileIpv6Iptables,
  compileIpv6Ipvs,
  compileIpv6Nftables,
  ipv6FirstIds,
  ipv6Model,
} from './ipv6-rules.js';
import type { EbpfSettings } from './modes.js';

export interface Ipv6DatapathOptions {
  readonly mode: ProxyMode;
  readonly kubeProxyConfig?: KubeProxyConfig;
  readonly nodeFacts?: ReadonlyMap<string, NodeFacts>;
  readonly conntrackMax?: number;
  /** IPVS mode: --ipvs-scheduler (the IPv4 proxier's, as kube-proxy passes one to both). */
  readonly ipvsScheduler?: string;
  /** eBPF mode: Cilium's load-balancer settings (the IPv4 side's, as one agent serves both). */
  readonly ebpf?: EbpfSettings;
  /** eBPF mode: the node's IPv4 load balancer, whose IDs the IPv6 ones continue after. */
  readonly ebpfIpv4?: (node: string) => EbpfLoadBalancer | undefined;
}

/** Each pod's IPv6 address (status.podIPs), by `namespace/name`. */
export function podIPv6s(cluster: Cluster): Map<string, string> {
  const out = new Map<string, string>();
  for (const pod of cluster.pods()) {
    const v6 = pod.status?.podIPs?.find((p) => p.ip?.includes(':') === true)?.ip;
    if (v6 !== undefined) out.set(podKey(pod.metadata!.namespace ?? 'default', pod.metadata!.name!), v6);
  }
  return out;
}

export class Ipv6Datapath {
  readonly topology6: Ipv6Topology;
  /** Each node's IPv6 conntrack table (nf_conntrack's IPv6 entries). */
  readonly conntrack = new Map<string, ConntrackTable>();
  /** IPVS mode: each node's IPv6 virtual servers and connections (kept across syncs). */
  readonly ipvs = new Map<string, IpvsNode>();
  /** IPVS mode: the IPv6 addresses each node bound to kube-ipvs0 (address indices). */
  private readonly ipvsBound = new Map<string, number[]>();
  /**
   * iptables and IPVS modes: each node's loaded ip6tables rules and the evaluator that counts
   * their hits (built with the program, on first use), for `ip6tables-save -c`.
   */
  private readonly ip6tables = new Map<string, () => { ruleset: Ruleset; evaluator: IptablesEvaluator }>();
  /** eBPF mode: each node's IPv6 load balancer once its programs first ran (its CT and NAT maps live on). */
  readonly ebpf = new Map<string, EbpfLoadBalancer>();

  constructor(
    private readonly cluster: Cluster,
    private readonly topology: ClusterTopology,
    private readonly rng: Rng,
    private readonly options: Ipv6DatapathOptions,
  ) {
    const v6 = cluster.config.ipv6!;
    this.topology6 = new Ipv6Topology(topology, {
      clientIP: v6.clientIP,
      nodes: v6.nodes,
      pods: podIPv6s(cluster),
    });
    for (const [name, node] of topology.nodes) this.install(name, node);
  }

  /** A node registered after the build: its IPv6 side and its IPv6 proxier. */
  joinNode(name: string, node: Host): void {
    this.topology6.addNode(name, node, true);
    this.topology6.fillSegmentNeighbours();
    this.install(name, node);
  }

  /** Pods plugged in or out since: their IPv6 side follows. */
  attachPod(key: string, pod: Host): void {
    this.topology6.attachPod(key, pod, podIPv6s(this.cluster).get(key));
  }

  detachPod(key: string): void {
    this.topology6.detachPod(key);
  }

  /** The control plane changed: every node's IPv6 proxier recompiles (on first use), conntrack survives. */
  sync(): void {
    for (const [name, node] of this.topology.nodes) this.install(name, node);
  }

  private install(name: string, node: Host): void {
    const stack = this.topology6.stackOf(node);
    if (this.options.mode === 'ebpf') {
      this.installEbpf(name, stack);
      return;
    }
    const facts = this.factsOf(name);
    const kubeProxy = this.options.kubeProxyConfig ?? defaultKubeProxyConfig(this.cluster.config.clusterCIDR);
    let conntrack = this.conntrack.get(name);
    if (conntrack === undefined) {
      const { max, timeouts } = conntrackSettings(kubeProxy, facts, 131072);
      conntrack = new ConntrackTable({
        max: this.options.conntrackMax ?? max,
        rng: this.rng.fork(),
        timeouts,
        clashResolution: clashResolutionOf(facts.kernel.version),
        cpus: facts.kernel.cpus,
      });
      this.conntrack.set(name, conntrack);
    }
    const addresses = this.topology6.addresses;
    for (const a of this.ipvsBound.get(name) ?? []) stack.localAddresses.delete(a);
    const locals = [...stack.localAddresses].map((i) => addresses.text(i));
    const evalRng = this.rng.fork();
    let program: NetfilterProgram;
    if (this.options.mode === 'ipvs') program = this.syncIpvs(name, node, facts, kubeProxy, locals, evalRng);
    else if (this.options.mode === 'nftables')
      program = new LazyNetfilterProgram(() => this.compileNftables(name, facts, locals, evalRng));
    else {
      const ensure = buildOnce(() => this.compileIptables(name, facts, locals, evalRng));
      this.ip6tables.set(name, ensure);
      program = new LazyNetfilterProgram(() => new IptablesNodeProgram(ensure().evaluator));
    }
    stack.netfilter = new NodeNetfilter6(conntrack, program, addresses);
  }

  /**
   * `ip6tables-save` of the node's loaded IPv6 rules (iptables mode; the IPVS mode's
   * ip6tables part), with `-c` their `[packets:bytes]` counters so far; undefined in the modes
   * without ip6tables rules.
   */
  ip6tablesSave(name: string, date: Date, counters: boolean): string | undefined {
    const live = this.ip6tables.get(name);
    if (live === undefined) return undefined;
    const { ruleset, evaluator } = live();
    return renderIptablesSave(
      ruleset,
      counters
        ? {
            date,
            ipv6: true,
            counters: evaluator.counterLookup(),
            policyCounters: evaluator.policyCounterLookup(),
          }
        : { date, ipv6: true },
    );
  }

  /**
   * The IPv6 IPVS proxier's sync: its virtual servers applied to the node's IPv6 IpvsNode
   * (connections and graceful termination survive, as in the IPv4 proxier), its ClusterIPs
   * bound to kube-ipvs0 — local to the node's IPv6 stack — and its ip6tables rules and inet6
   * ipsets loaded into the program, compiled on first use.
   */
  private syncIpvs(
    name: string,
    node: Host,
    facts: NodeFacts,
    kubeProxy: KubeProxyConfig,
    locals: readonly string[],
    rng: Rng,
  ): NetfilterProgram {
    const addresses = this.topology6.addresses;
    let ipvs = this.ipvs.get(name);
    if (ipvs === undefined) {
      ipvs = new IpvsNode({
        rng: this.rng.fork(),
        timeouts: ipvsTimeouts(kubeProxy),
        addressKey: (text) => addresses.internText(text),
        addressFold: (index) => ipv6AddrFold(addresses.storeOf(), index * 16),
      });
      this.ipvs.set(name, ipvs);
    } else ipvs.gracefulTick(node.network.nowNs);
    const state = compileIpv6Ipvs(this.cluster, name, this.options.kubeProxyConfig, facts, {
      ...(this.options.ipvsScheduler !== undefined ? { scheduler: this.options.ipvsScheduler } : {}),
    });
    ipvs.sync(state);
    const stack = this.topology6.stackOf(node);
    const bound = state.boundAddresses.map((a) => addresses.internText(a)).filter((a) => !stack.isLocal(a));
    for (const a of bound) stack.localAddresses.add(a);
    this.ipvsBound.set(name, bound);
    const live = ipvs;
    const ensure = buildOnce(
      () => new IpvsNodeProgram(live, state, { rng, nodeAddresses: locals, ipv6: addresses }),
    );
    this.ip6tables.set(name, () => ({ ruleset: state.iptables, evaluator: ensure().evaluator }));
    return new LazyNetfilterProgram(ensure);
  }

  /**
   * eBPF mode: no IPv6 proxier in netfilter; Cilium's tc programs take the node's IPv6 frames
   * (datapath6.ts) over the node's IPv6 load balancer, compiled on the first frame. A sync
   * updates a built one in place, as the agent does; an unbuilt one compiles the model of then.
   */
  private installEbpf(name: string, stack: Ipv6Stack): void {
    stack.netfilter = null;
    const built = this.ebpf.get(name);
    if (built !== undefined) {
      built.sync(ipv6Model(this.cluster));
      return;
    }
    if (stack.tc !== null) return;
    const settings = this.options.ebpf ?? { compile: {}, datapath: {} };
    const addresses = this.topology6.addresses;
    const rng = this.rng.fork();
    let datapath: EbpfDatapath6 | null = null;
    const source = (): EbpfDatapath6 => {
      if (datapath === null) {
        const ipv4 = this.options.ebpfIpv4?.(name);
        const lb = compileEbpf(ipv6Model(this.cluster), name, {
          ...settings.compile,
          ipv6: addresses,
          ...(ipv4 !== undefined ? { firstIds: ipv6FirstIds(ipv4) } : {}),
        });
        this.ebpf.set(name, lb);
        datapath = new EbpfDatapath6(lb, addresses, { rng, ...settings.datapath });
      }
      return datapath;
    };
    stack.tc = { netdev: new EbpfNodeIngress(source, 'ipv6'), container: new EbpfPodIngress(source, 'ipv6') };
    // The node's own connections: connect6 over the IPv6 load balancer beside connect4 (when
    // socket-LB is on, i.e. the IPv4 side installed one).
    const host = stack.host;
    const v4 = host.socketLb;
    if (v4 !== null)
      host.socketLb = new DualStackSocketLb(
        v4,
        new EbpfSocketLb(
          () => source().lb,
          this.rng.fork(),
          () => host.network.nowNs,
        ),
      );
  }

  /** The node's IPv6 nftables proxier: the `ip6 kube-proxy` table over the network's IPv6 address indices. */
  private compileNftables(
    name: string,
    facts: NodeFacts,
    locals: readonly string[],
    rng: Rng,
  ): NetfilterProgram {
    const table = compileIpv6Nftables(this.cluster, name, this.options.kubeProxyConfig, facts);
    const ipv6 = this.topology6.addresses;
    return new NftablesNodeProgram(new NftDatapath(table, { rng, localAddresses: locals, ipv6 }));
  }

  /** The node's IPv6 iptables proxier: its ip6tables rules and their evaluator. */
  private compileIptables(
    name: string,
    facts: NodeFacts,
    locals: readonly string[],
    rng: Rng,
  ): { ruleset: Ruleset; evaluator: IptablesEvaluator } {
    const { ruleset } = compileIpv6Iptables(this.cluster, name, this.options.kubeProxyConfig, facts);
    const ipv6 = this.topology6.addresses;
    return { ruleset, evaluator: new IptablesEvaluator(ruleset, { rng, localAddresses: locals, ipv6 }) };
  }

  private factsOf(name: string): NodeFacts {
    return (
      this.options.nodeFacts?.get(name) ??
      plainNodeFacts(name, this.topology6.spec.nodes.get(name)?.ip ?? '', '')
    );
  }
}
