/**
 * Build time of `dpsim explore`: runs the simulator once per proxy mode and records, for
 * every way into every TCP service port (its ClusterIP, and each node's IP with the
 * NodePort), one traced curl from the client — the request's and the reply's hops with the
 * rules they matched, the frames the capture holds for each hop, the NAT each node applied,
 * the connection's conntrack entries — plus each node's rule dump and a load run's
 * per-backend distribution beside the rules' own probabilities.
 */

import { readCapture } from '../capture/index.js';
import { isDnsAddonService } from '../k8s/cluster-dns-addon.js';
import type { ProxyMode } from '../proxy/common/datapath.js';
import { podApps } from '../sim/pod-apps.js';
import type { Simulation } from '../sim/simulation.js';
import type { Host } from '../topology/host.js';
import type { TraceStep } from '../trace/packet-trace.js';
import { runLoad } from '../traffic/index.js';
import { formatIPv4 } from '../util/ipv4.js';
import { decodeFrame, findLayer, formatMac, formatTcpFlags } from '../wire/index.js';
import type {
  DistributionView,
  HopView,
  HostView,
  ModeView,
  NatView,
  PacketView,
  PathView,
  RuleHitView,
  ServicePortView,
  TopologyView,
} from './model.js';
import { ruleProbabilities } from './probabilities.js';
import { ebpfConntrackLines, ebpfLookupHits, nftVmapElementLines, ruleLines } from './rule-lines.js';

export interface CollectOptions {
  /** A fresh simulation of the scenario in `mode` (capture on when asked). */
  readonly simulate: (mode: ProxyMode, capture: boolean) => Promise<Simulation>;
  /** New connections in the load run behind the distribution view. */
  readonly loadFlows: number;
  readonly seed: number;
  readonly captureFile: (mode: ProxyMode) => string;
}

export interface CollectedMode {
  readonly view: ModeView;
  readonly capture: Uint8Array;
}

const DUMP_TOOL: Record<string, string> = {
  iptables: 'iptables-save',
  nftables: 'nft list table ip kube-proxy',
  ipvs: 'ipvsadm -Ln, then iptables-save',
  ebpf: 'bpftool map dump',
};

function hostView(host: Host, podOfVeth: Map<string, string>): HostView {
  return {
    name: host.name,
    ip: formatIPv4(host.interfaces[0]?.addr ?? 0),
    interfaces: host.interfaces.map((i) => ({
      id: i.qualifiedName,
      name: i.name,
      addr: formatIPv4(i.addr),
      mac: formatMac(i.mac),
      ...(podOfVeth.has(i.qualifiedName) ? { podKey: podOfVeth.get(i.qualifiedName)! } : {}),
    })),
  };
}

function topologyView(sim: Simulation): TopologyView {
  const t = sim.topology;
  const podOfVeth = new Map<string, string>();
  for (const [key, veth] of t.podVeths) podOfVeth.set(veth.qualifiedName, key);
  const nodeInfo = new Map(sim.model.nodes.map((n) => [n.name, n]));
  const podNodes = new Map(podApps(sim.cluster.pods()).map((p) => [`${p.namespace}/${p.name}`, p.nodeName]));
  return {
    client: hostView(t.client, podOfVeth),
    nodes: [...t.nodes.values()].map((n) => ({
      ...hostView(n, podOfVeth),
      podCIDR: nodeInfo.get(n.name)?.podCIDR ?? '',
    })),
    pods: [...t.pods].map(([key, pod]) => ({
      ...hostView(pod, podOfVeth),
      key,
      namespace: key.split('/')[0],
      node: podNodes.get(key) ?? '',
    })),
  };
}

/** A captured frame as the page shows it: addresses after any NAT, TCP flags, tcpdump's line. */
function packetView(frame: number, data: Uint8Array): PacketView {
  const decoded = decodeFrame(data);
  const ip = findLayer(decoded.layers, 'ipv4');
  const tcp = findLayer(decoded.layers, 'tcp');
  const udp = findLayer(decoded.layers, 'udp');
  const sport = tcp?.repr.srcPort ?? udp?.repr.srcPort;
  const dport = tcp?.repr.dstPort ?? udp?.repr.dstPort;
  const at = (addr: string, port: number | undefined) => (port === undefined ? addr : `${addr}:${port}`);
  return {
    frame,
    src: ip === undefined ? '' : at(formatIPv4(ip.repr.src), sport),
    dst: ip === undefined ? '' : at(formatIPv4(ip.repr.dst), dport),
    flags: tcp === undefined ? '' : formatTcpFlags(tcp.repr.flags),
    line: decoded.line,
  };
}

