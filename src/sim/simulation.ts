/**
 * One simulated cluster, end to end: the control plane's objects, the network topology,
 * a proxy mode attached to every node, and the applications (an HTTP responder in every
 * pod, the apiserver on the control-plane node, a TCP stack with curl on every host).
 * This is the library entry point the CLI, the kernel comparison and the tests share.
 */

import {
  type CurlResult,
  type CurlUrl,
  type CurlVerboseLine,
  curl,
  type HttpResponder,
  ipv6NotSupported,
  parseCurlUrl,
  startHttpResponder,
  startUdpEcho,
  type TcpConnection,
  TcpStack,
  UdpSink,
  type UdpSocket,
  UdpStack,
} from '../apps/index.js';
import type { SctpClientResult } from '../apps/sctp-stack.js';
import type { KubeProxyConfig } from '../config/kube-proxy-config.js';
import type { NodeFacts } from '../config/node-options.js';
import { formatConntrackList } from '../conntrack/index.js';
import { restoreConntrack } from '../conntrack/restore.js';
import type { ClusterConfig } from '../k8s/cluster-config.js';
import { isCoreDnsPod } from '../k8s/cluster-dns-addon.js';
import {
  BOOTSTRAP_LEAD_SECONDS,
  type Cluster,
  type LoadOptions,
  type LoadResult,
  loadManifests,
  originScenarioYaml,
  toProxyModel,
} from '../k8s/index.js';
import type { ProxyMode } from '../proxy/common/datapath.js';
import type { ProxyModel } from '../proxy/common/model.js';
import { cleanStaleUdpConntrack, type UdpConntrackCleanup } from '../proxy/common/udp-conntrack-cleanup.js';
import { renderCiliumCtList } from '../proxy/ebpf/cilium-views.js';
import { nodeShares } from '../shares/node-shares.js';
import type { ServiceShares } from '../shares/types.js';
import {
  attachPod,
  buildClusterTopology,
  type ClusterTopology,
  detachPod,
  joinNode,
  podKey,
} from '../topology/build.js';
import type { Host } from '../topology/host.js';
import { APP_IPV6_BASE, appIpv6, indexOfAppIpv6 } from '../topology/ipv6-address-table.js';
import type { OverlayKind } from '../topology/tunnel.js';
import { PacketTracer } from '../trace/packet-trace.js';
import { formatIPv4, isIPv4, parseIPv4 } from '../util/ipv4.js';
import { isIPv6Text } from '../util/ipv6.js';
import { Rng } from '../util/rng.js';
import { PcapngCaptureSink } from './capture-sink.js';
import { SimulationDns } from './cluster-dns.js';
import { NodeHealthServers } from './health-servers.js';
import { Ipv6Datapath } from './ipv6-datapath.js';
import { type Ipv6View, renderIpv6Rules } from './ipv6-rules.js';
import {
  attachMode,
  attachNodeProxy,
  type DumpPart,
  ebpfSettings,
  type ModeOptions,
  type NodeProxy,
} from './modes.js';
import { PendingPodTcp, PendingPodUdp, type PodAppStarter } from './pending-pod-app.js';
import { type PodAppInfo, podApps } from './pod-apps.js';
import { sctpStackOf, startSctpServers } from './sctp-servers.js';

export interface SimulationOptions extends ModeOptions {
  /** `conntrack -L` text per node name, loaded into that node's table before anything runs. */
  readonly conntrackDumps?: ReadonlyMap<string, string>;
  /** YAML manifests (default: the embedded origin scenario). */
  readonly manifests?: string | readonly { source: string; text: string }[];
  /** A cluster already loaded (instead of manifests). */
  readonly cluster?: Cluster;
  /** Proxy mode (default: the Cluster document's, else iptables). */
  readonly mode?: ProxyMode;
  readonly seed?: number;
  /** Control-plane flag overrides (--service-node-port-range …). */
  readonly clusterOptions?: Omit<LoadOptions, 'seed'>;
  /** One-way link delay, ns (default 50 µs). */
  readonly linkDelayNs?: number;
  /** Capture every interface into a pcapng (read it with `capture.toBuffer()`). */
  readonly capture?: boolean;
  /** Write the capture to this file as the run goes (bounded memory) instead of keeping it in memory. */
  readonly captureFile?: string;
  /** Snap length of the capture (0 = whole frames). */
  readonly snaplen?: number;
  /** Pod traffic between nodes: routed (default) or Calico's IPIP / VXLAN overlay. */
  readonly overlay?: OverlayKind;
  /**
   * How kube-proxy clears stale UDP conntrack entries after each sync (iptables, nftables, IPVS
   * modes): `reconciler` (current, default), `reconciler-v1.32` (1.32 up to the fix of
   * kubernetes#139628: Services without endpoints skipped), `endpoint-deletion` (≤ 1.31) or
   * `none` (see src/proxy/common/udp-conntrack-cleanup.ts).
   */
  readonly udpConntrackCleanup?: UdpConntrackCleanup;
}

/** What one curl did, and what the serving pod saw. */
export interface CurlOutcome {
  /** 0 on success, else curl's exit code (7 refused, 28 timeout, 56 reset…). */
  readonly exitCode: number;
  /** The response body (what curl prints on stdout). */
  readonly stdout: string;
  /** curl's error line (what it prints on stderr), '' on success. */
  readonly stderr: string;
  /** The pod (or node, for host-network endpoints) that answered, and the peer address it saw. */
  readonly servedBy?: { readonly pod: string; readonly peer: string };
  readonly elapsedMs: number;
  /** The client's source port. */
  readonly localPort: number;
  /** The response head as received (what curl -i / -I print); '' on failure. */
  readonly rawHead: string;
  /** What curl -v prints (format with formatCurlVerbose). */
  readonly verbose: readonly CurlVerboseLine[];
}

