/**
 * The data `dpsim explore` computes at build time and embeds in the page as JSON. The
 * page is only a viewer of it: every path, rule match, NAT, conntrack entry and frame
 * number below was produced by the simulator, none is recomputed in the browser.
 * Plain data only (no classes), shared by the Node side and the browser bundle.
 */

export interface ExploreData {
  readonly title: string;
  readonly generatedBy: string;
  readonly seed: number;
  readonly modes: readonly ModeView[];
}

export interface ModeView {
  readonly mode: string;
  /** What the dump is, as the tool prints it ("iptables-save", "nft list table ip kube-proxy" …). */
  readonly dumpTool: string;
  /** The capture of this mode's explored connections, written beside the page. */
  readonly captureFile: string;
  readonly captureFrames: number;
  readonly topology: TopologyView;
  readonly services: readonly ServicePortView[];
  /** Each node's rule dump, one entry per line. */
  readonly dumps: Readonly<Record<string, readonly string[]>>;
  readonly paths: readonly PathView[];
  readonly distributions: readonly DistributionView[];
}

export interface InterfaceView {
  /** `host/ifname`, as the capture names the interface. */
  readonly id: string;
  readonly name: string;
  readonly addr: string;
  readonly mac: string;
  /** The pod behind a host-side veth, `namespace/name`. */
  readonly podKey?: string;
}

export interface HostView {
  readonly name: string;
  readonly ip: string;
  readonly interfaces: readonly InterfaceView[];
}

export interface NodeView extends HostView {
  readonly podCIDR: string;
}

export interface PodView extends HostView {
  readonly namespace: string;
  /** `namespace/name`. */
  readonly key: string;
  readonly node: string;
}

export interface TopologyView {
  readonly client: HostView;
  readonly nodes: readonly NodeView[];
  readonly pods: readonly PodView[];
}

/** One way into a service port: its ClusterIP, or one node's IP with the NodePort. */
export interface EntryView {
  /** `clusterIP`, or the node's name for a NodePort entry. */
  readonly entry: string;
  readonly kind: 'ClusterIP' | 'NodePort';
  readonly target: string;
  /** Index into ModeView.paths. */
  readonly path: number;
}

export interface ServicePortView {
  /** kube-proxy's service port name (`ns/name` or `ns/name:port`). */
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly portName: string;
  readonly type: string;
  readonly protocol: string;
  readonly clusterIP: string;
  readonly port: number;
  readonly nodePort: number;
  readonly endpoints: readonly { readonly ip: string; readonly port: number; readonly pod: string }[];
  readonly entries: readonly EntryView[];
}

/** One rule (or map entry) a packet matched, pointing into the node's dump. */
export interface RuleHitView {
  readonly table: string;
  readonly chain: string;
  readonly text: string;
  /** 0-based lines of the node's dump this hit covers; empty when it has no line there. */
  readonly lines: readonly number[];
}

export interface PacketView {
  /** 1-based frame number in the mode's capture. */
  readonly frame: number;
  readonly src: string;
  readonly dst: string;
  readonly flags: string;
  /** tcpdump-style line. */
  readonly line: string;
}

export interface HopView {
  readonly host: string;
  /** `rx eth0`, `PREROUTING`, `route`, `deliver` … as `dpsim trace` prints it. */
  readonly stage: string;
  readonly detail: string;
  readonly timeUs: number;
  /** Interface id (`host/ifname`) for rx/tx hops. */
  readonly iface?: string;
  /** The frame as captured on that interface (rx/tx hops). */
  readonly packet?: PacketView;
  readonly rules: readonly RuleHitView[];
}

export interface NatView {
  readonly host: string;
  readonly kind: 'DNAT' | 'SNAT';
  readonly from: string;
  readonly to: string;
  /** Which half of the exchange. */
  readonly leg: 'request' | 'reply';
}

export interface PathView {
  readonly service: string;
  readonly entry: string;
  readonly from: string;
  readonly url: string;
  readonly exitCode: number;
  readonly answer: string;
  /** The pod that answered (`namespace/name`), or '' when none did. */
  readonly servedBy: string;
  readonly request: readonly HopView[];
  readonly reply: readonly HopView[];
  readonly nat: readonly NatView[];
  /** Conntrack entries (or eBPF CT map entries) of this connection, per node. */
  readonly conntrack: readonly { readonly node: string; readonly lines: readonly string[] }[];
  /** Every frame of this connection in the capture (handshake, request, response, teardown). */
  readonly frames: { readonly first: number; readonly last: number };
}

export interface DistributionView {
  readonly service: string;
  /** Where the rule-side probabilities were read from (e.g. "iptables statistic --probability"). */
  readonly ruleSource: string;
  readonly flows: number;
  readonly backends: readonly {
    readonly pod: string;
    readonly endpoint: string;
    /** Probability of choosing it, from the node's rules (node1's). */
    readonly ruleProbability: number;
    /** Share of the load run's new connections it received. */
    readonly observedShare: number;
    readonly observedFlows: number;
  }[];
}