interface TracedConnection {
  readonly steps: readonly TraceStep[];
  readonly firstFrame: number;
  readonly lastFrame: number;
  readonly exitCode: number;
  readonly answer: string;
  readonly servedBy: string;
}

/** The first packet's hops (to its delivery or drop), then the answer's hops back to `from`. */
function splitExchange(steps: readonly TraceStep[], from: string): [TraceStep[], TraceStep[]] {
  const request: TraceStep[] = [];
  let i = 0;
  for (; i < steps.length; i++) {
    request.push(steps[i]);
    if (steps[i].stage === 'drop' || (steps[i].stage === 'deliver' && steps[i].host !== from)) break;
  }
  const reply: TraceStep[] = [];
  if (request.at(-1)?.stage === 'deliver') {
    for (i++; i < steps.length; i++) {
      reply.push(steps[i]);
      if (steps[i].stage === 'drop' || (steps[i].stage === 'deliver' && steps[i].host === from)) break;
    }
  }
  return [request, reply];
}

/** Each node's NAT from the frames: the packet's addresses in on one interface and out on the next. */
function natFromHops(hops: readonly HopView[], leg: 'request' | 'reply'): NatView[] {
  const nat: NatView[] = [];
  let inbound: HopView | null = null;
  for (const h of hops) {
    if (h.packet === undefined) continue;
    if (h.stage.startsWith('rx ')) inbound = h;
    else if (h.stage.startsWith('tx ') && inbound !== null && inbound.host === h.host) {
      const a = inbound.packet!;
      const b = h.packet;
      if (a.dst !== b.dst) nat.push({ host: h.host, kind: 'DNAT', from: a.dst, to: b.dst, leg });
      if (a.src !== b.src) nat.push({ host: h.host, kind: 'SNAT', from: a.src, to: b.src, leg });
      inbound = null;
    }
  }
  return nat;
}

/** eBPF: conntrack lines come from the CT map dump, keyed like the datapath keys them. */
function conntrackOfConnection(
  sim: Simulation,
  mode: ProxyMode,
  packets: readonly PacketView[],
  firstRx: PacketView | undefined,
  firstTx: PacketView | undefined,
): Map<string, string> {
  const out = new Map<string, string>();
  const endpoints = new Set<string>();
  for (const p of packets) endpoints.add(p.src).add(p.dst);
  for (const node of sim.topology.nodes.keys()) {
    if (mode === 'ebpf') {
      if (firstRx === undefined || firstTx === undefined) continue;
      // `cilium-dbg bpf ct list global` (what dpsim conntrack -L prints in eBPF mode): the
      // entries naming the client's address and port; the raw CT map entries otherwise.
      const [clientIp, clientPort] = firstRx.src.split(':');
      const port = new RegExp(`:${clientPort}\\b`);
      const listed = sim
        .conntrackList(node)
        .split('\n')
        .filter((l) => l.startsWith('TCP ') && l.includes(`${clientIp}:`) && port.test(l));
      const lines =
        listed.length > 0
          ? listed
          : ebpfConntrackLines(sim.rules(node).split('\n'), firstRx.dst, firstTx.dst, firstRx.src);
      if (lines.length > 0) out.set(node, lines.join('\n'));
      continue;
    }
    const lines = sim
      .conntrackList(node)
      .split('\n')
      .filter((line) => {
        const m = /src=(\S+) dst=\S+ sport=(\d+)/.exec(line);
        return m !== null && endpoints.has(`${m[1]}:${m[2]}`);
      });
    if (lines.length > 0) out.set(node, lines.join('\n'));
  }
  return out;
}

