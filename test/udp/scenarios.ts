/**
 * The UDP scenario: on the default three-node cluster,
 *
 *   udp-echo   ClusterIP + NodePort 30053, UDP 53 → 5353 on three `dnsecho` pods, each
 *              answering a datagram with its pod name (the pods' UDP echo)
 *   udp-empty  ClusterIP, UDP 53, selector matching nothing (kube-proxy's REJECT)
 *   statsd     ClusterIP, UDP 8125 → one `statsd` pod whose port is a one-way sink
 *   udp-closed ClusterIP, UDP 53 → 5999 on the dnsecho pods, where nothing is bound (the pods
 *              answer ICMP port unreachable, which the node must un-DNAT, quote included)
 *   udp-client one pod (`app: udp-client`) to send from, pinned to node1
 */
export const UDP_YAML = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: dnsecho }
spec:
  replicas: 3
  selector: { matchLabels: { app: dnsecho } }
  template:
    metadata: { labels: { app: dnsecho } }
    spec:
      containers:
        - { name: echo, image: udp-echo:1.0, ports: [{ containerPort: 5353, protocol: UDP }] }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: statsd }
spec:
  replicas: 1
  selector: { matchLabels: { app: statsd } }
  template:
    metadata:
      labels: { app: statsd }
      annotations: { dpsim.io/udp-sink-ports: "8125" }
    spec:
      nodeName: node3
      containers:
        - { name: statsd, image: statsd:1.0, ports: [{ containerPort: 8125, protocol: UDP }] }
---
apiVersion: v1
kind: Pod
metadata: { name: udp-client, labels: { app: udp-client } }
spec:
  nodeName: node1
  containers:
    - { name: client, image: busybox:1.36 }
---
apiVersion: v1
kind: Service
metadata: { name: udp-echo }
spec:
  type: NodePort
  selector: { app: dnsecho }
  ports: [{ name: dns, port: 53, targetPort: 5353, protocol: UDP, nodePort: 30053 }]
---
apiVersion: v1
kind: Service
metadata: { name: udp-empty }
spec:
  selector: { app: nothing-runs-this }
  ports: [{ name: dns, port: 53, targetPort: 5353, protocol: UDP }]
---
apiVersion: v1
kind: Service
metadata: { name: udp-closed }
spec:
  selector: { app: dnsecho }
  ports: [{ name: dns, port: 53, targetPort: 5999, protocol: UDP }]
---
apiVersion: v1
kind: Service
metadata: { name: statsd }
spec:
  selector: { app: statsd }
  ports: [{ port: 8125, targetPort: 8125, protocol: UDP }]
`;
