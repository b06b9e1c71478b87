import { describe, expect, it } from 'vitest';
import { parseIptables, renderIptablesSave } from '../../../src/proxy/iptables/index.js';
import {
  compileIpvs,
  IpvsConfigError,
  IpvsNode,
  renderIpsetList,
  renderIpvsadmList,
  UnknownSchedulerError,
} from '../../../src/proxy/ipvs/index.js';
import { parseIPv4 } from '../../../src/util/ipv4.js';
import { Rng } from '../../../src/util/rng.js';
import { ep, KUBERNETES, model, ORIGIN, servicePort, WEB } from './fixtures.js';

function programmed(m = ORIGIN, node = 'node1', opts = {}) {
  const state = compileIpvs(m, node, opts);
  const ipvs = new IpvsNode({ rng: new Rng(7) });
  ipvs.sync(state);
  return { state, ipvs };
}

describe('compileIpvs on the origin scenario', () => {
  it('prints ipvsadm -Ln exactly as ipvsadm would (sorted with the wrapping address compare)', () => {
    const { ipvs } = programmed();
    // ipvsadm.c: service "%-4s %s" + " %s" scheduler; destination "  -> %-28s %-7s %-6d %-10u %-10u".
    // libipvs sorts with int r = ntohl(a) - ntohl(b): 192.168.100.100 - 10.233.x wraps negative,
    // so the NodePort virtual server comes first.
    const pad = '         '; // what %-10u leaves after a single-digit InActConn
    expect(renderIpvsadmList(ipvs.services)).toBe(
      [
        'IP Virtual Server version 1.2.1 (size=4096)',
        'Prot LocalAddress:Port Scheduler Flags',
        '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
        'TCP  192.168.100.100:31313 rr',
        `  -> 10.233.64.2:8080             Masq    1      0          0${pad}`,
        `  -> 10.233.65.2:8080             Masq    1      0          0${pad}`,
        `  -> 10.233.66.2:8080             Masq    1      0          0${pad}`,
        'TCP  10.233.0.1:443 rr',
        `  -> 192.168.100.100:6443         Masq    1      0          0${pad}`,
        'TCP  10.233.17.37:80 rr',
        `  -> 10.233.64.2:8080             Masq    1      0          0${pad}`,
        `  -> 10.233.65.2:8080             Masq    1      0          0${pad}`,
        `  -> 10.233.66.2:8080             Masq    1      0          0${pad}`,
        '',
      ].join('\n'),
    );
  });

  it('binds cluster IPs to kube-ipvs0 but puts NodePort virtual servers on every node address', () => {
    const state = compileIpvs(ORIGIN, 'node2', {
      nodeAddresses: ['192.168.100.101', '10.233.65.1', '127.0.0.1'],
    });
    expect(state.dummyInterface).toBe('kube-ipvs0');
    expect(state.boundAddresses).toEqual(['10.233.0.1', '10.233.17.37']);
    expect(state.nodePortIPs).toEqual(['10.233.65.1', '192.168.100.101']);
    const np = state.virtualServers.filter((v) => v.kind === 'NodePort');
    expect(np.map((v) => `${v.address}:${v.port}`)).toEqual(['10.233.65.1:31313', '192.168.100.101:31313']);
    expect(np.every((v) => !v.bound && v.realServers.length === 3)).toBe(true);
  });

  it('--nodeport-addresses restricts the NodePort virtual servers to matching node addresses', () => {
    const state = compileIpvs(ORIGIN, 'node2', {
      nodeAddresses: ['192.168.100.101', '10.233.65.1'],
      nodePortAddresses: ['192.168.100.0/24'],
    });
    expect(state.nodePortIPs).toEqual(['192.168.100.101']);
  });

  it('fills the ipsets kube-proxy fills and they answer membership tests', () => {
    const { ipsets } = compileIpvs(ORIGIN, 'node1');
    const tcp = 6;
    expect([...ipsets.get('KUBE-CLUSTER-IP').entries].sort()).toEqual([
      '10.233.0.1,tcp:443',
      '10.233.17.37,tcp:80',
    ]);
    expect(ipsets.get('KUBE-CLUSTER-IP').test(parseIPv4('10.233.17.37'), tcp, 80, 0)).toBe(true);
    expect(ipsets.get('KUBE-CLUSTER-IP').test(parseIPv4('10.233.17.37'), 17, 80, 0)).toBe(false);
    expect(ipsets.get('KUBE-CLUSTER-IP').test(parseIPv4('10.233.17.37'), tcp, 81, 0)).toBe(false);
    expect([...ipsets.get('KUBE-NODE-PORT-TCP').entries]).toEqual(['31313']);
    expect(ipsets.get('KUBE-NODE-PORT-TCP').test(0, tcp, 31313, 0)).toBe(true);
    // Only this node's endpoints go into the hairpin set.
    expect([...ipsets.get('KUBE-LOOP-BACK').entries].sort()).toEqual([
      '10.233.64.2,tcp:8080,10.233.64.2',
      '192.168.100.100,tcp:6443,192.168.100.100',
    ]);
    const lb = ipsets.get('KUBE-LOOP-BACK');
    expect(lb.test(parseIPv4('10.233.64.2'), tcp, 8080, parseIPv4('10.233.64.2'))).toBe(true);
    expect(lb.test(parseIPv4('10.233.64.2'), tcp, 8080, parseIPv4('10.233.64.3'))).toBe(false);
    expect([...ipsets.get('KUBE-IPVS-IPS').entries].sort()).toEqual(['10.233.0.1', '10.233.17.37']);
    expect(ipsets.isEmpty('KUBE-EXTERNAL-IP')).toBe(true);
  });

  it('renders ipset list with type, references from the iptables rules and sorted members', () => {
    const state = compileIpvs(ORIGIN, 'node1');
    const text = renderIpsetList(state.ipsets, {
      iptablesSave: state.iptablesSave,
      names: ['KUBE-CLUSTER-IP'],
    });
    expect(text.split('\n').filter((l) => !l.startsWith('Header') && !l.startsWith('Size'))).toEqual([
      'Name: KUBE-CLUSTER-IP',
      'Type: hash:ip,port',
      'Revision: 7',
      // KUBE-SERVICES masquerade + ACCEPT, KUBE-IPVS-FILTER RETURN.
      'References: 3',
      'Number of entries: 2',
      'Members:',
      '10.233.0.1,tcp:443',
      '10.233.17.37,tcp:80',
      '',
    ]);
  });

  it('prints the remaining iptables rules as iptables-save 1.8.9 (nf_tables) prints them, like iptables mode', () => {
    const { iptables, iptablesSave } = compileIpvs(ORIGIN, 'node1');
    // One renderer for both modes: the text is renderIptablesSave of the state's Ruleset.
    expect(iptablesSave).toBe(renderIptablesSave(iptables));
    const lines = iptablesSave.split('\n');
    // filter before nat, each with its own header and footer comment.
    expect(lines.filter((l) => l.startsWith('*'))).toEqual(['*filter', '*nat']);
    expect(
      lines.filter((l) => l.startsWith('# Generated by iptables-save v1.8.9 (nf_tables) on ')),
    ).toHaveLength(2);
    // Built-in chains first in hook order, then user chains sorted, all with [0:0].
    expect(lines.filter((l) => l.startsWith(':')).slice(0, 9)).toEqual([
      ':INPUT ACCEPT [0:0]',
      ':FORWARD ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':KUBE-FORWARD - [0:0]',
      ':KUBE-IPVS-FILTER - [0:0]',
      ':KUBE-IPVS-OUT-FILTER - [0:0]',
      ':KUBE-NODE-PORT - [0:0]',
      ':KUBE-PROXY-FIREWALL - [0:0]',
      ':KUBE-SOURCE-RANGES-FIREWALL - [0:0]',
    ]);
    // kube-proxy writes --or-mark / --xor-mark / bare REJECT; iptables-save prints what the kernel keeps.
    expect(iptablesSave).not.toMatch(/--or-mark|--xor-mark|REJECT$/m);
    // Parsing the text gives back the same rules.
    expect(renderIptablesSave(parseIptables(iptablesSave).ruleset)).toBe(iptablesSave);
  });

  it('writes the remaining iptables rules in iptables-save form', () => {
    const { iptablesSave } = compileIpvs(ORIGIN, 'node1');
    const lines = iptablesSave.split('\n');
    const at = (l: string) => {
      const i = lines.indexOf(l);
      expect(i, l).toBeGreaterThanOrEqual(0);
      return i;
    };
    // Rules in KUBE-SERVICES keep kube-proxy's write order; ACCEPT rules stay last.
    const ret = at('-A KUBE-SERVICES -s 127.0.0.0/8 -j RETURN');
    const masq = at(
      '-A KUBE-SERVICES ! -s 10.233.64.0/18 -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ',
    );
    const np = at('-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT');
    const acc = at('-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT');
    expect(ret < masq && masq < np && np < acc).toBe(true);
    at(
      '-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port for masquerade purpose" -m set --match-set KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ',
    );
    at(
      '-A KUBE-POSTROUTING -m comment --comment "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE',
    );
    at('-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000');
    at('-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0');
    at(
      '-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT --reject-with icmp-port-unreachable',
    );
    // Jumps kube-proxy prepends: the last prepended (ipvs access filter) is first in INPUT.
    const input = lines.filter((l) => l.startsWith('-A INPUT '));
    expect(input.map((l) => l.split(' -j ')[1])).toEqual([
      'KUBE-IPVS-FILTER',
      'KUBE-PROXY-FIREWALL',
      'KUBE-NODE-PORT',
    ]);
    // Empty sets get no rule: no external IPs here.
    expect(iptablesSave).not.toContain('KUBE-EXTERNAL-IP dst,dst -j KUBE-MARK-MASQ');
    expect(lines.filter((l) => l === 'COMMIT')).toHaveLength(2);
  });

  it('without --cluster-cidr masquerades node-originated VIP traffic with src,dst', () => {
    const { iptablesSave } = compileIpvs({ ...ORIGIN, clusterCIDR: '' }, 'node1');
    expect(iptablesSave).toContain('-m set --match-set KUBE-CLUSTER-IP src,dst -j KUBE-MARK-MASQ');
  });
});