export interface CurlRequest {
  /** `client`, a node name, or `pod/NAME`. */
  readonly from: string;
  readonly url: string;
  readonly connectTimeoutMs?: number;
  /** --max-time. */
  readonly maxTimeMs?: number;
  /** -X. */
  readonly method?: string;
  /** -I. */
  readonly head?: boolean;
  /** -H, as typed. */
  readonly headers?: readonly string[];
  /** curl's -4 / -6: resolve (and accept) addresses of that family only. */
  readonly ipFamily?: 4 | 6;
}

/** One UDP request (a datagram from a new connected socket) and how it ended. */
export interface UdpRequestOutcome {
  /** `ok`: a datagram came back; `refused`: ECONNREFUSED (ICMP port unreachable); `timeout`: nothing. */
  readonly result: 'ok' | 'refused' | 'timeout' | 'unreachable';
  /** The reply's payload as text (the echo's pod name). */
  readonly reply: string;
  /** The pod whose UDP echo answered, and the peer address it saw. */
  readonly servedBy?: { readonly pod: string; readonly peer: string };
  readonly localPort: number;
}

export class SimulationError extends Error {
  override name = 'SimulationError';
}

/** An accepted connection as the server side saw it (who connected, from where). */
interface ServedRecord {
  server: string;
  peer: string;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export class Simulation {
  readonly cluster: Cluster;
  readonly mode: ProxyMode;
  readonly topology: ClusterTopology;
  readonly proxies: Map<string, NodeProxy>;
  readonly capture: PcapngCaptureSink | null;
  readonly loadResult: LoadResult | null;
  model: ProxyModel;
  private readonly stacks = new Map<Host, TcpStack>();
  private readonly udpStacks = new Map<Host, UdpStack>();
  /** CoreDNS in the kube-system pods, pods' resolv.conf, the resolver and dig. */
  readonly dns: SimulationDns;
  /** The pods' one-way UDP sinks, by `pod/port` (see pod-apps.ts). */
  private readonly udpSinks = new Map<string, UdpSink>();
  /** Each node's kube-proxy (or Cilium) health servers, by node name. */
  private readonly healthServers = new Map<string, NodeHealthServers>();
  /** Server-side record per accepted connection, keyed by server host + local port + peer. */
  /**
   * The last connection a server accepted. The pump runs one curl to completion at a time,
   * so after a curl it is that curl's connection: who served it and the peer it saw.
   */
  private lastServed: ServedRecord | null = null;
  /** The last datagram a pod's UDP echo answered (one request runs at a time). */
  private lastUdpServed: ServedRecord | null = null;
  private readonly rng: Rng;
  private readonly modeOptions: ModeOptions;
  /** The Services the last syncFromCluster handed to the proxies (undefined: a full sync). */
  lastSyncChanges: ReadonlySet<string> | undefined;
  /** VIPs the client routes via the first node (see routeVipsThroughFirstNode). */
  private readonly vipRoutes = new Set<number>();
  /** kube-proxy's stale UDP conntrack clean-up (SimulationOptions.udpConntrackCleanup). */
  readonly udpConntrackCleanup: UdpConntrackCleanup;
  /** UDP conntrack entries the clean-up deleted, per node, over the run. */
  readonly udpConntrackDeleted = new Map<string, number>();
  /** Each pod's running HTTP responders (by podKey), so its app can stop listening (SIGTERM). */
  private readonly podResponders = new Map<string, HttpResponder[]>();
  /** Pods whose app starts on first use (see pending-pod-app.ts), with the clock their app starts on. */
  private readonly pendingApps = new Map<Host, { readonly app: PodAppInfo; readonly epochMs: number }>();
  /** The UDP echo sockets of each pod app, closed with its listeners. */
  private readonly podUdpEchoes = new Map<string, UdpSocket[]>();
  /** The model each node's proxy last synced (for kube-proxy's UDP conntrack clean-up). */
  private readonly nodeModels = new Map<string, ProxyModel>();
  /** The IPv6 datapath of a dual-stack cluster (null: single-stack). */
  readonly ipv6: Ipv6Datapath | null;

  constructor(options: SimulationOptions = {}) {
    const seed = options.seed ?? 1;
    this.rng = new Rng(seed);
    if (options.cluster !== undefined) {
      this.cluster = options.cluster;
      this.loadResult = null;
    } else {
      const result = loadManifests(options.manifests ?? originScenarioYaml, {
        ...options.clusterOptions,
        seed,
      });
      this.cluster = result.cluster;
      this.loadResult = result;
    }
    this.mode = options.mode ?? (this.cluster.proxyMode as ProxyMode);
    this.udpConntrackCleanup = options.udpConntrackCleanup ?? 'reconciler';
    const config = this.cluster.config;
    const apps = podApps(this.cluster.pods());
    // Every registered Node, from the Cluster document or a `kind: Node` manifest.
    this.model = toProxyModel(this.cluster);
    this.topology = buildClusterTopology(
      {
        clientIP: config.clientIP,
        nodes: this.model.nodes.map((n) => ({ name: n.name, ip: n.ip, podCIDR: n.podCIDR })),
        pods: apps.map((p) => ({ name: p.name, namespace: p.namespace, nodeName: p.nodeName, ip: p.ip })),
        overlay: options.overlay ?? 'none',
        clients: config.clients,
        routerIP: config.routerIP,
      },
      this.rng.fork(),
      options.linkDelayNs !== undefined ? { linkDelayNs: options.linkDelayNs } : {},
    );
    this.capture = options.capture
      ? new PcapngCaptureSink(
          options.snaplen ?? 0,
          `dpsim ${this.mode} mode, seed ${seed}`,
          options.captureFile,
          // Timestamps on the cluster's clock, the one the pods' HTTP Date headers use.
          this.cluster.now(),
        )
      : null;
    if (this.capture !== null) {
      this.topology.network.capture = this.capture;
      for (const iface of this.topology.network.interfaces) {
        // Tunnel devices carry no Ethernet frames; their traffic shows encapsulated on eth0.
        if (iface.host.tunnel?.device === iface) continue;
        this.topology.network.captureInterface(iface);
      }
    }
    this.modeOptions = {
      clockEpochMs: this.cluster.now(),
      ...options,
      ...nodeConfigOf(options, this.loadResult),
      nodeFacts: options.nodeFacts ?? nodeFactsOf(config),
    };
    // The model just built already holds every change made so far.
    this.cluster.changes.drain();
    this.proxies = attachMode(this.mode, this.topology, this.model, this.rng.fork(), this.modeOptions);
    this.ipv6 =
      config.ipv6 === undefined
        ? null
        : new Ipv6Datapath(this.cluster, this.topology, this.rng.fork(), {
            mode: this.mode,
            ...(this.modeOptions.kubeProxyConfig !== undefined
              ? { kubeProxyConfig: this.modeOptions.kubeProxyConfig }
              : {}),
            ...(this.modeOptions.nodeFacts !== undefined ? { nodeFacts: this.modeOptions.nodeFacts } : {}),
            ...(this.modeOptions.conntrackMax !== undefined
              ? { conntrackMax: this.modeOptions.conntrackMax }
              : {}),
            ...(this.modeOptions.ipvsScheduler !== undefined
              ? { ipvsScheduler: this.modeOptions.ipvsScheduler }
              : {}),
            ebpf: ebpfSettings(this.modeOptions),
            ebpfIpv4: (node) => {
              const source = this.proxies.get(node)?.shareSource();
              return source?.mode === 'ebpf' ? source.lb : undefined;
            },
          });
    for (const [node, text] of options.conntrackDumps ?? []) this.preloadConntrack(node, text);
    for (const name of this.proxies.keys()) this.nodeModels.set(name, this.model);
    this.routeVipsThroughFirstNode();
    this.dns = new SimulationDns(this.cluster, this.topology.network, {
      udpStack: (h) => this.udpStack(h),
      tcpStack: (h) => this.stackOf(h),
    });
    this.startApplications(apps);
    startSctpServers(this.topology, this.model);
  }

  get network() {
    return this.topology.network;
  }

  /** The KubeProxyConfiguration the nodes run with (undefined: kube-proxy's defaults). */
  get kubeProxyConfig(): KubeProxyConfig | undefined {
    return this.modeOptions.kubeProxyConfig;
  }

  /** The host behind `client`, a node name, or `pod/NAME`. */
  host(name: string): Host {
    const t = this.topology;
    if (name === 'client') return t.client;
    if (name === 'router' && t.router !== null) return t.router;
    const external = t.clients.get(name);
    if (external !== undefined) return external;
    const node = t.nodes.get(name);
    if (node !== undefined) return node;
    const podName = name.startsWith('pod/') ? name.slice(4) : name;
    for (const [key, pod] of t.pods) if (key.endsWith(`/${podName}`)) return pod;
    throw new SimulationError(
      `unknown host "${name}": use client${[...t.clients.keys()].map((c) => `, ${c}`).join('')}, a node (${[...t.nodes.keys()].join(', ')}) or pod/NAME`,
    );
  }

  /**
   * The client reaches LoadBalancer VIPs and externalIPs through an explicit /32 route via
   * the first node (as the kernel comparison's client namespace does, and as a MetalLB-style
   * announcement would). Without it the default LB pool, which lies inside the client's own
   * /24, is on-link: the client would look for the VIP's MAC itself and drop with
   * NEIGH_FAILED instead of reaching any node.
   */
  private routeVipsThroughFirstNode(): void {
    const first = this.topology.nodes.values().next().value;
    if (first === undefined) return;
    const via = first.interfaces[0].addr;
    // Every host on the nodes' segment that sends clients' traffic in: the client, the named
    // clients there and the router in front of the others.
    const lan = new Set(this.topology.segment.members.map((m) => m.host));
    const senders = [this.topology.client, ...this.topology.clients.values(), this.topology.router].filter(
      (h): h is Host => h !== null && lan.has(h),
    );
    for (const host of senders) for (const addr of this.vipRoutes) host.routes.remove(addr, 32);
    this.vipRoutes.clear();
    for (const sp of this.model.servicePorts) {
      for (const ip of [...sp.loadBalancerIPs, ...sp.externalIPs]) {
        const addr = parseIPv4(ip);
        if (this.vipRoutes.has(addr)) continue;
        this.vipRoutes.add(addr);
        for (const host of senders) {
          const eth = host.interfaces[0];
          if (eth !== undefined && !host.isLocal(addr)) host.routes.add(addr, 32, via, eth.index);
        }
      }
    }
  }

  private stackOf(host: Host): TcpStack {
    if (this.pendingApps.size > 0) this.startPendingApp(host);
    let stack = this.stacks.get(host);
    if (stack === undefined) {
      stack = new TcpStack(host);
      // A pending pod's receiver wrapped by someone else stays inside the wrapper and forwards.
      if (host.tcp === null || host.tcp instanceof PendingPodTcp) host.tcp = stack;
      this.stacks.set(host, stack);
    }
    return stack;
  }

  /**
   * The TCP stack of a host (created on first use; a pod whose app waits for its first packet
   * starts it now), for code that watches or drives a host's TCP directly (the rollout engine).
   */
  tcpStack(host: Host): TcpStack {
    return this.stackOf(host);
  }

  /**
   * The UDP sockets of `client`, a node or `pod/NAME` (created on first use): bind a port,
   * `sendTo`, receive with `onDatagram`. Every pod already runs its UDP echo on its UDP
   * containerPorts (pod-apps.ts).
   */
  udpStack(host: Host | string): UdpStack {
    const h = typeof host === 'string' ? this.host(host) : host;
    if (this.pendingApps.size > 0) this.startPendingApp(h);
    let stack = this.udpStacks.get(h);
    if (stack === undefined) {
      stack = new UdpStack(h);
      if (h.udp === null || h.udp instanceof PendingPodUdp) h.udp = stack;
      this.udpStacks.set(h, stack);
    }
    return stack;
  }

  /** The one-way UDP sink a pod runs on `port` (`dpsim.io/udp-sink-ports`), if any. */
  udpSink(pod: string, port: number): UdpSink | undefined {
    return this.udpSinks.get(`${pod.startsWith('pod/') ? pod.slice(4) : pod}/${port}`);
  }

  /**
   * Runs the simulated clock forward by `ms` milliseconds: every frame and timer due by then
   * (UDP apps have no request to wait for, so tests step the clock themselves).
   */
  advance(ms: number): void {
    const net = this.network;
    const until = net.nowNs + ms * 1e6;
    net.run(until);
    if (net.nowNs < until) net.nowNs = until;
  }

  private startApplications(apps: readonly PodAppInfo[]): void {
    const t = this.topology;
    const epochMs = this.cluster.now();
    this.stackOf(t.client);
    for (const c of t.clients.values()) this.stackOf(c);
    if (t.router !== null) this.stackOf(t.router);
    for (const node of t.nodes.values()) this.stackOf(node);
    for (const [name, node] of t.nodes) this.startHealthServers(name, node, epochMs);
    const starter: PodAppStarter = {
      tcpStackOf: (pod) => this.stackOf(pod),
      udpStackOf: (pod) => this.udpStack(pod),
    };
    for (const app of apps) {
      const pod = t.pods.get(podKey(app.namespace, app.name));
      // CoreDNS and UDP sinks are looked up by name, not reached by a packet: they start now.
      if (pod === undefined || isCoreDnsPod(app) || app.udpSinkPorts.length > 0) this.startPodApp(app);
      else {
        this.pendingApps.set(pod, { app, epochMs });
        pod.tcp = new PendingPodTcp(starter, pod);
        pod.udp = new PendingPodUdp(starter, pod);
      }
    }
    // Host-network endpoints (the apiserver behind the `kubernetes` Service) answer on their
    // node. Looked up by address: with 100k pod endpoints, asking every node about every
    // endpoint would dominate the build.
    const byAddress = new Map<string, [string, Host]>();
    for (const [name, node] of t.nodes)
      for (const iface of node.interfaces)
        if (iface.addr !== 0) byAddress.set(formatIPv4(iface.addr), [name, node]);
    for (const sp of this.model.servicePorts) {
      for (const ep of sp.endpoints) {
        const owner = byAddress.get(ep.ip);
        if (owner === undefined) continue;
        const [name, node] = owner;
        this.listen(
          node,
          ep.port,
          name === ep.nodeName || ep.nodeName === '' ? 'kube-apiserver' : name,
          epochMs,
        );
      }
    }
  }

  /**
   * Every pod gets a TCP stack, so a port its app does not listen on answers with a RST
   * (curl: (7)) as a Linux pod does, and the app listens where pod-apps.ts says.
   */
  private startPodApp(app: PodAppInfo, epochMs = this.cluster.now()): void {
    const key = podKey(app.namespace, app.name);
    const pod = this.topology.pods.get(key);
    if (pod === undefined) return;
    this.startPendingApp(pod);
    this.stackOf(pod);
    if (isCoreDnsPod(app)) {
      // CoreDNS answers 53/UDP and 53/TCP from the cluster instead of the HTTP responder.
      this.dns.startServer(app.name, pod);
      return;
    }
    const running: HttpResponder[] = [];
    for (const port of app.tcpPorts) {
      const r = this.listen(pod, port, app.name, epochMs, app.bodyTemplate);
      if (r !== undefined) running.push(r);
    }
    this.podResponders.set(key, running);
    const udp = this.udpStack(pod);
    const echoes: UdpSocket[] = [];
    this.podUdpEchoes.set(key, echoes);
    for (const port of app.udpEchoPorts)
      if (!udp.isBound(port))
        echoes.push(
          startUdpEcho(udp, {
            port,
            podName: app.name,
            onServe: (addr, sport) => {
              this.lastUdpServed = { server: app.name, peer: this.endpointText(addr, sport) };
            },
          }),
        );
    for (const port of app.udpSinkPorts)
      if (!udp.isBound(port)) this.udpSinks.set(`${app.name}/${port}`, new UdpSink(udp, port));
  }

  /**
   * Starts a pod's app (its container came up): it listens where pod-apps.ts says. A no-op
   * when the pod is not attached or already listening.
   */
  startPodListeners(namespace: string, name: string): void {
    const key = podKey(namespace, name);
    this.startPendingAppOf(key);
    if (this.podResponders.has(key)) return;
    const app = podApps(this.cluster.pods()).find((a) => a.namespace === namespace && a.name === name);
    if (app !== undefined) this.startPodApp(app);
  }

  /** The pod's app closes its listening sockets (SIGTERM, exit): new SYNs get a RST. */
  stopPodListeners(namespace: string, name: string): void {
    const key = podKey(namespace, name);
    this.startPendingAppOf(key);
    for (const r of this.podResponders.get(key) ?? []) r.stop();
    this.podResponders.delete(key);
    // Its UDP echo closes too: datagrams then meet ICMP port unreachable.
    for (const socket of this.podUdpEchoes.get(key) ?? []) socket.close();
    this.podUdpEchoes.delete(key);
  }

  /** True while the pod's app listens. */
  podListening(namespace: string, name: string): boolean {
    const key = podKey(namespace, name);
    this.startPendingAppOf(key);
    return this.podResponders.has(key);
  }

  /** Starts the app of a pod still waiting for its first packet (a no-op for any other host). */
  private startPendingApp(host: Host): void {
    const pending = this.pendingApps.get(host);
    if (pending === undefined) return;
    this.pendingApps.delete(host);
    this.startPodApp(pending.app, pending.epochMs);
  }

  private startPendingAppOf(key: string): void {
    const pod = this.topology.pods.get(key);
    if (pod !== undefined && this.pendingApps.size > 0) this.startPendingApp(pod);
  }

  private listen(
    host: Host,
    port: number,
    serverName: string,
    epochMs: number,
    bodyTemplate?: string,
  ): HttpResponder | undefined {
    const stack = this.stackOf(host);
    if (stack.hasListener(port)) return undefined;
    return startHttpResponder(stack, {
      port,
      podName: serverName,
      clockEpochMs: epochMs,
      ...(bodyTemplate !== undefined ? { bodyTemplate } : {}),
      onAccept: (c: TcpConnection) => {
        this.lastServed = { server: serverName, peer: this.endpointText(c.remoteAddr, c.remotePort) };
      },
    });
  }

  /** `addr:port` of an application address (IPv6: `[addr]:port`). */
  private endpointText(addr: number, port: number): string {
    if (addr < APP_IPV6_BASE) return `${formatIPv4(addr)}:${port}`;
    return `[${this.ipv6?.topology6.addresses.text(indexOfAppIpv6(addr)) ?? '?'}]:${port}`;
  }

  /**
   * Runs one curl from `from` to `url` on the simulated clock until it finishes (and its
   * teardown has drained), and returns what curl printed and who served it.
   */
  curl(request: CurlRequest): CurlOutcome {
    const host = this.host(request.from);
    const stack = this.stackOf(host);
    const target = parseCurlUrl(request.url);
    // A URL curl refuses (or a name, which nothing resolves yet) fails inside curl, with its exit code.
    const { addr, localAddr } =
      target.ok && (target.url.family === 6 || request.ipFamily === 6)
        ? this.curlAddresses6(host, request, target.url)
        : this.curlAddresses4(host, request, target.ok ? target.url : undefined);
    this.lastServed = null;
    const run = curl(stack, {
      url: request.url,
      localAddr,
      ...(addr !== undefined ? { resolve: () => addr } : {}),
      ...(request.ipFamily !== undefined ? { ipFamily: request.ipFamily } : {}),
      ...(addr !== undefined && addr >= APP_IPV6_BASE
        ? { addressText: this.ipv6!.topology6.addresses.text(indexOfAppIpv6(addr)) }
        : {}),
      connectTimeoutMs: request.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      ...(request.maxTimeMs !== undefined ? { maxTimeMs: request.maxTimeMs } : {}),
      ...(request.method !== undefined ? { method: request.method } : {}),
      ...(request.head !== undefined ? { head: request.head } : {}),
      ...(request.headers !== undefined ? { headers: request.headers } : {}),
    });
    const net = this.network;
    const deadline =
      net.nowNs + (request.maxTimeMs ?? request.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS) * 2e6 + 1e9;
    // Stop when nothing more is due by the deadline (run() then returns 0 with the clock at
    // the deadline); looping on the clock alone would spin forever on a later timer.
    while (!run.done && net.queue.size > 0 && net.nowNs <= deadline) if (net.run(deadline, 1) === 0) break;
    this.settle();
    const result = run.result;
    if (result === undefined)
      throw new SimulationError(`curl to ${request.url} did not finish by the simulated deadline`);
    return this.outcome(result);
  }

  /** The destination and source of an IPv4 curl (the destination undefined when curl must fail to resolve). */
  private curlAddresses4(
    host: Host,
    request: CurlRequest,
    url: CurlUrl | undefined,
  ): { addr: number | undefined; localAddr: number } {
    const addr =
      url === undefined
        ? undefined
        : isIPv4(url.host)
          ? parseIPv4(url.host)
          : this.resolveName(host, request.from, url.host);
    const localAddr = addr === undefined ? 0 : host.sourceAddressFor(addr);
    if (addr !== undefined && localAddr === 0)
      throw new SimulationError(`${request.from} has no route to ${formatIPv4(addr)}`);
    return { addr, localAddr };
  }

  /**
   * The destination and source of an IPv6 curl (`[addr]` or `-6`), as application handles of the
   * IPv6 datapath; refused with one line on a single-stack cluster or in a mode without one.
   */
  private curlAddresses6(
    host: Host,
    request: CurlRequest,
    url: CurlUrl,
  ): { addr: number | undefined; localAddr: number } {
    if (url.family === 6 && request.ipFamily === 4) return { addr: undefined, localAddr: 0 };
    const v6 = this.ipv6;
    if (v6 === null)
      throw new SimulationError(
        ipv6NotSupported(
          url,
          'the cluster is single-stack: use --dual-stack or a v4,v6 --service-cluster-ip-range',
        ),
      );
    const text =
      url.family === 6
        ? url.host
        : isIPv4(url.host)
          ? undefined
          : this.resolveName6(host, request.from, url.host);
    if (text === undefined || !isIPv6Text(text)) return { addr: undefined, localAddr: 0 };
    const stack = host.v6;
    const index = v6.topology6.addresses.internText(text);
    const local = stack === null ? 0 : stack.sourceAddressFor(index);
    if (local === 0) throw new SimulationError(`${request.from} has no IPv6 route to ${text}`);
    return { addr: appIpv6(index), localAddr: appIpv6(local) };
  }

  /** getaddrinfo(AF_INET6) as `curl -6` calls it: the first IPv6 address of the name (AAAA). */
  private resolveName6(host: Host, from: string, name: string): string | undefined {
    const conf = this.dns.resolvConf(from);
    if (conf.nameservers.length === 0) return undefined;
    const out = this.dns.lookup(host, conf, name, 'unspec');
    return out.ok ? out.addresses.find((a) => a.includes(':')) : undefined;
  }

  /**
   * getaddrinfo as curl calls it, from `from`'s resolv.conf over the simulated network (a pod:
   * CoreDNS through the kube-dns Service); undefined when the name does not resolve or the host
   * has no nameserver (nodes and the client: curl then fails with (6)). The first IPv4 address.
   */
  private resolveName(host: Host, from: string, name: string): number | undefined {
    const conf = this.dns.resolvConf(from);
    if (conf.nameservers.length === 0) return undefined;
    const out = this.dns.lookup(host, conf, name, 'unspec');
    const v4 = out.ok ? out.addresses.find(isIPv4) : undefined;
    return v4 === undefined ? undefined : parseIPv4(v4);
  }

  /**
   * One UDP request from `from` (`client`, a node, `pod/NAME`): a new connected socket sends
   * one datagram to dst:port, and the clock runs until a datagram comes back, an ICMP error
   * refuses it, or `timeoutMs` passes. The socket is closed afterwards.
   */
  udpRequest(request: {
    from: string;
    dst: string;
    port: number;
    timeoutMs?: number;
    payload?: string;
  }): UdpRequestOutcome {
    const host = this.host(request.from);
    const dst = request.dst.includes(':') ? this.udpAddress6(request.dst) : parseIPv4(request.dst);
    if (host.sourceAddressFor(dst) === 0)
      throw new SimulationError(`${request.from} has no route to ${request.dst}`);
    let reply: string | null = null;
    let error: string | null = null;
    const socket = this.udpStack(host).bind({
      onDatagram: (d) => {
        reply ??= new TextDecoder().decode(d.payload);
      },
      onError: (e) => {
        error ??= e.errno;
      },
    });
    this.lastUdpServed = null;
    try {
      socket.connect(dst, request.port);
      socket.send(new TextEncoder().encode(request.payload ?? 'GET / dpsim udp\n'));
      const net = this.network;
      const deadline = net.nowNs + (request.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS) * 1e6;
      // One event at a time up to the next event's own time: run() moves the clock to its
      // limit when the queue drains, and the clock must stop where the answer arrived.
      while (reply === null && error === null && net.queue.size > 0) {
        const next = net.queue.peekTime();
        if (next > deadline) break;
        net.run(next, 1);
      }
      if (reply === null && error === null && net.nowNs < deadline) net.nowNs = deadline;
    } finally {
      socket.close();
    }
    const served = this.lastUdpServed as ServedRecord | null;
    const result: UdpRequestOutcome['result'] =
      reply !== null
        ? 'ok'
        : error === 'ECONNREFUSED'
          ? 'refused'
          : error !== null
            ? 'unreachable'
            : 'timeout';
    return {
      result,
      reply: reply ?? '',
      localPort: socket.localPort,
      ...(result === 'ok' && served !== null ? { servedBy: { pod: served.server, peer: served.peer } } : {}),
    };
  }

  /** An IPv6 destination of a UDP request, as the application handle of the IPv6 datapath. */
  private udpAddress6(text: string): number {
    const v6 = this.ipv6;
    if (v6 === null)
      throw new SimulationError(
        `${text}: the cluster is single-stack (use --dual-stack or a v4,v6 --service-cluster-ip-range)`,
      );
    if (!isIPv6Text(text)) throw new SimulationError(`invalid IPv6 address "${text}"`);
    return appIpv6(v6.topology6.addresses.internText(text));
  }

  /** Runs the pump until no frame is in flight (timers such as TIME_WAIT may remain). */
  settle(maxEvents = 1_000_000): void {
    const net = this.network;
    let n = 0;
    while (net.framesInFlight > 0 && net.queue.size > 0 && n < maxEvents)
      n += net.run(Number.POSITIVE_INFINITY, 1);
  }

  private outcome(result: CurlResult): CurlOutcome {
    if (!result.ok) {
      return {
        exitCode: result.exitCode,
        stdout: '',
        stderr: result.message,
        elapsedMs: result.elapsedMs,
        localPort: result.localPort,
        rawHead: '',
        verbose: result.verbose,
      };
    }
    const served = this.lastServed;
    const servedBy = served === null ? undefined : { pod: served.server, peer: served.peer };
    return {
      exitCode: 0,
      stdout: result.stdout,
      stderr: '',
      elapsedMs: result.elapsedMs,
      localPort: result.localPort,
      rawHead: result.rawHead,
      verbose: result.verbose,
      ...(servedBy !== undefined ? { servedBy } : {}),
    };
  }

  /**
   * `conntrack -L` on a node (stdout and the summary line conntrack prints on stderr); in eBPF
   * mode, whose connections never enter nf_conntrack, the BPF CT map as `cilium-dbg bpf ct list
   * global` prints it.
   */
  conntrackList(nodeName: string, family: 'ipv4' | 'ipv6' = 'ipv4'): string {
    const proxy = this.proxies.get(nodeName);
    if (proxy === undefined) throw new SimulationError(`unknown node "${nodeName}"`);
    if (family === 'ipv6') return this.conntrackList6(nodeName);
    // eBPF mode tracks connections in its own CT maps: their `cilium-dbg bpf ct list global` view.
    if (proxy.conntrack === null) return proxy.dump({ part: 'cilium-ct' });
    const { stdout, stderr } = formatConntrackList(proxy.conntrack, this.network.nowNs);
    return stdout + stderr;
  }

  /** `conntrack -L -f ipv6`: the node's IPv6 conntrack table, addresses as inet_ntop prints them. */
  private conntrackList6(nodeName: string): string {
    const v6 = this.ipv6;
    if (v6 === null)
      throw new SimulationError(
        '-f ipv6: the cluster is single-stack (use --dual-stack or a v4,v6 --service-cluster-ip-range)',
      );
    if (this.mode === 'ebpf') {
      // Cilium's IPv6 flows live in its cilium_ct6 maps (none until the node's programs ran).
      const lb = v6.ebpf.get(nodeName);
      return lb === undefined ? '' : renderCiliumCtList(lb);
    }
    const table = v6.conntrack.get(nodeName);
    if (table === undefined) throw new SimulationError(`unknown node "${nodeName}"`);
    const addresses = v6.topology6.addresses;
    const { stdout, stderr } = formatConntrackList(table, this.network.nowNs, (a) => addresses.text(a));
    return stdout + stderr;
  }

  /** The mode's native dump on a node (IPVS mode: `part` picks ipvsadm -Ln, -Lnc, ipset list or iptables-save). */
  rules(nodeName: string, options?: { counters?: boolean; part?: DumpPart }): string {
    const proxy = this.proxies.get(nodeName);
    if (proxy === undefined) throw new SimulationError(`unknown node "${nodeName}"`);
    return proxy.dump(options);
  }

  /**
   * Each endpoint's exact share of new connections on a node (every node when omitted),
   * computed from the rules its datapath runs, beside kube-proxy's/Cilium's intended shares.
   */
  shares(nodeName?: string): ServiceShares[] {
    const names = nodeName === undefined ? [...this.proxies.keys()] : [nodeName];
    return names.flatMap((n) => {
      const proxy = this.proxies.get(n);
      if (proxy === undefined) throw new SimulationError(`unknown node "${n}"`);
      return nodeShares(this.model, n, proxy.shareSource());
    });
  }

  /**
   * A dual-stack node's IPv6 rules as its mode's tool prints them (see ipv6-rules.ts). With
   * `counters`, the ip6tables rules the node runs (iptables mode; IPVS mode's `iptables` view)
   * print as `ip6tables-save -c` with the `[packets:bytes]` their traffic left; the other
   * listings have no per-rule counters to add.
   */
  ipv6Rules(nodeName: string, view?: Ipv6View, options?: { counters?: boolean }): string {
    if (!this.proxies.has(nodeName)) throw new SimulationError(`unknown node "${nodeName}"`);
    const date = new Date((this.modeOptions.clockEpochMs ?? 0) + this.topology.network.nowNs / 1e6);
    const ip6tablesView = this.mode === 'iptables' || (this.mode === 'ipvs' && view === 'iptables');
    if (options?.counters === true && ip6tablesView && this.ipv6 !== null) {
      const saved = this.ipv6.ip6tablesSave(nodeName, date, true);
      if (saved !== undefined) return saved;
    }
    const v4 = this.proxies.get(nodeName)!.shareSource();
    return renderIpv6Rules(
      this.mode,
      this.cluster,
      nodeName,
      this.modeOptions.kubeProxyConfig,
      this.modeOptions.nodeFacts?.get(nodeName),
      date,
      view,
      v4.mode === 'ebpf' ? v4.lb : undefined,
    );
  }

  /** Runs one curl with a tracer attached: every hop, hook, matched rule, NAT and verdict. */
  trace(request: CurlRequest): { outcome: CurlOutcome; tracer: PacketTracer } {
    const tracer = new PacketTracer();
    this.network.tracer = tracer;
    try {
      return { outcome: this.curl(request), tracer };
    } finally {
      this.network.tracer = null;
    }
  }

  /** Re-reads the cluster after control-plane events: pods plugged/unplugged, rules re-synced. */
  syncFromCluster(): void {
    this.model = toProxyModel(this.cluster);
    this.syncPods();
    // Only the Services the control plane changed since the last sync: eBPF mode re-plans just
    // those (the other modes resync fully), as kube-proxy's change tracker hands them over.
    const pending = this.cluster.changes.drain();
    this.lastSyncChanges = pending.full ? undefined : pending.services;
    for (const name of this.proxies.keys()) this.syncNode(name, this.model, this.lastSyncChanges);
    this.ipv6?.sync();
  }

  /**
   * The kubelets' part of a sync: nodes registered since are joined, new pods plugged in
   * (their apps listening at once unless `startApps` is false), removed pods unplugged.
   */
  syncPods(options: { startApps?: boolean } = {}): { attached: string[]; detached: string[] } {
    const attached: string[] = [];
    const detached: string[] = [];
    const model = toProxyModel(this.cluster);
    for (const n of model.nodes) if (!this.topology.nodes.has(n.name)) this.joinNode(n);
    const live = new Set<string>();
    for (const app of podApps(this.cluster.pods())) {
      const key = podKey(app.namespace, app.name);
      live.add(key);
      if (!this.topology.pods.has(key)) {
        const pod = attachPod(this.topology, {
          name: app.name,
          namespace: app.namespace,
          nodeName: app.nodeName,
          ip: app.ip,
        });
        if (this.capture !== null) {
          this.network.captureInterface(pod.interfaces[0]);
          this.network.captureInterface(this.topology.podVeths.get(key)!);
        }
        this.ipv6?.attachPod(key, pod);
        if (options.startApps ?? true) this.startPodApp(app);
        attached.push(key);
      }
    }
    for (const key of [...this.topology.pods.keys()]) {
      if (!live.has(key)) {
        const [ns, name] = key.split('/');
        this.stopPodListeners(ns, name);
        this.ipv6?.detachPod(key);
        detachPod(this.topology, ns, name);
        detached.push(key);
      }
    }
    // SCTP servers come with their pods (an SCTP Service's endpoints answer on their port).
    startSctpServers(this.topology, model);
    return { attached, detached };
  }

  /**
   * One node's proxy sync: its rules and its health servers take `model` (the node's own view,
   * which may lag the control plane's).
   */
  syncNode(name: string, model: ProxyModel, changed?: ReadonlySet<string>): void {
    this.proxies.get(name)?.sync(model, changed);
    this.cleanUdpConntrack(name, this.nodeModels.get(name) ?? model, model);
    this.nodeModels.set(name, model);
    this.healthServers.get(name)?.sync(model);
    this.routeVipsThroughFirstNode();
  }

  /** A real node's `conntrack -L`, loaded into one node's table (the connections it is tracking). */
  private preloadConntrack(nodeName: string, text: string): void {
    const proxy = this.proxies.get(nodeName);
    if (proxy === undefined) throw new SimulationError(`conntrack -L for unknown node "${nodeName}"`);
    if (proxy.conntrack === null)
      throw new SimulationError(
        `conntrack -L for ${nodeName}: ${this.mode} mode keeps its connections in BPF maps, not nf_conntrack`,
      );
    restoreConntrack(proxy.conntrack, text, this.network.nowNs);
  }

  /** kube-proxy's stale UDP conntrack clean-up after one node's sync from `previous` to `model`. */
  private cleanUdpConntrack(name: string, previous: ProxyModel, model: ProxyModel): void {
    const proxy = this.proxies.get(name);
    if (this.mode === 'ebpf' || proxy === undefined || proxy.conntrack === null) return;
    const n = cleanStaleUdpConntrack(
      this.udpConntrackCleanup,
      proxy.conntrack,
      previous,
      model,
      this.network.nowNs,
    );
    if (n > 0) this.udpConntrackDeleted.set(name, (this.udpConntrackDeleted.get(name) ?? 0) + n);
  }

  /**
   * One SCTP association from `from` to `addr:port` (INIT … SHUTDOWN COMPLETE), run on the
   * simulated clock until it ends: the server's answer names the pod that served it.
   */
  sctpRequest(
    from: string,
    addr: number,
    port: number,
    message: Uint8Array,
    timeoutNs = 10e9,
  ): SctpClientResult {
    const host = this.host(from);
    const localAddr = host.sourceAddressFor(addr);
    if (localAddr === 0) throw new SimulationError(`${from} has no route to ${formatIPv4(addr)}`);
    let result: SctpClientResult | undefined;
    sctpStackOf(host).associate({
      localAddr,
      remoteAddr: addr,
      remotePort: port,
      message,
      timeoutNs,
      onDone: (r) => {
        result = r;
      },
    });
    const net = this.network;
    const deadline = net.nowNs + timeoutNs + 1e9;
    while (result === undefined && net.queue.size > 0 && net.nowNs <= deadline)
      if (net.run(deadline, 1) === 0) break;
    this.settle();
    return result ?? { status: 'timeout', reply: new Uint8Array(0) };
  }

  /** A Node registered after the simulation was built: wired into the topology, its proxy attached. */
  private joinNode(n: ProxyModel['nodes'][number]): void {
    const host = joinNode(this.topology, n, this.rng.fork());
    if (this.capture !== null) this.network.captureInterface(host.interfaces[0]);
    this.ipv6?.joinNode(n.name, host);
    this.proxies.set(n.name, attachNodeProxy(this.mode, host, this.model, this.rng.fork(), this.modeOptions));
    this.startHealthServers(n.name, host, this.cluster.now());
  }

  /** kube-proxy's :10256/healthz and the healthCheckNodePorts, on one node. */
  private startHealthServers(name: string, node: Host, epochMs: number): void {
    const servers = new NodeHealthServers({
      nodeName: name,
      stack: this.stackOf(node),
      mode: this.mode,
      clockEpochMs: epochMs,
      startedBeforeMs: BOOTSTRAP_LEAD_SECONDS * 1000,
      ...healthzPortOf(this.modeOptions.kubeProxyConfig),
    });
    servers.sync(this.model);
    this.healthServers.set(name, servers);
  }
}

export function buildSimulation(options: SimulationOptions = {}): Simulation {
  return new Simulation(options);
}

/** The KubeProxyConfiguration and Cilium values: given as options, else found among the manifests. */
function nodeConfigOf(options: SimulationOptions, loaded: LoadResult | null): Partial<ModeOptions> {
  const kubeProxyConfig = options.kubeProxyConfig ?? loaded?.kubeProxyConfig;
  const cilium = options.cilium ?? loaded?.cilium;
  return {
    ...(kubeProxyConfig !== undefined ? { kubeProxyConfig } : {}),
    ...(cilium !== undefined ? { cilium } : {}),
  };
}

/** What each node's proxy finds on its node, from the Cluster document. */
function nodeFactsOf(config: ClusterConfig): Map<string, NodeFacts> {
  return new Map(
    config.nodes.map((n) => [
      n.name,
      { name: n.name, addresses: n.addresses, podCIDR: n.podCIDR, kernel: n.kernel },
    ]),
  );
}

/** The port of the KubeProxyConfiguration's healthzBindAddress (host:port, [v6]:port). */
function healthzPortOf(config: KubeProxyConfig | undefined): { healthzPort?: number } {
  if (config === undefined) return {};
  return {
    healthzPort: Number(config.healthzBindAddress.slice(config.healthzBindAddress.lastIndexOf(':') + 1)),
  };
}
