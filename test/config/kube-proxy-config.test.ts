/**
 * KubeProxyConfiguration: every modelled field changes what it should (each test fails if
 * the field is ignored), defaults and validation messages are kube-proxy's, and an unknown
 * or unmodelled field is an error that names it.
 */
import { describe, expect, it } from 'vitest';
import {
  KubeProxyConfigError,
  parseKubeProxyConfiguration,
  syncPeriods,
} from '../../src/config/kube-proxy-config.js';
import { ipvsTimeouts } from '../../src/config/node-options.js';
import { DEFAULT_IPVS_TIMEOUTS } from '../../src/proxy/ipvs/datapath.js';
import { buildSmall } from '../sim/harness.js';

const HEAD = 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n';

const APP = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: web, image: hello-world-web:1.0, ports: [{ containerPort: 8080 }] }]
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }]
---
apiVersion: v1
kind: Service
metadata: { name: web-cluster }
spec:
  type: NodePort
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080, nodePort: 30081 }]
`;

/** node1's rules with `config` (KubeProxyConfiguration body, without the header) among the manifests. */
function rules(
  config: string | null,
  mode: 'iptables' | 'nftables' | 'ipvs' = 'iptables',
  extra = '',
): string {
  const docs = [APP, extra, config === null ? '' : `${HEAD}${config}`]
    .filter((d) => d !== '')
    .join('\n---\n');
  const sim = buildSmall({ manifests: docs, mode, capture: false });
  const proxy = sim.proxies.get('node1')!;
  return mode === 'ipvs' ? `${proxy.dump()}\n${proxy.dump({ part: 'iptables' })}` : proxy.dump();
}

const parse = (yaml: Record<string, unknown>) =>
  parseKubeProxyConfiguration({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    ...yaml,
  });

describe('KubeProxyConfiguration fields change the rules they should', () => {
  const base = rules(null);

  it('without a KubeProxyConfiguration the cluster CIDR detects local traffic and every address takes NodePorts', () => {
    expect(base).toMatch(/-A KUBE-SVC-\w+ ! -s 10\.233\.64\.0\/18 -d [\d.]+\/32 .* -j KUBE-MARK-MASQ/);
    expect(base).toContain('-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS');
  });

  it('mode: selects the proxy mode', () => {
    const sim = buildSmall({ manifests: `${APP}\n---\n${HEAD}mode: nftables\n`, capture: false });
    expect(sim.mode).toBe('nftables');
  });

  it('clusterCIDR: the local-traffic detector matches it; unset in a given config means no detector', () => {
    expect(rules('clusterCIDR: 10.233.64.0/18\n')).toContain('! -s 10.233.64.0/18 -d ');
    const without = rules('mode: ""\n');
    expect(without).not.toContain('! -s 10.233.64.0/18');
    expect(without).not.toContain('pod traffic for default/web external destinations');
  });

  it('detectLocalMode NodeCIDR: the node’s podCIDR instead of the cluster CIDR', () => {
    const r = rules('detectLocalMode: NodeCIDR\nclusterCIDR: 10.233.64.0/18\n');
    expect(r).toMatch(/-A KUBE-SVC-\w+ ! -s 10\.233\.64\.0\/24 -d .* -j KUBE-MARK-MASQ/);
    expect(r).toMatch(/-A KUBE-EXT-\w+ -s 10\.233\.64\.0\/24 .* -j KUBE-SVC-/);
    expect(r).not.toContain('! -s 10.233.64.0/18');
  });

  it('detectLocalMode InterfaceNamePrefix with detectLocal.interfaceNamePrefix: `! -i cali+` / `-i cali+`', () => {
    const r = rules('detectLocalMode: InterfaceNamePrefix\ndetectLocal: { interfaceNamePrefix: cali }\n');
    expect(r).toMatch(/-A KUBE-SVC-\w+ -d [\d.]+\/32 ! -i cali\+ .* -j KUBE-MARK-MASQ/);
    expect(r).toMatch(/-A KUBE-EXT-\w+ -i cali\+ .* -j KUBE-SVC-/);
  });

  it('detectLocalMode BridgeInterface with detectLocal.bridgeInterface: `! -i cni0`', () => {
    const r = rules('detectLocalMode: BridgeInterface\ndetectLocal: { bridgeInterface: cni0 }\n');
    expect(r).toMatch(/-A KUBE-SVC-\w+ -d [\d.]+\/32 ! -i cni0 .* -j KUBE-MARK-MASQ/);
  });

  it('nodePortAddresses: one KUBE-NODEPORTS jump per node address inside the CIDRs, no addrtype rule, no localhost NodePorts', () => {
    const r = rules('nodePortAddresses: [192.168.100.0/24]\n');
    expect(r).toContain(
      '-A KUBE-SERVICES -d 192.168.100.100/32 -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS',
    );
    expect(r).not.toContain('--dst-type LOCAL -j KUBE-NODEPORTS');
    expect(r).not.toContain('block incoming localnet connections');
  });

  it('nodePortAddresses [primary]: the node’s InternalIP only, even with other addresses', () => {
    const cluster = `apiVersion: dpsim/v1alpha1
