import type { Service } from 'kubernetes-types/core/v1.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Cluster } from '../../src/k8s/cluster.js';

function svc(yaml: string): Service {
  return { apiVersion: 'v1', kind: 'Service', ...parse(yaml) } as Service;
}

/** Applies a Service to a fresh default cluster and returns the outcome message. */
function applyMessage(yaml: string, cluster = new Cluster()): string {
  return cluster.applyObject(svc(yaml), 'svc.yaml').message;
}

const DNS1035 =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, " +
  "and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

describe('Service validation messages (exact kubectl text)', () => {
  it('accepts a valid NodePort Service', () => {
    expect(applyMessage('metadata: {name: web}\nspec: {type: NodePort, ports: [{port: 80}]}')).toBe(
      'service/web created',
    );
  });

  it('rejects an already allocated nodePort', () => {
    const c = new Cluster();
    expect(
      applyMessage('metadata: {name: a}\nspec: {type: NodePort, ports: [{port: 80, nodePort: 31313}]}', c),
    ).toBe('service/a created');
    expect(
      applyMessage(
        'metadata: {name: myweb-svc-np}\nspec: {type: NodePort, ports: [{port: 80, nodePort: 31313}]}',
        c,
      ),
    ).toBe(
      'The Service "myweb-svc-np" is invalid: spec.ports[0].nodePort: Invalid value: 31313: provided port is already allocated',
    );
  });

  it('rejects a nodePort outside --service-node-port-range', () => {
    expect(
      applyMessage('metadata: {name: web}\nspec: {type: NodePort, ports: [{port: 80, nodePort: 80}]}'),
    ).toBe(
      'The Service "web" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767',
    );
  });

  it('reports NodePort exhaustion as the apiserver InternalError', () => {
    const c = new Cluster({ serviceNodePortRange: '30000-30001' });
    expect(applyMessage('metadata: {name: a}\nspec: {type: NodePort, ports: [{port: 80}]}', c)).toBe(
      'service/a created',
    );
    expect(applyMessage('metadata: {name: b}\nspec: {type: NodePort, ports: [{port: 80}]}', c)).toBe(
      'service/b created',
    );
    expect(applyMessage('metadata: {name: c}\nspec: {type: NodePort, ports: [{port: 80}]}', c)).toBe(
      'Error from server (InternalError): error when creating "svc.yaml": Internal error occurred: failed to allocate a nodePort: range is full',
    );
  });

  it('reports ClusterIP exhaustion and a taken ClusterIP', () => {
    // /29: 6 usable, the first taken by default/kubernetes.
    const c = new Cluster({ serviceClusterIPRange: '10.96.0.0/29' });
    for (let i = 0; i < 5; i++)
      expect(applyMessage(`metadata: {name: s${i}}\nspec: {ports: [{port: 80}]}`, c)).toBe(
        `service/s${i} created`,
      );
    expect(applyMessage('metadata: {name: full}\nspec: {ports: [{port: 80}]}', c)).toBe(
      'Error from server (InternalError): error when creating "svc.yaml": Internal error occurred: failed to allocate a serviceIP: range is full',
    );
    expect(applyMessage('metadata: {name: dup}\nspec: {clusterIP: 10.96.0.1, ports: [{port: 80}]}', c)).toBe(
      'The Service "dup" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.1"}: failed to allocate IP 10.96.0.1: provided IP is already allocated',
    );
    expect(applyMessage('metadata: {name: out}\nspec: {clusterIP: 10.0.0.5, ports: [{port: 80}]}', c)).toBe(
      'The Service "out" is invalid: spec.clusterIPs: Invalid value: []string{"10.0.0.5"}: failed to allocate IP 10.0.0.5: provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/29',
    );
  });

  it('checks port numbers', () => {
    expect(applyMessage('metadata: {name: web}\nspec: {ports: [{port: 0, targetPort: 8080}]}')).toBe(
      'The Service "web" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
    );
    expect(applyMessage('metadata: {name: web}\nspec: {ports: [{port: 80, targetPort: 70000}]}')).toBe(
      'The Service "web" is invalid: spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
    );
  });

  it('checks protocols', () => {
    expect(applyMessage('metadata: {name: web}\nspec: {ports: [{port: 80, protocol: FOO}]}')).toBe(
      'The Service "web" is invalid: spec.ports[0].protocol: Unsupported value: "FOO": supported values: "SCTP", "TCP", "UDP"',
    );
  });

  it('checks the Service name is a DNS-1035 label', () => {
    expect(applyMessage('metadata: {name: 1web}\nspec: {ports: [{port: 80}]}')).toBe(
      `The Service "1web" is invalid: metadata.name: Invalid value: "1web": ${DNS1035}`,
    );
  });

  it('requires unique port names when there are several ports, joining several errors in brackets', () => {
    expect(applyMessage('metadata: {name: web}\nspec: {ports: [{port: 80}, {port: 443}]}')).toBe(
      'The Service "web" is invalid: [spec.ports[0].name: Required value, spec.ports[1].name: Required value]',
    );
    expect(
      applyMessage('metadata: {name: web}\nspec: {ports: [{name: a, port: 80}, {name: a, port: 443}]}'),
    ).toBe('The Service "web" is invalid: spec.ports[1].name: Duplicate value: "a"');
  });

  it('checks named targetPorts as IANA service names', () => {
    expect(applyMessage('metadata: {name: web}\nspec: {ports: [{port: 80, targetPort: http--x}]}')).toBe(
      'The Service "web" is invalid: spec.ports[0].targetPort: Invalid value: "http--x": must not contain consecutive hyphens',
    );
    expect(
      applyMessage('metadata: {name: web}\nspec: {ports: [{port: 80, targetPort: a-very-long-port-name}]}'),
    ).toBe(
      'The Service "web" is invalid: spec.ports[0].targetPort: Invalid value: "a-very-long-port-name": must be no more than 15 characters',
    );
  });

  it('forbids a nodePort on a ClusterIP Service', () => {
    expect(applyMessage('metadata: {name: web}\nspec: {ports: [{port: 80, nodePort: 30080}]}')).toBe(
      'The Service "web" is invalid: spec.ports[0].nodePort: Forbidden: may not be used when `type` is \'ClusterIP\'',
    );
  });

  it('rejects headless NodePort Services', () => {
    expect(
      applyMessage('metadata: {name: web}\nspec: {type: NodePort, clusterIP: None, ports: [{port: 80}]}'),
    ).toBe(
      'The Service "web" is invalid: spec.clusterIPs[0]: Invalid value: "None": may not be set to \'None\' for NodePort services',
    );
  });

  it('requires a valid externalName for ExternalName Services', () => {
    expect(applyMessage('metadata: {name: ext}\nspec: {type: ExternalName}')).toBe(
      'The Service "ext" is invalid: spec.externalName: Required value',
    );
    expect(applyMessage('metadata: {name: ext}\nspec: {type: ExternalName, externalName: Bad_Name}')).toBe(
      "The Service \"ext\" is invalid: spec.externalName: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    );
    expect(
      applyMessage('metadata: {name: ext}\nspec: {type: ExternalName, externalName: db.example.com.}'),
    ).toBe('service/ext created');
  });

  it('requires ports unless headless or ExternalName', () => {
    expect(applyMessage('metadata: {name: web}\nspec: {}')).toBe(
      'The Service "web" is invalid: spec.ports: Required value',
    );
    expect(applyMessage('metadata: {name: web}\nspec: {clusterIP: None, selector: {app: x}}')).toBe(
      'service/web created',
    );
  });

  it('rejects loadBalancerSourceRanges on non-LoadBalancer Services and bad affinity timeouts', () => {
    expect(
      applyMessage(
        'metadata: {name: web}\nspec: {loadBalancerSourceRanges: [10.0.0.0/8], ports: [{port: 80}]}',
      ),
    ).toBe(
      'The Service "web" is invalid: spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is \'LoadBalancer\'',
    );
    expect(
      applyMessage(
        'metadata: {name: web}\nspec: {sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}, ports: [{port: 80}]}',
      ),
    ).toBe(
      'The Service "web" is invalid: spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400',
    );
  });

  it('rejects duplicate (protocol, port) pairs with the Go-printed key', () => {
    expect(
      applyMessage('metadata: {name: web}\nspec: {ports: [{name: a, port: 80}, {name: b, port: 80}]}'),
    ).toBe(
      'The Service "web" is invalid: spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}',
    );
  });

  it('gives every allocation back when a create fails validation', () => {
    const c = new Cluster();
    const used = c.store.registry.nodePorts.used;
    expect(
      applyMessage('metadata: {name: web}\nspec: {type: NodePort, ports: [{port: 80, protocol: FOO}]}', c),
    ).toMatch(/invalid/);
    expect(c.store.registry.nodePorts.used).toBe(used);
  });
});

describe('Service defaulting and allocation', () => {
  it('defaults type, protocol, targetPort, affinity timeout and traffic policies', () => {
    const c = new Cluster();
    c.applyObject(svc('metadata: {name: web}\nspec: {sessionAffinity: ClientIP, ports: [{port: 80}]}'));
    const s = c.getService('web')!;
    expect(s.spec?.type).toBe('ClusterIP');
    expect(s.spec?.ports?.[0]).toMatchObject({ protocol: 'TCP', targetPort: 80 });
    expect(s.spec?.sessionAffinityConfig?.clientIP?.timeoutSeconds).toBe(10800);
    expect(s.spec?.internalTrafficPolicy).toBe('Cluster');
    expect(s.spec?.externalTrafficPolicy).toBeUndefined();
  });

  it('gives LoadBalancer eTP=Local a health-check nodePort and a VIP from the pool', () => {
    const c = new Cluster();
    c.applyObject(
      svc(
        'metadata: {name: lb}\nspec: {type: LoadBalancer, externalTrafficPolicy: Local, ports: [{port: 80}]}',
      ),
    );
    const s = c.getService('lb')!;
    expect(s.spec?.healthCheckNodePort).toBeGreaterThanOrEqual(30000);
    expect(s.spec?.healthCheckNodePort).not.toBe(s.spec?.ports?.[0].nodePort);
    expect(s.status?.loadBalancer?.ingress?.[0].ip).toBe('192.168.100.200');
  });

  it('lets ports with the same number but different protocols share one nodePort', () => {
    const c = new Cluster();
    c.applyObject(
      svc(
        'metadata: {name: dns}\nspec: {type: NodePort, ports: [{name: u, port: 53, protocol: UDP}, {name: t, port: 53, protocol: TCP}]}',
      ),
    );
    const ports = c.getService('dns')!.spec!.ports!;
    expect(ports[0].nodePort).toBe(ports[1].nodePort);
  });

  it('clears nodePorts when a NodePort Service is re-applied as ClusterIP, releasing them', () => {
    const c = new Cluster();
    expect(
      c.applyObject(
        svc('metadata: {name: web}\nspec: {type: NodePort, ports: [{port: 80, nodePort: 31000}]}'),
      ).status,
    ).toBe('created');
    expect(
      c.applyObject(svc('metadata: {name: web}\nspec: {type: ClusterIP, ports: [{port: 80}]}')).message,
    ).toBe('service/web configured');
    expect(c.getService('web')!.spec!.ports![0].nodePort).toBeUndefined();
    expect(c.store.registry.nodePorts.isAllocated(31000)).toBe(false);
    // An explicit nodePort on the ClusterIP Service is still forbidden.
    expect(
      c.applyObject(
        svc('metadata: {name: web}\nspec: {type: ClusterIP, ports: [{port: 80, nodePort: 31001}]}'),
      ).message,
    ).toBe(
      'The Service "web" is invalid: spec.ports[0].nodePort: Forbidden: may not be used when `type` is \'ClusterIP\'',
    );
  });

  it('keeps the ClusterIP and nodePort across an unchanged re-apply', () => {
    const c = new Cluster();
    const y = 'metadata: {name: web}\nspec: {type: NodePort, ports: [{port: 80}]}';
    c.applyObject(svc(y));
    const before = structuredClone(c.getService('web')!.spec);
    expect(c.applyObject(svc(y)).status).toBe('unchanged');
    expect(c.getService('web')!.spec).toEqual(before);
  });
});
