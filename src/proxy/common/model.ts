/**
 * The one model of Services and Endpoints that every proxy mode compiles, as kube-proxy's
 * proxiers share `ServicePortMap` and `EndpointsMap` (pkg/proxy/serviceport.go, endpoint.go).
 *
 * The control plane (src/k8s) produces it from API objects; src/proxy/<mode>/compile.ts
 * turns it into that mode's tables. It is plain data, compared and copied freely: it is
 * the control-plane side, not the per-packet side.
 */

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';
export type TrafficPolicy = 'Cluster' | 'Local';

/** One endpoint of one service port, as kube-proxy's endpoint cache holds it. */
export interface Endpoint {
  /** Pod IP, dotted quad. */
  readonly ip: string;
  /** Resolved target port (a number even when the Service named it). */
  readonly port: number;
  /** Node the endpoint's pod runs on (EndpointSlice `nodeName`); '' when unknown. */
  readonly nodeName: string;
  /** EndpointSlice conditions, already defaulted as kube-proxy reads them (nil ready ⇒ true, …). */
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  /** Pod name for traces and the simulator's responders ('' for user-supplied slices without a targetRef). */
  readonly podName: string;
}

/**
 * One service port (kube-proxy works per port, not per Service). Identity is
 * (namespace, name, portName, protocol); `servicePortName` is kube-proxy's string form
 * `ns/name` plus `:portName` only when the port is named.
 */
export interface ServicePort {
  readonly namespace: string;
  readonly name: string;
  readonly portName: string;
  readonly protocol: Protocol;
  readonly servicePortName: string;
  readonly type: ServiceType;
  readonly clusterIP: string;
  readonly port: number;
  /** 0 when the port has no NodePort. */
  readonly nodePort: number;
  readonly externalIPs: readonly string[];
  /** status.loadBalancer.ingress[].ip (VIP mode only). */
  readonly loadBalancerIPs: readonly string[];
  /** Trimmed, valid CIDRs only. */
  readonly loadBalancerSourceRanges: readonly string[];
  readonly sessionAffinity: 'None' | 'ClientIP';
  /** sessionAffinityConfig.clientIP.timeoutSeconds (default 10800) when ClientIP, else 0. */
  readonly stickyMaxAgeSeconds: number;
  readonly externalTrafficPolicy: TrafficPolicy;
  readonly internalTrafficPolicy: TrafficPolicy;
  /** 0 unless type LoadBalancer with externalTrafficPolicy Local. */
  readonly healthCheckNodePort: number;
  /** All endpoints for this port, de-duplicated and sorted by the "ip:port" string (kube-proxy's order). */
  readonly endpoints: readonly Endpoint[];
}

export interface NodeInfo {
  readonly name: string;
  /** Primary node IP (InternalIP). */
  readonly ip: string;
  /** spec.podCIDR. */
  readonly podCIDR: string;
}

/** Everything a proxy mode needs to compile one node's rules. */
export interface ProxyModel {
  /** Sorted by servicePortName then protocol, so compilers are deterministic. */
  readonly servicePorts: readonly ServicePort[];
  readonly nodes: readonly NodeInfo[];
  /** --cluster-cidr: the local-traffic detector kube-proxy uses by default. */
  readonly clusterCIDR: string;
  /** --service-cluster-ip-range. */
  readonly serviceCIDR: string;
}
