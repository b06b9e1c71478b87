/**
 * Cluster DNS inside one simulation: CoreDNS servers in the kube-system pods, each pod's
 * resolv.conf, and the DNS clients (the resolver behind curl, dig) running on a host's sockets
 * over the simulated network — so a lookup crosses the pod's veth, the node's rules that DNAT
 * the kube-dns ClusterIP, and conntrack, as every other packet does.
 */
import { startHttpResponder } from '../apps/http-responder.js';
import type { TcpStack } from '../apps/tcp-stack.js';
import type { UdpStack } from '../apps/udp-stack.js';
import { CoreDnsZone } from '../dns/coredns.js';
import { type DigRequest, type DigResult, runDig } from '../dns/dig.js';
import { NODE_RESOLV_CONF, podResolvConf, type ResolvConf } from '../dns/resolv-conf.js';
import { DnsServer } from '../dns/server.js';
import type { DnsHost, DnsUdpLayer } from '../dns/sockets.js';
import { type AddressFamily, getaddrinfo, type LookupOutcome } from '../dns/stub-resolver.js';
import type { Cluster } from '../k8s/cluster.js';
import { CLUSTER_DOMAIN, clusterDnsIP, DNS_NAMESPACE, DNS_SERVICE } from '../k8s/cluster-dns-addon.js';
import type { Host } from '../topology/host.js';
import type { Network } from '../topology/network.js';

/** What the DNS runtime needs from the simulation: its hosts' socket layers. */
export interface DnsSockets {
  udpStack(host: Host): UdpStack;
  tcpStack(host: Host): TcpStack;
}

export class SimulationDns {
  readonly zone: CoreDnsZone;
  /** The CoreDNS servers, by pod name. */
  readonly servers = new Map<string, DnsServer>();

  constructor(
    private readonly cluster: Cluster,
    private readonly network: Network,
    private readonly sockets: DnsSockets,
  ) {
    this.zone = new CoreDnsZone(cluster, CLUSTER_DOMAIN);
  }

  /** The kube-dns ClusterIP the kubelet writes into pods' resolv.conf, if the cluster has one. */
  clusterDnsIP(): string | undefined {
    return this.cluster.getService(DNS_SERVICE, DNS_NAMESPACE)?.spec?.clusterIP;
  }

  /** Starts CoreDNS (UDP and TCP 53) in a kube-system coredns pod. */
  startServer(podName: string, pod: Host): void {
    if (this.servers.has(podName)) return;
    const server = new DnsServer(podName, this.zone);
    const tcp = this.sockets.tcpStack(pod);
    server.start(udpLayer(this.sockets.udpStack(pod)), tcp);
    this.servers.set(podName, server);
    // The prometheus plugin on :9153 (/metrics): the request counters CoreDNS exports.
    if (!tcp.hasListener(COREDNS_METRICS_PORT))
      startHttpResponder(tcp, {
        port: COREDNS_METRICS_PORT,
        podName,
        handler: (request) =>
          request.target === '/metrics'
            ? {
                status: 200,
                headers: [['Content-Type', 'text/plain; version=0.0.4; charset=utf-8']],
                body: metricsText(server),
              }
            : {
                status: 404,
                headers: [['Content-Type', 'text/plain; charset=utf-8']],
                body: '404 page not found\n',
              },
      });
  }

  /** `pod/NAME` gets the kubelet's resolv.conf; nodes and the client have no cluster DNS. */
  resolvConf(from: string): ResolvConf {
    if (!from.startsWith('pod/')) return NODE_RESOLV_CONF;
    const name = from.slice(4);
    const pod = this.cluster.pods().find((p) => p.metadata?.name === name);
    if (pod === undefined) return NODE_RESOLV_CONF;
    const ip = this.clusterDnsIP() ?? clusterDnsIP(this.cluster.config.serviceCIDR);
    return podResolvConf(pod, { clusterDNS: ip, clusterDomain: CLUSTER_DOMAIN });
  }

  dnsHost(host: Host): DnsHost {
    return {
      nowNs: () => host.nowNs(),
      setTimer: (d, fn) => host.setTimer(d, fn),
      clearTimer: (h) => host.clearTimer(h),
      rng: host.rng,
      udp: udpLayer(this.sockets.udpStack(host)),
      tcp: this.sockets.tcpStack(host),
      sourceAddressFor: (dst) => host.sourceAddressFor(dst),
    };
  }

  /** getaddrinfo on `host` with `conf`, the pump run until it returns. */
  lookup(host: Host, conf: ResolvConf, name: string, family: AddressFamily = 'unspec'): LookupOutcome {
    let out: LookupOutcome | undefined;
    getaddrinfo(this.dnsHost(host), conf, name, family, (o) => {
      out = o;
    });
    this.pumpUntil(() => out !== undefined);
    if (out === undefined) throw new Error(`DNS lookup of ${name} did not finish`);
    return out;
  }

  dig(host: Host, request: DigRequest): DigResult {
    let out: DigResult | undefined;
    runDig(this.dnsHost(host), request, (r) => {
      out = r;
    });
    this.pumpUntil(() => out !== undefined);
    if (out === undefined) throw new Error(`dig ${request.name} did not finish`);
    return out;
  }

  private pumpUntil(done: () => boolean): void {
    const net = this.network;
    // Resolver and dig give up on their own timers (at most attempts × timeout per name).
    const deadline = net.nowNs + 600e9;
    while (!done() && net.queue.size > 0 && net.nowNs <= deadline) if (net.run(deadline, 1) === 0) break;
  }
}

const COREDNS_METRICS_PORT = 9153;

/** A few of CoreDNS's Prometheus series, from the server's counters. */
function metricsText(server: DnsServer): string {
  const s = server.stats;
  return (
    '# HELP coredns_dns_requests_total Counter of DNS requests made per zone, protocol and family.\n' +
    '# TYPE coredns_dns_requests_total counter\n' +
    `coredns_dns_requests_total{family="1",proto="tcp",server="dns://:53",type="other",view="",zone="."} ${s.tcp}\n` +
    `coredns_dns_requests_total{family="1",proto="udp",server="dns://:53",type="other",view="",zone="."} ${s.udp}\n`
  );
}

/** The host's UdpStack as the DNS code's socket layer (errors carry their errno). */
function udpLayer(stack: UdpStack): DnsUdpLayer {
  return {
    bind: (options) =>
      stack.bind({
        ...(options.port !== undefined ? { port: options.port } : {}),
        ...(options.addr !== undefined ? { addr: options.addr } : {}),
        onDatagram: (d) => options.onDatagram?.(d, undefined as never),
        onError: (e) => options.onError?.({ errno: e.errno }, undefined as never),
      }),
  };
}
