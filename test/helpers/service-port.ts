/**
 * The one hand-built `ServicePort` / `Endpoint` builder of the test suite (the per-mode test
 * helpers in test/proxy/* only choose their own defaults around it). It fills every field
 * with kube-proxy's default for a Service that does not set it, so a test names only what
 * it is about; the control plane in src/k8s is not involved.
 */
import type { Endpoint, ServicePort } from '../../src/proxy/common/model.js';

export interface EndpointSpec {
  readonly ip: string;
  readonly port: number;
  readonly nodeName?: string;
  /** Default true. */
  readonly ready?: boolean;
  /** Default: `ready`. */
  readonly serving?: boolean;
  /** Default false. */
  readonly terminating?: boolean;
  /** Default ''. */
  readonly podName?: string;
}

export function endpoint(spec: EndpointSpec): Endpoint {
  const ready = spec.ready ?? true;
  return {
    ip: spec.ip,
    port: spec.port,
    nodeName: spec.nodeName ?? '',
    ready,
    serving: spec.serving ?? ready,
    terminating: spec.terminating ?? false,
    podName: spec.podName ?? '',
  };
}

export type ServicePortSpec = Partial<Omit<ServicePort, 'servicePortName' | 'endpoints'>> &
  Pick<ServicePort, 'name' | 'clusterIP'> & {
    readonly endpoints?: readonly EndpointSpec[];
    /**
     * Order the endpoints by their "ip:port" string, as kube-proxy's endpoints cache hands
     * them to the proxier (default true); false keeps the order given.
     */
    readonly sortEndpoints?: boolean;
  };

const byIpPort = (a: Endpoint, b: Endpoint): number => {
  const ka = `${a.ip}:${a.port}`;
  const kb = `${b.ip}:${b.port}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
};

/**
 * A ServicePort with kube-proxy's defaults: namespace `default`, port 80, TCP, no port
 * name, type ClusterIP, no node port / external IPs / LB IPs / source ranges, session
 * affinity None (ClientIP: 10800 s unless given), both traffic policies Cluster.
 */
export function servicePort(spec: ServicePortSpec): ServicePort {
  const { sortEndpoints = true, endpoints: endpointSpecs = [], ...fields } = spec;
  const namespace = fields.namespace ?? 'default';
  const portName = fields.portName ?? '';
  const sessionAffinity = fields.sessionAffinity ?? 'None';
  const endpoints = endpointSpecs.map(endpoint);
  if (sortEndpoints) endpoints.sort(byIpPort);
  return {
    protocol: 'TCP',
    type: 'ClusterIP',
    port: 80,
    nodePort: 0,
    externalIPs: [],
    loadBalancerIPs: [],
    loadBalancerSourceRanges: [],
    stickyMaxAgeSeconds: sessionAffinity === 'ClientIP' ? 10800 : 0,
    externalTrafficPolicy: 'Cluster',
    internalTrafficPolicy: 'Cluster',
    healthCheckNodePort: 0,
    ...fields,
    namespace,
    portName,
    sessionAffinity,
    servicePortName: `${namespace}/${fields.name}${portName === '' ? '' : `:${portName}`}`,
    endpoints,
  };
}
