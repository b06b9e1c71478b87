/**
 * Issue 13 item 5, the A/AAAA race end to end: a pod's resolver sends A and AAAA at the same
 * instant from one socket to the kube-dns ClusterIP (two CoreDNS pods behind it); on the pod's
 * node both queries race through conntrack. On a kernel without clash resolution (4.14) the
 * second insert fails, its reply never comes, and glibc's lookup waits its 5 s timeout before
 * retrying one query at a time; a current kernel (6.1) resolves the clash and the lookup takes
 * well under a millisecond; `options single-request-reopen` in the pod's dnsConfig sends the
 * two queries one after the other from two sockets, so nothing races even on 4.14.
 */
import { describe, expect, it } from 'vitest';
import { CtStat } from '../../src/conntrack/index.js';
import { originScenarioYaml } from '../../src/k8s/index.js';
import { buildSimulation } from '../../src/sim/simulation.js';

const CLIENTS = `
---
apiVersion: v1
kind: Pod
metadata: {name: client-default}
spec: {nodeName: node1, containers: [{name: c, image: go-myweb:1.0}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client-reopen}
spec:
  nodeName: node1
  containers: [{name: c, image: go-myweb:1.0}]
  dnsConfig:
    options: [{name: single-request-reopen}]
`;

function cluster(kernel: string) {
  const sim = buildSimulation({
    manifests: `${originScenarioYaml}${CLIENTS}
---
apiVersion: dpsim/v1alpha1
kind: Cluster
spec:
  kernel: { version: "${kernel}", cpus: 2 }
`,
    mode: 'iptables',
    conntrackMax: 4096,
  });
  return sim;
}

function lookup(sim: ReturnType<typeof cluster>, pod: string) {
  const from = `pod/${pod}`;
  return sim.dns.lookup(sim.host(from), sim.dns.resolvConf(from), 'myweb-svc-np');
}

describe('the A/AAAA conntrack race through the kube-dns Service', () => {
  it('kernel 4.14 (no clash resolution): one reply is lost, the lookup takes the 5 s timeout, then succeeds one query at a time', () => {
    const sim = cluster('4.14.0');
    const out = lookup(sim, 'client-default');
    expect(out.ok).toBe(true);
    expect(out.ok && out.addresses).toEqual([sim.cluster.getService('myweb-svc-np')?.spec?.clusterIP]);
    expect(out.elapsedNs).toBeGreaterThanOrEqual(5e9);
    expect(out.elapsedNs).toBeLessThan(5.1e9);
    expect(out.log.join('\n')).toMatch(
      /timeout after 5 s with 1 of 2 replies[\s\S]*switching to single-request/,
    );
    const ct = sim.proxies.get('node1')!.conntrack!;
    expect(ct.stats[CtStat.INSERT_FAILED]).toBe(1);
  });

  it('kernel 6.1 (clash resolution): both replies arrive, no 5 s wait, nothing dropped', () => {
    const sim = cluster('6.1.0');
    const out = lookup(sim, 'client-default');
    expect(out.ok).toBe(true);
    expect(out.elapsedNs).toBeLessThan(1e6);
    expect(sim.proxies.get('node1')!.conntrack!.stats[CtStat.INSERT_FAILED]).toBe(0);
  });

  it('kernel 4.14 with options single-request-reopen (the pod’s dnsConfig): the queries do not race, no 5 s wait', () => {
    const sim = cluster('4.14.0');
    expect(sim.dns.resolvConf('pod/client-reopen').singleRequestReopen).toBe(true);
    const out = lookup(sim, 'client-reopen');
    expect(out.ok).toBe(true);
    expect(out.elapsedNs).toBeLessThan(1e6);
    expect(sim.proxies.get('node1')!.conntrack!.stats[CtStat.INSERT_FAILED]).toBe(0);
  });
});