kind: Cluster
spec:
  nodes:
    - { name: node1, ip: 192.168.100.100, addresses: [10.0.0.100] }
    - { name: node2, ip: 192.168.100.101 }
`;
    const r = rules('nodePortAddresses: [primary]\n', 'iptables', cluster);
    expect(r).toContain('-d 192.168.100.100/32 -m comment');
    expect(r).not.toContain('-d 10.0.0.100/32');
    const all10 = rules('nodePortAddresses: [10.0.0.0/8]\n', 'iptables', cluster);
    expect(all10).toContain('-d 10.0.0.100/32 -m comment');
    expect(all10).not.toContain('-d 192.168.100.100/32 -m comment');
  });

  it('iptables.masqueradeAll: every ClusterIP packet is marked, not only off-cluster ones', () => {
    const r = rules('iptables: { masqueradeAll: true }\nclusterCIDR: 10.233.64.0/18\n');
    expect(r).toMatch(
      /-A KUBE-SVC-\w+ -d [\d.]+\/32 -p tcp -m comment --comment "default\/web cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ/,
    );
    expect(r).not.toContain('! -s 10.233.64.0/18 -d');
  });

  it('iptables.masqueradeBit: the mark bit in KUBE-MARK-MASQ, KUBE-POSTROUTING and KUBE-FORWARD', () => {
    const r = rules('iptables: { masqueradeBit: 5 }\n');
    expect(r).toContain('-A KUBE-MARK-MASQ -j MARK --set-xmark 0x20/0x20');
    expect(base).toContain('-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000');
  });

  it('iptables.localhostNodePorts false: 127/8 excluded from NodePorts, no KUBE-FIREWALL localnet rule', () => {
    const r = rules('iptables: { localhostNodePorts: false }\n');
    expect(r).toContain('! -d 127.0.0.0/8 -m comment');
    expect(r).not.toContain('block incoming localnet connections');
    expect(base).toContain('block incoming localnet connections');
  });

  it('conntrack.tcpBeLiberal: kube-proxy sets the sysctl and writes no INVALID drop', () => {
    expect(base).toContain('-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP');
    expect(rules('conntrack: { tcpBeLiberal: true }\n')).not.toContain('--ctstate INVALID -j DROP');
  });

  it('nftables.masqueradeAll and nftables.masqueradeBit change the nftables rules (and iptables.* does not)', () => {
    const plain = rules(null, 'nftables');
    const r = rules(
      'mode: nftables\nnftables: { masqueradeAll: true, masqueradeBit: 3 }\niptables: { masqueradeBit: 7 }\n',
      'nftables',
    );
    expect(plain).toContain('0x00004000');
    expect(r).toContain('0x00000008');
    expect(r).not.toContain('0x00004000');
    expect(r).not.toContain('0x00000080');
    expect(r).not.toContain('ip saddr != 10.233.64.0/18 jump mark-for-masquerade');
    expect(plain).toContain('ip saddr != 10.233.64.0/18 jump mark-for-masquerade');
  });

  it('nodePortAddresses in nftables mode: the addresses in @nodeport-ips', () => {
    const cluster = `apiVersion: dpsim/v1alpha1
