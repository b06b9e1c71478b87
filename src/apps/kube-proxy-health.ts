/**
 * The HTTP health servers a node's service proxy runs, answering as the real daemons do
 * (cloud load balancers decide by them):
 *
 * - kube-proxy's proxy healthz on :10256 (`/healthz`, `/livez`; Go's ServeMux 404 elsewhere),
 *   body `{"lastUpdated": "…","currentTime": "…", "nodeEligible": true}` with Go's
 *   `time.Time` formatting (monotonic reading included);
 * - kube-proxy's per-Service server on a Service's `healthCheckNodePort` (externalTrafficPolicy
 *   Local LoadBalancer Services): 200 with the number of local ready endpoints, 503 when there
 *   is none, in kube-proxy's tab-indented JSON;
 * - Cilium's equivalent (eBPF mode), whose compact JSON drops `serviceProxyHealthy` and adds an
 *   `X-Load-Balancing-Endpoint-Weight` header.
 *
 * Sources: kubernetes pkg/proxy/healthcheck (proxy_health.go, service_health.go) and Cilium's
 * load-balancer health server.
 */
import type { HttpReply } from './http-responder.js';
import type { RequestHead } from './http1.js';

/** kube-proxy's --healthz-bind-address port. */
export const KUBE_PROXY_HEALTHZ_PORT = 10256;

const JSON_HEADERS: readonly (readonly [string, string])[] = [
  ['Content-Type', 'application/json'],
  ['X-Content-Type-Options', 'nosniff'],
];

/** Go's `http.NotFound`, what a ServeMux answers for a path it has no handler for. */
const GO_NOT_FOUND: HttpReply = {
  status: 404,
  headers: [
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['X-Content-Type-Options', 'nosniff'],
  ],
  body: '404 page not found\n',
};

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/**
 * Go's `time.Time.String()` for a UTC wall time from `time.Now()`:
 * `2025-06-01 12:00:05.0001 +0000 UTC m=+305.000100000` — fractional seconds without trailing
 * zeros (none at all on a whole second), then the monotonic clock reading since process start.
 */
export function goTimeString(wallNs: bigint, monotonicNs: bigint): string {
  const seconds = wallNs / 1_000_000_000n;
  const fraction = wallNs % 1_000_000_000n;
  const d = new Date(Number(seconds) * 1000);
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  const frac = fraction === 0n ? '' : `.${fraction.toString().padStart(9, '0').replace(/0+$/, '')}`;
  const mono = `m=+${monotonicNs / 1_000_000_000n}.${(monotonicNs % 1_000_000_000n).toString().padStart(9, '0')}`;
  return `${date} ${time}${frac} +0000 UTC ${mono}`;
}

/** The request's path without its query, as Go's ServeMux matches it. */
function pathOf(request: RequestHead): string {
  const q = request.target.indexOf('?');
  return q < 0 ? request.target : request.target.slice(0, q);
}

export interface ProxyHealthzOptions {
  /** The wall clock now, ns since the epoch. */
  readonly wallNs: () => bigint;
  /** When kube-proxy started, ns since the epoch (the origin of Go's monotonic reading). */
  readonly startedWallNs: bigint;
}

/**
 * kube-proxy's :10256 server. dpsim's proxier applies every change synchronously, so it is
 * always healthy (no queued update is ever late) and the node always eligible (no
 * ToBeDeletedByClusterAutoscaler taint, no deletion): 200, and `lastUpdated` equals
 * `currentTime`, as kube-proxy reports a healthy proxier.
 */
export function proxyHealthzHandler(options: ProxyHealthzOptions): (request: RequestHead) => HttpReply {
  return (request) => {
    const path = pathOf(request);
    if (path !== '/healthz' && path !== '/livez') return GO_NOT_FOUND;
    const now = options.wallNs();
    const time = JSON.stringify(goTimeString(now, now - options.startedWallNs));
    const body =
      path === '/healthz'
        ? `{"lastUpdated": ${time},"currentTime": ${time}, "nodeEligible": true}`
        : `{"lastUpdated": ${time},"currentTime": ${time}}`;
    return { status: 200, headers: JSON_HEADERS, body };
  };
}

export interface ServiceHealthOptions {
  readonly namespace: string;
  readonly name: string;
  /** Local ready endpoints of the Service on this node, read at request time. */
  readonly localEndpoints: () => number;
}

/** kube-proxy's per-Service health check server (every path answers). */
export function kubeProxyServiceHealthHandler(options: ServiceHealthOptions): () => HttpReply {
  return () => {
    const count = options.localEndpoints();
    // kube-proxy prints a dedented tab-indented template, without a final newline.
    const body = [
      '{',
      '\t"service": {',
      `\t\t"namespace": ${JSON.stringify(options.namespace)},`,
      `\t\t"name": ${JSON.stringify(options.name)}`,
      '\t},',
      `\t"localEndpoints": ${count},`,
      '\t"serviceProxyHealthy": true',
      '}',
    ].join('\n');
    return { status: count !== 0 ? 200 : 503, headers: JSON_HEADERS, body };
  };
}

/** Cilium's per-Service health server (eBPF mode): json.Encoder output, so a final newline. */
export function ciliumServiceHealthHandler(options: ServiceHealthOptions): () => HttpReply {
  return () => {
    const count = options.localEndpoints();
    const body = `${JSON.stringify({
      service: { namespace: options.namespace, name: options.name },
      localEndpoints: count,
    })}\n`;
    return {
      status: count !== 0 ? 200 : 503,
      headers: [...JSON_HEADERS, ['X-Load-Balancing-Endpoint-Weight', String(count)]],
      body,
    };
  };
}