describe('compileIpvs traffic policies, affinity and terminating endpoints', () => {
  it('eTP=Local with no local endpoint falls back to the cluster endpoints (unlike iptables, which drops)', () => {
    const svc = servicePort({
      name: 'local',
      type: 'NodePort',
      clusterIP: '10.233.1.1',
      port: 80,
      nodePort: 30001,
      externalTrafficPolicy: 'Local',
      endpoints: [ep('10.233.65.9', 80, 'node2')],
    });
    const state = compileIpvs(model([svc]), 'node1');
    const np = state.virtualServers.find((v) => v.kind === 'NodePort');
    expect(np?.endpointSelection).toBe('local-fallback-cluster');
    expect(np?.realServers.map((r) => r.ip)).toEqual(['10.233.65.9']);
    expect([...state.ipsets.get('KUBE-NODE-PORT-LOCAL-TCP').entries]).toEqual(['30001']);
    // On node2, which has the endpoint, only local endpoints are used.
    const onNode2 = compileIpvs(model([svc]), 'node2').virtualServers.find((v) => v.kind === 'NodePort');
    expect(onNode2?.endpointSelection).toBe('local');
    // The cluster IP virtual server is unaffected by eTP.
    expect(state.virtualServers.find((v) => v.kind === 'ClusterIP')?.endpointSelection).toBe('cluster');
  });

  it('iTP=Local uses local endpoints on the cluster IP virtual server', () => {
    const svc = servicePort({
      name: 'itp',
      clusterIP: '10.233.1.2',
      port: 53,
      protocol: 'UDP',
      internalTrafficPolicy: 'Local',
      endpoints: [ep('10.233.64.5', 53, 'node1'), ep('10.233.65.5', 53, 'node2')],
    });
    const vs = compileIpvs(model([svc]), 'node1').virtualServers[0];
    expect(vs.protocol).toBe('UDP');
    expect(vs.realServers.map((r) => r.ip)).toEqual(['10.233.64.5']);
  });

  it('ClientIP affinity makes every virtual server persistent with the affinity timeout', () => {
    const svc = { ...WEB, sessionAffinity: 'ClientIP' as const, stickyMaxAgeSeconds: 10800 };
    const { ipvs } = programmed(model([svc]));
    const text = renderIpvsadmList(ipvs.services);
    expect(text).toContain('TCP  10.233.17.37:80 rr persistent 10800\n');
    expect(text).toContain('TCP  192.168.100.100:31313 rr persistent 10800\n');
  });

  it('mh sets the source-port hash flag that ipvsadm shows as (mh-port)', () => {
    const { ipvs } = programmed(model([KUBERNETES]), 'node1', { scheduler: 'mh' });
    expect(renderIpvsadmList(ipvs.services)).toContain('TCP  10.233.0.1:443 mh (mh-port)\n');
  });

  it('uses serving+terminating endpoints only when no endpoint is ready', () => {
    const term = { ready: false, serving: true, terminating: true };
    const mixed = {
      ...WEB,
      endpoints: [ep('10.233.64.2', 8080, 'node1', term), ep('10.233.65.2', 8080, 'node2')],
    };
    const vs1 = compileIpvs(model([mixed]), 'node1').virtualServers.find((v) => v.kind === 'ClusterIP');
    expect(vs1?.realServers.map((r) => r.ip)).toEqual(['10.233.65.2']);
    const allTerm = { ...WEB, endpoints: [ep('10.233.64.2', 8080, 'node1', term)] };
    const vs2 = compileIpvs(model([allTerm]), 'node1').virtualServers.find((v) => v.kind === 'ClusterIP');
    expect(vs2?.realServers).toEqual([
      { ip: '10.233.64.2', port: 8080, weight: 1, podName: 'pod-10.233.64.2' },
    ]);
  });

  it('a service without endpoints still gets its virtual server, with no real servers', () => {
    const { ipvs } = programmed(model([{ ...WEB, endpoints: [] }]));
    const text = renderIpvsadmList(ipvs.services);
    expect(text).toContain('TCP  10.233.17.37:80 rr\n');
    expect(text).not.toMatch(/^ {2}-> \d/m);
  });

  it('load-balancer source ranges fill the firewall sets and block node access when the node is outside them', () => {
    const svc = servicePort({
      name: 'lb',
      type: 'LoadBalancer',
      clusterIP: '10.233.1.3',
      port: 443,
      nodePort: 30443,
      loadBalancerIPs: ['203.0.113.10'],
      loadBalancerSourceRanges: ['198.51.100.0/24'],
      endpoints: [ep('10.233.64.7', 8443, 'node1')],
    });
    const state = compileIpvs(model([svc]), 'node1');
    expect([...state.ipsets.get('KUBE-LOAD-BALANCER-SOURCE-CIDR').entries]).toEqual([
      '203.0.113.10,tcp:443,198.51.100.0/24',
    ]);
    expect(
      state.ipsets
        .get('KUBE-LOAD-BALANCER-SOURCE-CIDR')
        .test(parseIPv4('203.0.113.10'), 6, 443, parseIPv4('198.51.100.77')),
    ).toBe(true);
    expect(state.ipsets.isEmpty('KUBE-LOAD-BALANCER-SOURCE-IP')).toBe(true);
    // libxt_ipvs saves --vproto before --vaddr, as a number, and drops a /32 mask.
    expect(state.iptablesSave).toContain(
      '-A KUBE-IPVS-OUT-FILTER -s 203.0.113.10/32 -m ipvs --vproto 6 --vaddr 203.0.113.10 --vport 443 -j DROP',
    );
    expect(state.boundAddresses).toContain('203.0.113.10');
  });

  it('rejects an unknown scheduler and an unknown node with specific errors', () => {
    expect(() => compileIpvs(ORIGIN, 'node1', { scheduler: 'lblc' })).toThrow(UnknownSchedulerError);
    expect(() => compileIpvs(ORIGIN, 'node9')).toThrow(IpvsConfigError);
    expect(() => compileIpvs(ORIGIN, 'node1', { nodePortAddresses: ['bogus'] })).toThrow(IpvsConfigError);
  });
});
