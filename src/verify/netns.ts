/**
 * A throw-away copy of dpsim's default topology built from real network namespaces:
 *
 *   [client ns] eth0 CLIENT_IP ──┐
 *   [node ns i] eth0 NODE_IP_i ──┼── br0 in a dedicated [lan ns] (one L2 segment)
 *                                │
 *   [node ns i] caliK (MAC ee:ee:ee:ee:ee:ee, no address) ── eth0 POD_IP/32 [pod ns K]
 *
 * Every host on the segment has its address as a /32 plus an on-link /32 route to each
 * other host, so any addressing (not only one /24) works and nothing else is on-link — in
 * particular a LoadBalancer VIP is only reachable through the explicit route the client
 * gets to its entry node, as a MetalLB-style announcement would provide.
 *
 * Nodes: ip_forward=1, rp_filter=0, ICMP rate limiting off (so every REJECT is seen as
 * "refused": with the kernel's default per-destination limit most of a burst of rejected
 * connections would time out instead), a route to each other node's podCIDR via that
 * node, a default route to the client (a dead end: the client does not forward) so that
 * node-originated ClusterIP traffic has a route before DNAT. Pods are Calico-style: eth0
 * with a /32, default via 169.254.1.1 on eth0; the node side has a /32 route per local pod.
 * Static neighbour entries on both ends of a pod link replace Calico's proxy ARP.
 *
 * An IPv6 topology (`family: 6`, the IPv6 side of a dual-stack cluster) is the same picture
 * in IPv6: /128 addresses added `nodad` and duplicate address detection off everywhere (so no
 * address is ever tentative), on-link /128 routes between the hosts (NDP resolves them; the
 * bridge's MLD snooping is off so the solicitations always flood), ipv6 forwarding on the
 * nodes, ICMPv6 rate limiting off (per destination and, by an empty ratemask, against the
 * host-wide budget too), and pods routed Calico's IPv6 way: default via
 * fe80::ecee:eeff:feee:eeee, the link-local address of the ee:ee:ee:ee:ee:ee host veth, with a
 * static neighbour entry for it.
 *
 * Every veth is created directly inside these namespaces: nothing appears in the caller's
 * namespace and no packet can leave the sandbox.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { NetnsError } from './errors.js';
import { inNetns, type RunResult, run, runOk } from './exec.js';
import { destroySync, listOwnNamespaces, newRunPrefix, register, unregister } from './lifecycle.js';
import { RESPONDER_SCRIPT, type ResponderConfig } from './responder-script.js';

export interface TopologyNode {
  readonly name: string;
  readonly ip: string;
  readonly podCIDR: string;
}

export interface TopologyPod {
  readonly name: string;
  readonly nodeName: string;
  readonly ip: string;
  /** TCP ports the pod's responder listens on. */
  readonly tcpPorts: readonly number[];
  /** UDP ports it answers on (one datagram back per datagram), and ports it only binds (sinks). */
  readonly udpPorts?: readonly number[];
  readonly udpSinkPorts?: readonly number[];
}

export interface TopologySpec {
  readonly clientIP: string;
  readonly nodes: readonly TopologyNode[];
  readonly pods: readonly TopologyPod[];
  /** /32 routes in the client namespace: traffic to `ip` goes to node `via`. */
  readonly clientRoutes: readonly { readonly ip: string; readonly via: string }[];
  /** 6: every address above is IPv6 (default 4). */
  readonly family?: 4 | 6;
  /** Responders exit after this long at the latest (default 120 s). */
  readonly responderLifetimeMs?: number;
}

const CALICO_HOST_MAC = 'ee:ee:ee:ee:ee:ee';
const CALICO_GATEWAY = '169.254.1.1';
/** The link-local address (EUI-64) of the ee:ee:ee:ee:ee:ee host veth: Calico's IPv6 gateway. */
const CALICO_GATEWAY6 = 'fe80::ecee:eeff:feee:eeee';
/** No address in the sandbox is ever tentative: DAD would hold it back for a second or more. */
const NO_DAD = 'for f in /proc/sys/net/ipv6/conf/*/accept_dad; do echo 0 > "$f"; done';
const MAX_PODS = 200;
// A node process starting in a fresh netns; generous because several run at once (the differential runs its cases concurrently) and a loaded machine can take over 10 s to start one.
const READY_TIMEOUT_MS = 30_000;