kind: Cluster
spec:
  nodes:
    - { name: node1, ip: 192.168.100.100, addresses: [10.0.0.100] }
`;
    const r = rules('mode: nftables\nnodePortAddresses: [10.0.0.0/8]\n', 'nftables', cluster);
    expect(r).toMatch(/set nodeport-ips \{[^}]*elements = \{ 10\.0\.0\.100 \}/s);
    const all = rules('mode: nftables\nnodePortAddresses: [0.0.0.0/0]\n', 'nftables', cluster);
    expect(all).not.toContain('nodeport-ips');
  });

  it('ipvs.scheduler: the virtual servers’ scheduler', () => {
    expect(rules('mode: ipvs\nipvs: { scheduler: wrr }\n', 'ipvs')).toMatch(/TCP {2}[\d.]+:\d+ wrr/);
    expect(rules('mode: ipvs\n', 'ipvs')).toMatch(/TCP {2}[\d.]+:\d+ rr/);
  });

  it('ipvs masqueradeBit comes from iptables.masqueradeBit in IPVS mode', () => {
    expect(rules('mode: ipvs\niptables: { masqueradeBit: 5 }\n', 'ipvs')).toContain('0x20/0x20');
  });

  it('ipvs.tcpTimeout / tcpFinTimeout / udpTimeout become the IPVS connection timeouts (0 keeps the kernel’s)', () => {
    expect(
      ipvsTimeouts(
        parse({ mode: 'ipvs', ipvs: { tcpTimeout: '5m', tcpFinTimeout: '33s', udpTimeout: '44s' } }),
      ),
    ).toEqual({
      tcpEstablishedS: 300,
      tcpFinWaitS: 33,
      udpS: 44,
    });
    expect(ipvsTimeouts(parse({ mode: 'ipvs' }))).toEqual(DEFAULT_IPVS_TIMEOUTS);
  });

  it('conntrack.maxPerCore × the node’s CPUs, at least conntrack.min, is nf_conntrack_max', () => {
    const cluster = 'apiVersion: dpsim/v1alpha1\nkind: Cluster\nspec:\n  kernel: { cpus: 8 }\n';
    const build = (cfg: string) =>
      buildSmall({
        manifests: `${APP}\n---\n${cluster}\n---\n${HEAD}${cfg}`,
        capture: false,
        conntrackMax: undefined,
      }).proxies.get('node1')!.conntrack!.max;
    expect(build('conntrack: { maxPerCore: 1000, min: 100 }\n')).toBe(8000);
    expect(build('conntrack: { maxPerCore: 1000, min: 20000 }\n')).toBe(20000);
    expect(build('mode: ""\n')).toBe(262144);
  });

  it('conntrack timeouts: tcpEstablishedTimeout, tcpCloseWaitTimeout, udpTimeout, udpStreamTimeout set the sysctls', () => {
    const t = buildSmall({
      manifests: `${APP}\n---\n${HEAD}conntrack: { tcpEstablishedTimeout: 2h, tcpCloseWaitTimeout: 90s, udpTimeout: 45s, udpStreamTimeout: 3m }\n`,
      capture: false,
    }).proxies.get('node1')!.conntrack!.timeouts;
    expect(t.tcp[3]).toBe(7200); // ESTABLISHED
    expect(t.tcp[5]).toBe(90); // CLOSE_WAIT
    expect(t.udp).toBe(45);
    expect(t.udpStream).toBe(180);
  });
});

describe('KubeProxyConfiguration parsing, defaults and validation (kube-proxy’s)', () => {
  it('defaults as defaults.go: masqueradeBit 14, sync 30s / min 1s, conntrack 32768 per core / min 131072, 24h / 1h, healthz 0.0.0.0:10256, metrics 127.0.0.1:10249', () => {
    const c = parse({});
    expect(c.iptables.masqueradeBit).toBe(14);
    expect(c.iptables.localhostNodePorts).toBe(true);
    expect(syncPeriods(c)).toEqual({ syncPeriodNs: 30e9, minSyncPeriodNs: 1e9 });
    expect(c.conntrack).toMatchObject({
      maxPerCore: 32768,
      min: 131072,
      tcpEstablishedTimeoutNs: 86400e9,
      tcpCloseWaitTimeoutNs: 3600e9,
    });
    expect(c.healthzBindAddress).toBe('0.0.0.0:10256');
    expect(c.metricsBindAddress).toBe('127.0.0.1:10249');
  });

  it('syncPeriod / minSyncPeriod are read from the configured mode’s section', () => {
    expect(syncPeriods(parse({ iptables: { syncPeriod: '1m', minSyncPeriod: '5s' } }))).toEqual({
      syncPeriodNs: 60e9,
      minSyncPeriodNs: 5e9,
    });
    expect(
      syncPeriods(parse({ mode: 'nftables', nftables: { syncPeriod: '2h22m', minSyncPeriod: '0s' } })),
    ).toEqual({
      syncPeriodNs: (2 * 3600 + 22 * 60) * 1e9,
      minSyncPeriodNs: 1e9, // 0 is the zero value: defaulted, as defaults.go does
    });
    expect(syncPeriods(parse({ mode: 'ipvs', ipvs: { syncPeriod: '10s', minSyncPeriod: '2s' } }))).toEqual({
      syncPeriodNs: 10e9,
      minSyncPeriodNs: 2e9,
    });
  });

  it('keeps healthzBindAddress / metricsBindAddress (port appended when missing), ipvs.strictARP, ipvs.excludeCIDRs and ipvs timeouts', () => {
    const c = parse({
      healthzBindAddress: '10.0.0.1',
      metricsBindAddress: '0.0.0.0:9999',
      ipvs: {
        strictARP: true,
        excludeCIDRs: ['10.9.0.0/16'],
        tcpTimeout: '15m',
        tcpFinTimeout: '30s',
        udpTimeout: '5m',
      },
    });
    expect(c.healthzBindAddress).toBe('10.0.0.1:10256');
    expect(c.metricsBindAddress).toBe('0.0.0.0:9999');
    expect(c.ipvs).toMatchObject({
      strictARP: true,
      excludeCIDRs: ['10.9.0.0/16'],
      tcpTimeoutNs: 900e9,
      tcpFinTimeoutNs: 30e9,
      udpTimeoutNs: 300e9,
    });
  });

  it.each([
    [
      { iptables: { masqueradeBit: 32 } },
      'KubeProxyConfiguration.KubeProxyIPTablesConfiguration.MasqueradeBit: Invalid value: 32: must be within the range [0, 31]',
    ],
    [
      { mode: 'userspace' },
      'KubeProxyConfiguration.Mode.ProxyMode: Invalid value: "userspace": must be iptables, ipvs, nftables or blank (blank means the best-available proxy [currently iptables])',
    ],
    [
      { iptables: { syncPeriod: '1s', minSyncPeriod: '5s' } },
      'KubeProxyConfiguration.SyncPeriod: Invalid value: 5s: must be greater than or equal to KubeProxyConfiguration.MinSyncPeriod',
    ],
    [
      { nodePortAddresses: ['primary', '10.0.0.0/8'] },
      "KubeProxyConfiguration.NodePortAddresses[0]: Invalid value: \"primary\": can't use both 'primary' and CIDRs",
    ],
    [
      { nodePortAddresses: ['10.0.0.0/33'] },
      'KubeProxyConfiguration.NodePortAddresses[0]: Invalid value: "10.0.0.0/33": must be a valid CIDR',
    ],
    [
      { detectLocalMode: 'Magic' },
      'KubeProxyConfiguration.DetectLocalMode: Unsupported value: "Magic": supported values: "ClusterCIDR", "NodeCIDR", "BridgeInterface", "InterfaceNamePrefix", ""',
    ],
    [
      { detectLocalMode: 'BridgeInterface' },
      'KubeProxyConfiguration.DetectLocalConfiguration.InterfaceName: Invalid value: "": must not be empty',
    ],
    [
      { clusterCIDR: '10.0.0.0' },
      'KubeProxyConfiguration.DetectLocalConfiguration.ClusterCIDRs[0]: Invalid value: "10.0.0.0": must be a valid CIDR block (e.g. 10.100.0.0/16 or fde4:8dba:82e1::/48)',
    ],
    [
      { conntrack: { min: -1 } },
      'KubeProxyConfiguration.KubeProxyLinuxConfiguration.KubeProxyConntrackConfiguration.Min: Invalid value: -1: must be greater than or equal to 0',
    ],
    [
      { metricsBindAddress: '127.0.0.1:99999' },
      'KubeProxyConfiguration.MetricsBindAddress: Invalid value: "99999": must be a valid port',
    ],
    [
      { mode: 'ipvs', ipvs: { tcpTimeout: '-1s' } },
      'KubeProxyConfiguration.KubeProxyIPVSConfiguration.TCPTimeout: Invalid value: -1s: must be greater than or equal to 0',
    ],
  ])('rejects %j with kube-proxy’s message', (yaml, message) => {
    expect(() => parse(yaml)).toThrow(new KubeProxyConfigError(message));
  });

  it('aggregates several field errors as [a, b]', () => {
    expect(() => parse({ iptables: { masqueradeBit: 40 }, conntrack: { min: -2 } })).toThrow(
      /^\[KubeProxyConfiguration\.KubeProxyIPTablesConfiguration\.MasqueradeBit: .*, KubeProxyConfiguration\..*Min: .*\]$/,
    );
  });

  it('names an unknown field (strict decoding), at any depth', () => {
    expect(() => parse({ iptables: { masqueradBit: 3 } })).toThrow(
      'strict decoding error: unknown field "iptables.masqueradBit"',
    );
    expect(() => parse({ foo: 1 })).toThrow('unknown field "foo"');
  });

  it('names a setting dpsim does not model when it is not at its default, and accepts the default', () => {
    expect(() => parse({ iptables: { snatNodeInternalIP: true } })).toThrow(
      'KubeProxyConfiguration field "iptables.snatNodeInternalIP" (true) is not modelled by dpsim',
    );
    expect(() => parse({ featureGates: { KubeProxyNFTablesLocalhostNodePorts: true } })).toThrow(
      '"featureGates" (KubeProxyNFTablesLocalhostNodePorts) is not modelled',
    );
    expect(() => parse({ bindAddress: '10.0.0.1' })).toThrow('"bindAddress"');
    expect(() =>
      parse({
        iptables: { snatNodeInternalIP: false },
        featureGates: {},
        bindAddress: '0.0.0.0',
        clientConnection: { kubeconfig: '/var/lib/kube-proxy/kubeconfig.conf' },
      }),
    ).not.toThrow();
  });

  it('a bad KubeProxyConfiguration among the manifests is a rejected document, the error printed with its file', () => {
    const sim = buildSmall({
      manifests: [{ source: 'kp.yaml', text: `${HEAD}iptables: { bogus: 1 }\n` }],
      capture: false,
    });
    const out = sim.loadResult!.outcomes.find((o) => o.status === 'rejected');
    expect(out?.message).toBe('error: kp.yaml: strict decoding error: unknown field "iptables.bogus"');
    expect(sim.loadResult!.rejected).toBe(true);
  });
});
