/**
 * The behaviour scenario: one manifest with a Service for each behaviour under test, on the
 * default three-node cluster. The scheduler places `web`'s two replicas on node1 and node2
 * (least loaded, ties to the first node); `solo` is pinned to node1, so node3 runs no pod.
 *
 *   web-cluster  NodePort 30080, externalTrafficPolicy Cluster
 *   web-local    NodePort 30081, externalTrafficPolicy Local
 *   empty        NodePort 30082, selector matching nothing
 *   sticky       NodePort 30083, sessionAffinity ClientIP, 10 s
 *   lb-open      LoadBalancer, sourceRanges 192.168.100.0/24 (the client's network)
 *   lb-closed    LoadBalancer, sourceRanges 10.0.0.0/8 (pods only)
 *   solo         ClusterIP, one endpoint (solo's pod), for hairpin
 */
export const BEHAVIOUR_YAML = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - { name: web, image: hello-world-web:1.0, ports: [{ containerPort: 8080 }] }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: solo }
spec:
  replicas: 1
  selector: { matchLabels: { app: solo } }
  template:
    metadata: { labels: { app: solo } }
    spec:
      nodeName: node1
      containers:
        - { name: web, image: hello-world-web:1.0, ports: [{ containerPort: 8080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: web-cluster }
spec:
  type: NodePort
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }]
---
apiVersion: v1
kind: Service
metadata: { name: web-local }
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080, nodePort: 30081 }]
---
apiVersion: v1
kind: Service
metadata: { name: empty }
spec:
  type: NodePort
  selector: { app: nothing-runs-this }
  ports: [{ port: 80, targetPort: 8080, nodePort: 30082 }]
---
apiVersion: v1
kind: Service
metadata: { name: sticky }
spec:
  type: NodePort
  sessionAffinity: ClientIP
  sessionAffinityConfig: { clientIP: { timeoutSeconds: 10 } }
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080, nodePort: 30083 }]
---
apiVersion: v1
kind: Service
metadata: { name: lb-open }
spec:
  type: LoadBalancer
  loadBalancerSourceRanges: [192.168.100.0/24]
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080, nodePort: 30084 }]
---
apiVersion: v1
kind: Service
metadata: { name: lb-closed }
spec:
  type: LoadBalancer
  loadBalancerSourceRanges: [10.0.0.0/8]
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080, nodePort: 30085 }]
---
apiVersion: v1
kind: Service
metadata: { name: solo }
spec:
  selector: { app: solo }
  ports: [{ port: 80, targetPort: 8080 }]
`;

/**
 * A selector-less NodePort (30090) whose only endpoint is an address no pod holds: every SYN
 * goes unanswered and is retransmitted. Used by the NAT-once tests, in dpsim and in the kernel.
 */
export const BLACKHOLE_YAML = `
apiVersion: v1
kind: Service
metadata: { name: blackhole }
spec:
  type: NodePort
  ports: [{ name: http, port: 80, targetPort: 8080, nodePort: 30090 }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: blackhole-1
  labels: { kubernetes.io/service-name: blackhole }
addressType: IPv4
ports: [{ name: http, port: 8080, protocol: TCP }]
endpoints:
  - addresses: [10.233.65.250]
    conditions: { ready: true }
    nodeName: node2
`;

/** Three pods behind an SCTP NodePort Service (Diameter's port 3868, NodePort 30868). */
export const SCTP_YAML = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: sig }
spec:
  replicas: 3
  selector: { matchLabels: { app: sig } }
  template:
    metadata: { labels: { app: sig } }
    spec:
      containers:
        - { name: sig, image: hello-world-web:1.0, ports: [{ containerPort: 3868, protocol: SCTP }] }
---
apiVersion: v1
kind: Service
metadata: { name: diameter }
spec:
  type: NodePort
  selector: { app: sig }
  ports: [{ protocol: SCTP, port: 3868, targetPort: 3868, nodePort: 30868 }]
`;