function podMac(index: number): string {
  const hex = (index + 1).toString(16).padStart(6, '0');
  return `02:00:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
}

export class NetnsTopology {
  private readonly registration = register();
  private readonly responders: ChildProcess[] = [];
  private readonly nsBySource = new Map<string, string>();
  private readonly nsByNode = new Map<string, string>();
  private destroyed = false;
  readonly prefix = newRunPrefix();

  private constructor(readonly spec: TopologySpec) {}

  /** Builds the namespaces, links, routes and responders. On failure everything built so far is removed. */
  static async create(spec: TopologySpec): Promise<NetnsTopology> {
    if (spec.pods.length > MAX_PODS) {
      throw new NetnsError(`too many pods for a kernel topology (${spec.pods.length} > ${MAX_PODS})`);
    }
    const topo = new NetnsTopology(spec);
    try {
      await topo.build();
      return topo;
    } catch (e) {
      await topo.destroy();
      throw e;
    }
  }

  /** The namespace a connection from `source` ('client', a node name or `pod/<name>`) starts in. */
  namespaceOf(source: string): string {
    const ns = this.nsBySource.get(source);
    if (ns === undefined) throw new NetnsError(`no namespace for source "${source}"`);
    return ns;
  }

  nodeNamespace(nodeName: string): string {
    const ns = this.nsByNode.get(nodeName);
    if (ns === undefined) throw new NetnsError(`no namespace for node "${nodeName}"`);
    return ns;
  }

  /** Runs argv inside the namespace of `source`. */
  exec(source: string, argv: readonly string[], input?: string, timeoutMs?: number): Promise<RunResult> {
    return run(inNetns(this.namespaceOf(source), argv), { input, timeoutMs });
  }

  private track(ns: string): string {
    this.registration.namespaces.push(ns); // recorded before creation: a signal in between cannot leak it
    return ns;
  }

  private async build(): Promise<void> {
    const { spec, prefix } = this;
    const v6 = spec.family === 6;
    const hostLen = v6 ? 128 : 32;
    const gateway = v6 ? CALICO_GATEWAY6 : CALICO_GATEWAY;
    const lan = this.track(`${prefix}-lan`);
    const client = this.track(`${prefix}-client`);
    this.nsBySource.set('client', client);
    const nodeNs = spec.nodes.map((n, i) => {
      const ns = this.track(`${prefix}-n${i}`);
      this.nsBySource.set(n.name, ns);
      this.nsByNode.set(n.name, ns);
      return ns;
    });
    const podNs = spec.pods.map((p, k) => {
      const ns = this.track(`${prefix}-p${k}`);
      this.nsBySource.set(`pod/${p.name}`, ns);
      return ns;
    });
    const nodeIndex = new Map(spec.nodes.map((n, i) => [n.name, i]));
    for (const p of spec.pods) {
      if (!nodeIndex.has(p.nodeName))
        throw new NetnsError(`pod ${p.name} runs on unknown node "${p.nodeName}"`);
    }

    await runOk(['ip', '-batch', '-'], {
      input: this.registration.namespaces.map((n) => `netns add ${n}\n`).join(''),
    });

    // Links, created from here straight into the namespaces.
    const links = [`link add name eth0 netns ${client} type veth peer name c0 netns ${lan}`];
    nodeNs.forEach((ns, i) => {
      links.push(`link add name eth0 netns ${ns} type veth peer name n${i} netns ${lan}`);
    });
    spec.pods.forEach((p, k) => {
      const node = nodeNs[nodeIndex.get(p.nodeName)!];
      links.push(
        `link add name eth0 address ${podMac(k)} netns ${podNs[k]} type veth peer name cali${k} address ${CALICO_HOST_MAC} netns ${node}`,
      );
    });
    await runOk(['ip', '-batch', '-'], { input: `${links.join('\n')}\n` });

    // Namespace-local settings first (sysctls before the routes that depend on forwarding).
    const nodeSysctls = (
      v6
        ? [
            NO_DAD,
            'echo 1 > /proc/sys/net/ipv6/conf/all/forwarding',
            'echo 0 > /proc/sys/net/ipv6/icmp/ratelimit',
            // An empty mask also exempts the errors from the host-wide ICMP budget (icmp_msgs_per_sec).
            'echo > /proc/sys/net/ipv6/icmp/ratemask',
          ]
        : [
            'echo 1 > /proc/sys/net/ipv4/ip_forward',
            'for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > "$f"; done',
            'echo 0 > /proc/sys/net/ipv4/icmp_ratelimit',
            'echo 0 > /proc/sys/net/ipv4/icmp_ratemask',
          ]
    ).join('; ');
    await Promise.all([
      ...nodeNs.map((ns) => runOk(inNetns(ns, ['sh', '-c', nodeSysctls]))),
      ...(v6 ? [client, ...podNs].map((ns) => runOk(inNetns(ns, ['sh', '-c', NO_DAD]))) : []),
      // br_netfilter would otherwise run bridged frames through the lan namespace's (empty) netfilter.
      run(
        inNetns(lan, [
          'sh',
          '-c',
          `echo 0 > /proc/sys/net/bridge/bridge-nf-call-${v6 ? 'ip6tables' : 'iptables'}`,
        ]),
      ),
    ]);

    const hosts = [
      { ns: client, ip: spec.clientIP },
      ...spec.nodes.map((n, i) => ({ ns: nodeNs[i], ip: n.ip })),
    ];
    const batches: Promise<string>[] = [];
    const batch = (ns: string, lines: string[]) =>
      batches.push(
        runOk(['ip', ...(v6 ? ['-6'] : []), '-n', ns, '-batch', '-'], { input: `${lines.join('\n')}\n` }),
      );

    const lanLines = [
      'link set lo up',
      // MLD snooping could hold back the neighbour solicitations of a host not yet heard from.
      v6 ? 'link add br0 type bridge mcast_snooping 0' : 'link add br0 type bridge',
      'link set br0 up',
      'link set c0 master br0',
      'link set c0 up',
    ];
    nodeNs.forEach((_, i) => {
      lanLines.push(`link set n${i} master br0`, `link set n${i} up`);
    });
    batch(lan, lanLines);

    for (const h of hosts) {
      const lines = [
        'link set lo up',
        `addr add ${h.ip}/${hostLen} dev eth0${v6 ? ' nodad' : ''}`,
        'link set eth0 up',
      ];
      for (const other of hosts)
        if (other.ip !== h.ip)
          lines.push(`route add ${other.ip}/${hostLen} dev eth0${v6 ? '' : ' scope link'}`);
      if (h.ns === client) {
        for (const r of spec.clientRoutes) {
          const via = spec.nodes.find((n) => n.name === r.via);
          if (via === undefined) throw new NetnsError(`client route to ${r.ip} via unknown node "${r.via}"`);
          lines.push(`route add ${r.ip}/${hostLen} via ${via.ip} dev eth0`);
        }
      } else {
        lines.push(`route add ${v6 ? '::/0' : 'default'} via ${spec.clientIP} dev eth0`);
        const self = spec.nodes[nodeNs.indexOf(h.ns)];
        for (const other of spec.nodes) {
          if (other.name !== self.name && other.podCIDR !== '')
            lines.push(`route add ${other.podCIDR} via ${other.ip} dev eth0`);
        }
        spec.pods.forEach((p, k) => {
          if (p.nodeName !== self.name) return;
          lines.push(
            `link set cali${k} up`,
            `route add ${p.ip}/${hostLen} dev cali${k}${v6 ? '' : ' scope link'}`,
            `neigh replace ${p.ip} lladdr ${podMac(k)} dev cali${k} nud permanent`,
          );
        });
      }
      batch(h.ns, lines);
    }
    spec.pods.forEach((p, k) => {
      batch(podNs[k], [
        'link set lo up',
        `addr add ${p.ip}/${hostLen} dev eth0${v6 ? ' nodad' : ''}`,
        'link set eth0 up',
        // IPv6: a link-local gateway is on-link by definition (fe80::/64 on eth0).
        ...(v6 ? [] : [`route add ${gateway}/32 dev eth0 scope link`]),
        `route add ${v6 ? '::/0' : 'default'} via ${gateway} dev eth0`,
        `neigh replace ${gateway} lladdr ${CALICO_HOST_MAC} dev eth0 nud permanent`,
      ]);
    });
    await Promise.all(batches);

    await Promise.all(spec.pods.map((p, k) => this.startResponder(podNs[k], p)));
  }

  private startResponder(ns: string, pod: TopologyPod): Promise<void> {
    const config: ResponderConfig = {
      pod: pod.name,
      ports: [...new Set(pod.tcpPorts)],
      udpPorts: [...new Set(pod.udpPorts ?? [])],
      udpSinkPorts: [...new Set(pod.udpSinkPorts ?? [])],
      lifetimeMs: this.spec.responderLifetimeMs ?? 120_000,
      ...(this.spec.family === 6 ? { family: 6 as const } : {}),
    };
    if (config.ports.length + config.udpPorts!.length + config.udpSinkPorts!.length === 0)
      return Promise.resolve();
    // `ip netns exec` execs the command, so the pid is the responder itself.
    const child = spawn(
      'ip',
      inNetns(ns, [process.execPath, '-e', RESPONDER_SCRIPT, JSON.stringify(config)]).slice(1),
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    this.responders.push(child);
    const pid = child.pid;
    if (pid !== undefined) {
      this.registration.pids.push(pid);
      // Forget the pid once the process is gone, so teardown never signals a recycled pid.
      child.once('close', () => {
        const i = this.registration.pids.indexOf(pid);
        if (i >= 0) this.registration.pids.splice(i, 1);
      });
    }
    return new Promise((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => {
        reject(
          new NetnsError(
            `responder of pod ${pod.name} was not ready within ${READY_TIMEOUT_MS} ms: ${err.trim()}`,
          ),
        );
      }, READY_TIMEOUT_MS);
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('ready\n')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        err += d;
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new NetnsError(`cannot start the responder of pod ${pod.name}: ${e.message}`));
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new NetnsError(`responder of pod ${pod.name} exited with ${code}: ${err.trim()}`));
      });
    });
  }

  /** Removes every namespace (and so every link) and stops the responders. Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const running = this.responders.filter((c) => c.exitCode === null && c.signalCode === null);
    await Promise.all(
      running.map(
        (child) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              child.kill('SIGKILL');
              resolve();
            }, 1000);
            child.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            child.removeAllListeners('exit');
            child.kill('SIGTERM');
          }),
      ),
    );
    await run(['ip', '-force', '-batch', '-'], {
      input: this.registration.namespaces.map((n) => `netns del ${n}\n`).join(''),
    });
    const left = listOwnNamespaces().filter((n) => this.registration.namespaces.includes(n));
    if (left.length > 0) destroySync(left, this.registration.pids);
    unregister(this.registration);
  }
}
