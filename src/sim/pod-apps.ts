/**
 * What runs inside each simulated pod. dpsim does not run container images; it starts one
 * simulated application per pod and decides from the pod spec which ports that application
 * listens on — as in Kubernetes, where `containerPort` is informational and the process in
 * the container decides where it listens (the origin scenario's go-myweb listens on 8080
 * whatever the manifest says).
 *
 * The rule, documented in the README ("What runs in a pod"):
 *  - every pod runs the HTTP responder that answers `Hello World!` and the pod name;
 *  - it listens on the image's default port (8080; 80 for nginx/httpd images) and on every
 *    TCP `containerPort` the containers declare;
 *  - the annotation `dpsim.io/listen-ports: "8080,9090"` replaces that list exactly;
 *  - a port nobody listens on answers a SYN with a RST (curl: (7)), as a Linux pod does;
 *  - every UDP `containerPort` gets the UDP echo (each datagram is answered with the pod
 *    name), except the ports `dpsim.io/udp-sink-ports` lists, where a one-way sink only counts
 *    (a statsd-like collector), and except in images that run their own UDP server (CoreDNS);
 *    a UDP port nobody binds answers with ICMP port unreachable, as a Linux pod does.
 */
import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import { DEFAULT_BODY_TEMPLATE } from '../apps/http-responder.js';
import { isPodReady, isPodTerminating } from '../k8s/controllers/pods.js';

/** Overrides the ports a pod's app listens on: a comma-separated list of TCP ports. */
export const LISTEN_PORTS_ANNOTATION = 'dpsim.io/listen-ports';

/** UDP ports where the pod runs a one-way sink instead of the echo: a comma-separated list. */
export const UDP_SINK_PORTS_ANNOTATION = 'dpsim.io/udp-sink-ports';

/** Images that serve UDP themselves (their server is simulated elsewhere): no UDP echo is started. */
const OWN_UDP_SERVER_IMAGES: ReadonlySet<string> = new Set(['coredns', 'k8s-dns-node-cache']);

/** The port the default app (the origin's go-myweb) listens on. */
export const DEFAULT_APP_PORT = 8080;

/**
 * Images whose server listens somewhere other than 8080 out of the box, by repository name
 * (the last path element, tag and digest dropped).
 */
const IMAGE_DEFAULT_PORTS: Readonly<Record<string, number>> = {
  nginx: 80,
  'nginx-unprivileged': 8080,
  httpd: 80,
};

/** A scheduled pod with an IP, as the simulator's app and topology need it. */
export interface PodAppInfo {
  readonly name: string;
  readonly namespace: string;
  readonly nodeName: string;
  readonly ip: string;
  readonly ready: boolean;
  readonly terminating: boolean;
  readonly labels: Readonly<Record<string, string>>;
  /** The TCP ports the pod's app listens on, ascending. */
  readonly tcpPorts: readonly number[];
  /** UDP ports answered by the echo (the pod name per datagram), ascending. */
  readonly udpEchoPorts: readonly number[];
  /** UDP ports with a one-way sink (counts only), ascending. */
  readonly udpSinkPorts: readonly number[];
  /** The HTTP body template (`{podName}` is substituted): "Hello World!\n{podName}\n". */
  readonly bodyTemplate: string;
}

export class PodAppError extends Error {
  override name = 'PodAppError';
}

/** The repository part of an image reference: `docker.io/library/nginx:1.27` → `nginx`. */
export function imageRepository(image: string): string {
  const noDigest = image.split('@')[0] ?? '';
  const last = noDigest.slice(noDigest.lastIndexOf('/') + 1);
  const colon = last.indexOf(':');
  return colon < 0 ? last : last.slice(0, colon);
}

function udpAppPorts(pod: Pod): { udpEchoPorts: number[]; udpSinkPorts: number[] } {
  const { echo, sink } = udpPortsOf(pod);
  return { udpEchoPorts: echo, udpSinkPorts: sink };
}

function parseListenPorts(pod: Pod, text: string): number[] {
  return parsePortList(pod, LISTEN_PORTS_ANNOTATION, text);
}

function parsePortList(pod: Pod, annotation: string, text: string): number[] {
  const ports: number[] = [];
  for (const part of text.split(',')) {
    const t = part.trim();
    if (t === '') continue;
    const n = Number(t);
    if (!/^\d+$/.test(t) || n < 1 || n > 65535)
      throw new PodAppError(
        `pod ${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name ?? ''}: annotation ${annotation} "${text}": "${t}" is not a port number (1-65535)`,
      );
    ports.push(n);
  }
  return ports;
}

function defaultPort(containers: readonly Container[]): number {
  for (const c of containers) {
    const p = IMAGE_DEFAULT_PORTS[imageRepository(c.image ?? '')];
    if (p !== undefined) return p;
  }
  return DEFAULT_APP_PORT;
}

/** The TCP ports a pod's app listens on, ascending and distinct. */
export function listenPortsOf(pod: Pod): number[] {
  const override = pod.metadata?.annotations?.[LISTEN_PORTS_ANNOTATION];
  const ports = new Set<number>();
  if (override !== undefined) {
    for (const p of parseListenPorts(pod, override)) ports.add(p);
  } else {
    const containers = pod.spec?.containers ?? [];
    ports.add(defaultPort(containers));
    for (const c of containers)
      for (const p of c.ports ?? []) if ((p.protocol ?? 'TCP') === 'TCP') ports.add(p.containerPort);
  }
  return [...ports].sort((a, b) => a - b);
}

/** The UDP ports of a pod's app: echo ports and sink ports, each ascending and distinct. */
export function udpPortsOf(pod: Pod): { echo: number[]; sink: number[] } {
  const containers = pod.spec?.containers ?? [];
  const declared = new Set<number>();
  for (const c of containers) {
    if (OWN_UDP_SERVER_IMAGES.has(imageRepository(c.image ?? ''))) continue;
    for (const p of c.ports ?? []) if (p.protocol === 'UDP') declared.add(p.containerPort);
  }
  const sinkText = pod.metadata?.annotations?.[UDP_SINK_PORTS_ANNOTATION];
  const sink = new Set(sinkText === undefined ? [] : parsePortList(pod, UDP_SINK_PORTS_ANNOTATION, sinkText));
  const echo = [...declared].filter((p) => !sink.has(p));
  return { echo: echo.sort((a, b) => a - b), sink: [...sink].sort((a, b) => a - b) };
}

/** The app of one pod, or undefined while it has no node or IP (Pending). */
export function podAppOf(pod: Pod): PodAppInfo | undefined {
  const ip = pod.status?.podIP;
  const nodeName = pod.spec?.nodeName;
  const name = pod.metadata?.name;
  if (ip === undefined || nodeName === undefined || name === undefined) return undefined;
  return {
    name,
    namespace: pod.metadata?.namespace ?? 'default',
    nodeName,
    ip,
    ready: isPodReady(pod),
    terminating: isPodTerminating(pod),
    labels: { ...(pod.metadata?.labels ?? {}) },
    tcpPorts: listenPortsOf(pod),
    ...udpAppPorts(pod),
    bodyTemplate: DEFAULT_BODY_TEMPLATE,
  };
}

/** Every scheduled pod's app, in the order given (the cluster's pods() are sorted by namespace/name). */
export function podApps(pods: Iterable<Pod>): PodAppInfo[] {
  const out: PodAppInfo[] = [];
  for (const pod of pods) {
    const app = podAppOf(pod);
    if (app !== undefined) out.push(app);
  }
  return out;
}