function serviceViews(sim: Simulation): {
  views: ServicePortView[];
  urls: { sp: number; entry: string; kind: 'ClusterIP' | 'NodePort'; target: string }[];
} {
  const views: ServicePortView[] = [];
  const urls: { sp: number; entry: string; kind: 'ClusterIP' | 'NodePort'; target: string }[] = [];
  const podByIp = new Map<string, string>();
  for (const p of podApps(sim.cluster.pods())) podByIp.set(p.ip, `${p.namespace}/${p.name}`);
  for (const sp of sim.model.servicePorts) {
    // The cluster DNS add-on's TCP ports speak DNS, not HTTP: no curl path for them.
    if (sp.protocol !== 'TCP' || isDnsAddonService(sp.namespace, sp.name)) continue;
    const index = views.length;
    if (sp.clusterIP !== '' && sp.clusterIP !== 'None')
      urls.push({ sp: index, entry: 'clusterIP', kind: 'ClusterIP', target: `${sp.clusterIP}:${sp.port}` });
    if (sp.nodePort > 0)
      for (const n of sim.model.nodes)
        urls.push({ sp: index, entry: n.name, kind: 'NodePort', target: `${n.ip}:${sp.nodePort}` });
    views.push({
      id: sp.servicePortName,
      namespace: sp.namespace,
      name: sp.name,
      portName: sp.portName,
      type: sp.type,
      protocol: sp.protocol,
      clusterIP: sp.clusterIP,
      port: sp.port,
      nodePort: sp.nodePort,
      endpoints: sp.endpoints.map((e) => ({
        ip: e.ip,
        port: e.port,
        pod:
          podByIp.get(e.ip) ??
          (e.podName !== ''
            ? `${sp.namespace}/${e.podName}`
            : e.nodeName !== ''
              ? `${e.nodeName} (host network)`
              : e.ip),
      })),
      entries: [],
    });
  }
  return { views, urls };
}

export async function collectMode(mode: ProxyMode, options: CollectOptions): Promise<CollectedMode> {
  const sim = await options.simulate(mode, true);
  const capture = sim.capture;
  if (capture === null) throw new Error('explore needs a simulation with capture on');
  const { views: services, urls } = serviceViews(sim);
  const traced: TracedConnection[] = [];
  for (const u of urls) {
    const first = capture.frames + 1;
    const { outcome, tracer } = sim.trace({ from: 'client', url: `http://${u.target}/` });
    traced.push({
      steps: tracer.steps,
      firstFrame: first,
      lastFrame: capture.frames,
      exitCode: outcome.exitCode,
      answer: outcome.exitCode === 0 ? outcome.stdout : outcome.stderr,
      servedBy: outcome.servedBy === undefined ? '' : outcome.servedBy.pod,
    });
  }
  const dumps: Record<string, string[]> = {};
  for (const node of sim.topology.nodes.keys()) dumps[node] = sim.rules(node).split('\n');

  const pcapng = capture.toBuffer();
  const file = readCapture(pcapng);
  const ifaceName = file.interfaces.map((i) => i.name ?? '');
  const podKeys = [...sim.topology.pods.keys()];
  const podKeyOf = (name: string) => podKeys.find((k) => k.endsWith(`/${name}`)) ?? name;

  const paths: PathView[] = [];
  for (let p = 0; p < urls.length; p++) {
    const u = urls[p];
    const t = traced[p];
    // Frames of this connection per interface, in capture order: the tracer's rx/tx steps
    // on an interface happen in the same order as the capture's records on it.
    const queues = new Map<string, number[]>();
    for (let f = t.firstFrame; f <= t.lastFrame; f++) {
      const name = ifaceName[file.packets[f - 1].interfaceId];
      const q = queues.get(name) ?? [];
      q.push(f);
      queues.set(name, q);
    }
    const toHop = (s: TraceStep): HopView => {
      const io = /^(rx|tx) (\S+)$/.exec(s.stage);
      const iface = io === null ? undefined : `${s.host}/${io[2]}`;
      const frame = iface === undefined ? undefined : queues.get(iface)?.shift();
      const dump = dumps[s.host] ?? [];
      const rules: RuleHitView[] = s.rules.map((r, i) => {
        const lines = ruleLines(dump, r);
        // A verdict-map dispatch: also the map element that sent it to the next chain.
        const next = s.rules[i + 1];
        if (r.table === 'ip kube-proxy' && next !== undefined)
          lines.push(...nftVmapElementLines(dump, r.ruleText, next.chain));
        return { table: r.table, chain: r.chain, text: r.ruleText, lines };
      });
      return {
        host: s.host,
        stage: s.stage,
        detail: s.detail,
        timeUs: Math.round(s.timeNs / 1000),
        ...(iface !== undefined ? { iface } : {}),
        ...(frame !== undefined ? { packet: packetView(frame, file.packets[frame - 1].data) } : {}),
        rules,
      };
    };
    const [reqSteps, replySteps] = splitExchange(t.steps, 'client');
    const request = reqSteps.map(toHop);
    const reply = replySteps.map(toHop);
    const nat = [...natFromHops(request, 'request'), ...natFromHops(reply, 'reply')];
    const packets = [...request, ...reply].flatMap((h) => (h.packet === undefined ? [] : [h.packet]));
    if (mode === 'ebpf') attachEbpfLookups(request, dumps);
    const firstNodeRx = request.find((h) => h.stage.startsWith('rx ') && h.host !== 'client')?.packet;
    const nodeHost = request.find((h) => h.stage.startsWith('rx ') && h.host !== 'client')?.host;
    const firstNodeTx = request.find((h) => h.stage.startsWith('tx ') && h.host === nodeHost)?.packet;
    const conntrack = conntrackOfConnection(sim, mode, packets, firstNodeRx, firstNodeTx);
    services[u.sp] = {
      ...services[u.sp],
      entries: [
        ...services[u.sp].entries,
        { entry: u.entry, kind: u.kind, target: u.target, path: paths.length },
      ],
    };
    paths.push({
      service: services[u.sp].id,
      entry: u.entry,
      from: 'client',
      url: `http://${u.target}/`,
      exitCode: t.exitCode,
      answer: t.answer,
      servedBy: t.servedBy === '' ? '' : podKeyOf(t.servedBy),
      request,
      reply,
      nat,
      conntrack: [...conntrack].map(([node, text]) => ({ node, lines: text.split('\n') })),
      frames: { first: t.firstFrame, last: t.lastFrame },
    });
  }
  await capture.close();

  const distributions = await distributionViews(mode, options, services, dumps);
  return {
    view: {
      mode,
      dumpTool: DUMP_TOOL[mode] ?? mode,
      captureFile: options.captureFile(mode),
      captureFrames: file.packets.length,
      topology: topologyView(sim),
      services,
      dumps,
      paths,
      distributions,
    },
    capture: pcapng,
  };
}

