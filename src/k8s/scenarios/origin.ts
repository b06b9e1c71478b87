/**
 * The origin scenario, embedded so the installed CLI never needs the fixtures folder.
 * The same text is in fixtures/origin.yaml (a test keeps them identical).
 *
 * A ReplicaSet of three "Hello World" web pods (each answers HTTP with `Hello World!` and its
 * pod name on container port 8080, named `http`) behind a NodePort Service, on the default
 * three-node kubespray cluster (no Cluster document needed).
 */
export const originScenarioYaml = `# dpsim origin scenario: 3 web pods behind a NodePort Service.
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: myweb-rs
  labels:
    app: web
    env: dev
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
      env: dev
  template:
    metadata:
      labels:
        app: web
        env: dev
    spec:
      containers:
        - name: myweb
          # dpsim does not run images: each pod's simulated app answers "Hello World!" + its pod name.
          image: hello-world-web:1.0
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
---
apiVersion: v1
kind: Service
metadata:
  name: myweb-svc-np
spec:
  type: NodePort
  selector:
    app: web
  ports:
    - port: 80
      targetPort: 8080
      protocol: TCP
`;

/** The origin scenario with the NodePort fixed at 31313 (fixtures/origin-nodeport-31313.yaml). */
export const originNodePort31313Yaml = originScenarioYaml
  .replace(
    '# dpsim origin scenario: 3 web pods behind a NodePort Service.',
    '# dpsim origin scenario, NodePort fixed at 31313.',
  )
  .replace('      targetPort: 8080\n', '      targetPort: 8080\n      nodePort: 31313\n');

/**
 * The origin scenario with its pods owned by a Deployment `myweb` instead of the bare
 * ReplicaSet, so it can be rolled out (`dpsim rollout`'s default scenario).
 */
export const originDeploymentYaml = originScenarioYaml
  .replace(
    '# dpsim origin scenario: 3 web pods behind a NodePort Service.',
    '# dpsim origin scenario as a Deployment: 3 web pods behind a NodePort Service.',
  )
  .replace('kind: ReplicaSet\nmetadata:\n  name: myweb-rs\n', 'kind: Deployment\nmetadata:\n  name: myweb\n');
