/** Packet-flow tests ported from upstream proxier_test.go (runPacketFlowTests), run through dpsim's evaluator. */
import { describe, expect, it } from 'vitest';
import { compileIptables } from '../../../src/proxy/iptables/index.js';
import { Tracer } from './flow.js';
import { model, overallModel, servicePort } from './helpers.js';

const NODE_IP = '192.168.0.2';

describe('packet flows through compiled kube-proxy rules', () => {
  it('REJECTs every destination of a LoadBalancer without endpoints (TestNoEndpointsReject)', () => {
    const m = model({
      servicePorts: [
        servicePort({
          namespace: 'ns1',
          name: 'svc1',
          type: 'LoadBalancer',
          clusterIP: '172.30.0.41',
          port: 80,
          nodePort: 3001,
          externalIPs: ['192.168.99.11'],
          loadBalancerIPs: ['1.2.3.4'],
        }),
      ],
    });
    const t = new Tracer(compileIptables(m, 'test-node').ruleset, [NODE_IP]);
    for (const src of ['10.0.0.2', '203.0.113.2']) {
      expect(t.flow({ src, dst: '172.30.0.41', dport: 80 }).output).toBe('REJECT');
      expect(t.flow({ src, dst: '192.168.99.11', dport: 80 }).output).toBe('REJECT');
      expect(t.flow({ src, dst: NODE_IP, dport: 3001 }).output).toBe('REJECT');
      expect(t.flow({ src, dst: '1.2.3.4', dport: 80 }).output).toBe('REJECT');
    }
  });

  it('load-balances a cluster IP over all endpoints and masquerades off-cluster and hairpin sources', () => {
    const t = new Tracer(compileIptables(overallModel(), 'test-node').ruleset, [NODE_IP]);
    expect(t.outputs({ src: '10.0.0.2', dst: '172.30.0.44', dport: 80 })).toEqual({
      outputs: ['10.180.0.4:80', '10.180.0.5:80'],
      masq: [false],
    });
    expect(t.flow({ src: '203.0.113.2', dst: '172.30.0.41', dport: 80 })).toEqual({
      output: '10.180.0.1:80',
      masq: true,
    });
    expect(t.flow({ src: '10.180.0.1', dst: '172.30.0.41', dport: 80 })).toEqual({
      output: '10.180.0.1:80',
      masq: true,
    });
    expect(t.flow({ src: '10.0.0.2', dst: '172.30.0.41', dport: 81 }).output).toBe('');
    expect(t.flow({ src: '10.0.0.2', dst: '172.30.0.41', dport: 80, proto: 'udp' }).output).toBe('');
    expect(t.flow({ src: '10.0.0.2', dst: '172.30.0.46', dport: 80 }).output).toBe('REJECT');
  });

  it('masquerades NodePort traffic with eTP=Cluster and reaches it on every local address', () => {
    const t = new Tracer(compileIptables(overallModel(), 'test-node').ruleset, [NODE_IP]);
    expect(t.flow({ src: '203.0.113.2', dst: NODE_IP, dport: 3003 })).toEqual({
      output: '10.180.0.3:80',
      masq: true,
    });
    expect(t.flow({ src: '127.0.0.1', dst: '127.0.0.1', dport: 3003, fromNode: true })).toEqual({
      output: '10.180.0.3:80',
      masq: true,
    });
    expect(t.flow({ src: '203.0.113.2', dst: '192.168.0.99', dport: 3003 }).output).toBe('');
  });

  describe('externalTrafficPolicy: Local (TestExternalTrafficPolicyLocal)', () => {
    const m = model({
      servicePorts: [
        servicePort({
          namespace: 'ns1',
          name: 'svc1',
          type: 'LoadBalancer',
          clusterIP: '172.30.0.41',
          port: 80,
          nodePort: 3001,
          externalIPs: ['192.168.99.11'],
          loadBalancerIPs: ['1.2.3.4'],
          externalTrafficPolicy: 'Local',
          healthCheckNodePort: 30000,
          endpoints: [
            { ip: '10.180.0.1', port: 80, nodeName: 'test-node' },
            { ip: '10.180.2.1', port: 80, nodeName: 'host2' },
          ],
        }),
      ],
    });
    const t = new Tracer(compileIptables(m, 'test-node').ruleset, [NODE_IP]);

    it('sends external clients only to local endpoints and keeps their source', () => {
      for (const dst of [NODE_IP, '192.168.99.11', '1.2.3.4']) {
        const dport = dst === NODE_IP ? 3001 : 80;
        expect(t.outputs({ src: '203.0.113.2', dst, dport })).toEqual({
          outputs: ['10.180.0.1:80'],
          masq: [false],
        });
      }
    });

    it('short-circuits pod traffic to all endpoints and masquerades node-originated traffic', () => {
      expect(t.outputs({ src: '10.0.0.2', dst: '1.2.3.4', dport: 80 })).toEqual({
        outputs: ['10.180.0.1:80', '10.180.2.1:80'],
        masq: [false],
      });
      expect(t.outputs({ src: NODE_IP, dst: NODE_IP, dport: 3001, fromNode: true })).toEqual({
        outputs: ['10.180.0.1:80', '10.180.2.1:80'],
        masq: [true],
      });
    });

    it('accepts the health-check nodePort and DROPs external traffic once no endpoint is local', () => {
      expect(t.flow({ src: '203.0.113.2', dst: NODE_IP, dport: 30000 }).output).toBe('');
      const remoteOnly = model({
        servicePorts: [{ ...m.servicePorts[0], endpoints: [m.servicePorts[0].endpoints[1]] }],
      });
      const t2 = new Tracer(compileIptables(remoteOnly, 'test-node').ruleset, [NODE_IP]);
      expect(t2.flow({ src: '203.0.113.2', dst: NODE_IP, dport: 3001 }).output).toBe('DROP');
      expect(t2.flow({ src: '203.0.113.2', dst: '1.2.3.4', dport: 80 }).output).toBe('DROP');
      expect(t2.flow({ src: '10.0.0.2', dst: '1.2.3.4', dport: 80 }).output).toBe('10.180.2.1:80');
      expect(t2.flow({ src: '10.0.0.2', dst: '172.30.0.41', dport: 80 }).output).toBe('10.180.2.1:80');
    });
  });

  it.each([
    ['Cluster', 'test-node', ['10.0.1.1:80', '10.0.1.2:80', '10.0.1.3:80']],
    ['Local', 'test-node', ['10.0.1.1:80', '10.0.1.2:80']],
    ['Local', 'nobody', ['DROP']],
  ] as const)(
    'honours internalTrafficPolicy %s (TestInternalTrafficPolicy, local node %s)',
    (itp, localNode, expected) => {
      const m = model({
        servicePorts: [
          servicePort({
            namespace: 'ns1',
            name: 'svc1',
            clusterIP: '172.30.1.1',
            port: 80,
            internalTrafficPolicy: itp,
            endpoints: [
              { ip: '10.0.1.1', port: 80, nodeName: localNode },
              { ip: '10.0.1.2', port: 80, nodeName: localNode },
              { ip: '10.0.1.3', port: 80, nodeName: 'host2' },
            ],
          }),
        ],
      });
      const t = new Tracer(compileIptables(m, 'test-node').ruleset, [NODE_IP]);
      expect(t.outputs({ src: '10.0.0.2', dst: '172.30.1.1', dport: 80 }).outputs).toEqual(expected);
    },
  );

  it('uses terminating endpoints only when no ready endpoint exists (TestTerminatingEndpointsTrafficPolicyLocal)', () => {
    const m = model({
      servicePorts: [
        servicePort({
          namespace: 'ns1',
          name: 'svc1',
          type: 'LoadBalancer',
          clusterIP: '172.30.1.1',
          port: 80,
          nodePort: 3001,
          loadBalancerIPs: ['1.2.3.4'],
          externalTrafficPolicy: 'Local',
          healthCheckNodePort: 30000,
          endpoints: [
            {
              ip: '10.0.1.1',
              port: 80,
              nodeName: 'test-node',
              ready: false,
              serving: false,
              terminating: true,
            },
            {
              ip: '10.0.1.2',
              port: 80,
              nodeName: 'test-node',
              ready: false,
              serving: true,
              terminating: true,
            },
            {
              ip: '10.0.1.3',
              port: 80,
              nodeName: 'test-node',
              ready: false,
              serving: true,
              terminating: true,
            },
            { ip: '10.0.1.5', port: 80, nodeName: 'host1' },
          ],
        }),
      ],
    });
    const t = new Tracer(compileIptables(m, 'test-node').ruleset, [NODE_IP]);
    expect(t.outputs({ src: '10.0.0.2', dst: '172.30.1.1', dport: 80 }).outputs).toEqual(['10.0.1.5:80']);
    expect(t.outputs({ src: '203.0.113.2', dst: '1.2.3.4', dport: 80 }).outputs).toEqual([
      '10.0.1.2:80',
      '10.0.1.3:80',
    ]);
  });

  it('filters LoadBalancer sources with loadBalancerSourceRanges (TestLoadBalancer)', () => {
    const m = model({
      servicePorts: [
        servicePort({
          namespace: 'ns1',
          name: 'svc1',
          type: 'LoadBalancer',
          clusterIP: '172.30.0.41',
          port: 80,
          nodePort: 3001,
          loadBalancerIPs: ['1.2.3.4', '5.6.7.8'],
          loadBalancerSourceRanges: ['192.168.0.0/24', ' 203.0.113.0/25'],
          endpoints: [{ ip: '10.180.0.1', port: 80, nodeName: 'test-node' }],
        }),
      ],
    });
    const t = new Tracer(compileIptables(m, 'test-node').ruleset, [NODE_IP]);
    expect(t.flow({ src: '203.0.113.2', dst: '1.2.3.4', dport: 80 })).toEqual({
      output: '10.180.0.1:80',
      masq: true,
    });
    expect(t.flow({ src: '203.0.113.130', dst: '1.2.3.4', dport: 80 }).output).toBe('DROP');
    expect(t.flow({ src: '203.0.113.130', dst: '5.6.7.8', dport: 80 }).output).toBe('DROP');
    // The node's IP is inside a source range, so hairpinned traffic from the LB IPs is allowed too.
    expect(t.flow({ src: '1.2.3.4', dst: '5.6.7.8', dport: 80 }).output).toBe('10.180.0.1:80');
    expect(t.flow({ src: NODE_IP, dst: '1.2.3.4', dport: 80, fromNode: true }).output).toBe('10.180.0.1:80');
    // NodePorts are not subject to source ranges.
    expect(t.flow({ src: '203.0.113.130', dst: NODE_IP, dport: 3001 }).output).toBe('10.180.0.1:80');
  });

  it('keeps ClientIP affinity within the timeout and forgets it after', () => {
    const m = model({
      servicePorts: [
        servicePort({
          namespace: 'ns1',
          name: 'svc1',
          clusterIP: '172.30.0.41',
          port: 80,
          sessionAffinity: 'ClientIP',
          stickyMaxAgeSeconds: 60,
          endpoints: ['10.180.0.1', '10.180.0.2', '10.180.0.3', '10.180.0.4'].map((ip) => ({ ip, port: 80 })),
        }),
      ],
    });
    const t = new Tracer(compileIptables(m, 'test-node').ruleset, [NODE_IP], 7);
    const sec = 1e9;
    for (let client = 1; client <= 20; client++) {
      const src = `10.0.5.${client}`;
      const first = t.flow({ src, dst: '172.30.0.41', dport: 80, nowNs: 0 }).output;
      for (let k = 1; k <= 10; k++) {
        // Each new connection refreshes the timestamp (--set in the SEP chain), so 50 s gaps stay sticky.
        expect(t.flow({ src, dst: '172.30.0.41', dport: 80, nowNs: k * 50 * sec }).output).toBe(first);
      }
    }
    // After the timeout the client is balanced again: over many clients, some land elsewhere.
    let moved = 0;
    for (let client = 1; client <= 20; client++) {
      const src = `10.0.5.${client}`;
      const before = t.flow({ src, dst: '172.30.0.41', dport: 80, nowNs: 600 * sec }).output;
      if (t.flow({ src, dst: '172.30.0.41', dport: 80, nowNs: 661 * sec + client }).output !== before)
        moved++;
    }
    expect(moved).toBeGreaterThan(5);
  });
});