/**
 * eBPF mode: the programs report their verdict, not the map entries they read; the entries
 * the first packet used are found in the node's map dump by the packet's own bytes and
 * added to the hop where the node's program ran on it.
 */
function attachEbpfLookups(request: HopView[], dumps: Record<string, string[]>): void {
  const rx = request.find((h) => h.stage.startsWith('rx ') && h.host !== 'client');
  if (rx?.packet === undefined) return;
  const tx = request.find((h) => h.stage.startsWith('tx ') && h.host === rx.host);
  if (tx?.packet === undefined) return;
  const hits = ebpfLookupHits(dumps[rx.host] ?? [], rx.packet.dst, tx.packet.dst, rx.packet.src);
  const at = request.findIndex((h) => h.host === rx.host && h.rules.some((r) => r.table === 'bpf'));
  const index = at >= 0 ? at : request.indexOf(rx);
  const hop = request[index];
  request[index] = { ...hop, rules: [...hop.rules, ...hits] };
}

async function distributionViews(
  mode: ProxyMode,
  options: CollectOptions,
  services: readonly ServicePortView[],
  dumps: Record<string, string[]>,
): Promise<DistributionView[]> {
  const sim = await options.simulate(mode, false);
  const report = runLoad(sim, {
    flows: options.loadFlows,
    packets: options.loadFlows * 3,
    seed: options.seed,
  });
  const firstNode = Object.keys(dumps)[0];
  const out: DistributionView[] = [];
  for (const svc of services) {
    const sp = sim.model.servicePorts.find((s) => s.servicePortName === svc.id && s.protocol === 'TCP');
    if (sp === undefined || sp.endpoints.length === 0) continue;
    const probs = ruleProbabilities(mode, dumps[firstNode] ?? [], sp);
    const observed = report.services.find((s) => s.service === svc.id);
    const total = observed?.backends.reduce((a, b) => a + b.flows, 0) ?? 0;
    out.push({
      service: svc.id,
      ruleSource: probs.source,
      flows: total,
      backends: svc.endpoints.map((e) => {
        const got = observed?.backends.find((b) => b.pod === e.pod)?.flows ?? 0;
        return {
          pod: e.pod,
          endpoint: `${e.ip}:${e.port}`,
          ruleProbability: probs.byEndpoint.get(`${e.ip}:${e.port}`) ?? 0,
          observedShare: total > 0 ? got / total : 0,
          observedFlows: got,
        };
      }),
    });
  }
  return out;
}
