/**
 * The cluster DNS add-on as kubespray installs it (roles/kubernetes-apps/ansible, dns_mode:
 * coredns): a `coredns` Deployment in kube-system with `dns_min_replicas` (2) pods labelled
 * `k8s-app: kube-dns`, behind the `kube-dns` Service at the service range's third address
 * (`skydns_server`, 10.233.0.3 for 10.233.0.0/18) with ports 53/UDP `dns`, 53/TCP `dns-tcp`
 * and 9153/TCP `metrics`.
 *
 * dpsim adds it to every cluster it loads from manifests, after the user's objects (so their
 * generated names and addresses are the same with or without it), unless the manifests bring
 * their own kube-system/kube-dns Service. It lives in kube-system: `get` of the default
 * namespace does not show it, and the pods' resolv.conf points at it.
 */
import { formatIPv4, parseCidr } from '../util/ipv4.js';
import type { ApplyOutcome, Cluster, KubeObject } from './cluster.js';

export const DNS_NAMESPACE = 'kube-system';
export const DNS_SERVICE = 'kube-dns';
export const DNS_DEPLOYMENT = 'coredns';
/** Pod label of the CoreDNS pods (the Service's selector). */
export const DNS_APP_LABEL = { 'k8s-app': 'kube-dns' } as const;
/** kubespray's coredns_version. */
export const COREDNS_IMAGE = 'registry.k8s.io/coredns/coredns:v1.11.3';
/** kubespray's dns_min_replicas. */
export const COREDNS_REPLICAS = 2;
/** The kubelet's --cluster-domain in kubespray (dns_domain). */
export const CLUSTER_DOMAIN = 'cluster.local';

/** skydns_server: the third address of the service range. */
export function clusterDnsIP(serviceCIDR: string): string {
  return formatIPv4((parseCidr(serviceCIDR).network + 3) >>> 0);
}

export function clusterDnsObjects(serviceCIDR: string): KubeObject[] {
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: DNS_SERVICE,
      namespace: DNS_NAMESPACE,
      labels: {
        'k8s-app': 'kube-dns',
        'kubernetes.io/cluster-service': 'true',
        'kubernetes.io/name': 'coredns',
      },
      annotations: { 'prometheus.io/port': '9153', 'prometheus.io/scrape': 'true' },
    },
    spec: {
      selector: { ...DNS_APP_LABEL },
      clusterIP: clusterDnsIP(serviceCIDR),
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP' },
        { name: 'metrics', port: 9153, protocol: 'TCP' },
      ],
    },
  };
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: DNS_DEPLOYMENT, namespace: DNS_NAMESPACE, labels: { 'k8s-app': 'kube-dns' } },
    spec: {
      replicas: COREDNS_REPLICAS,
      selector: { matchLabels: { ...DNS_APP_LABEL } },
      template: {
        metadata: { labels: { ...DNS_APP_LABEL } },
        spec: {
          dnsPolicy: 'Default',
          containers: [
            {
              name: 'coredns',
              image: COREDNS_IMAGE,
              args: ['-conf', '/etc/coredns/Corefile'],
              ports: [
                { containerPort: 53, name: 'dns', protocol: 'UDP' },
                { containerPort: 53, name: 'dns-tcp', protocol: 'TCP' },
                { containerPort: 9153, name: 'metrics', protocol: 'TCP' },
              ],
            },
          ],
        },
      },
    },
  };
  return [service, deployment] as unknown as KubeObject[];
}

/** Adds the add-on unless the cluster already has a kube-system/kube-dns Service. */
export function installClusterDns(cluster: Cluster): ApplyOutcome[] {
  if (cluster.getService(DNS_SERVICE, DNS_NAMESPACE) !== undefined) return [];
  return clusterDnsObjects(cluster.config.serviceCIDR).map((o) =>
    cluster.applyObject(o, 'kubespray dns addon'),
  );
}

/** True for a pod of the add-on: its app is CoreDNS, not the HTTP responder. */
export function isCoreDnsPod(pod: { namespace: string; labels: Readonly<Record<string, string>> }): boolean {
  return pod.namespace === DNS_NAMESPACE && pod.labels['k8s-app'] === DNS_APP_LABEL['k8s-app'];
}

/**
 * The add-on's Service (kube-system/kube-dns). Its ports speak DNS, not HTTP: the HTTP-driven
 * tools (load, explore, churn) leave it out, as they leave out default/kubernetes.
 */
export function isDnsAddonService(namespace: string, name: string): boolean {
  return namespace === DNS_NAMESPACE && name === DNS_SERVICE;
}
