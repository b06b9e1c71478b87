/**
 * kube-proxy's own unit-test goldens (proxier_test.go, Apache-2.0; the expected text is in
 * fixtures/kube-proxy/ with attribution), reproduced by configuring dpsim like each test's
 * fake node through the user-facing configuration: a KubeProxyConfiguration plus the node's
 * kernel facts, turned into compile options exactly as a simulation does. Compared after
 * canonical ordering: the set of chains per table, and each chain's rules in order.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseKernelFacts } from '../../src/config/kernel-facts.js';
import { parseKubeProxyConfiguration } from '../../src/config/kube-proxy-config.js';
import { iptablesOptions } from '../../src/config/node-options.js';
import { compileIptables } from '../../src/proxy/iptables/compile.js';
import { model, overallModel, servicePort } from '../proxy/iptables/helpers.js';

function golden(name: string): string {
  return readFileSync(join(import.meta.dirname, '../../fixtures/kube-proxy', `${name}.txt`), 'utf8')
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n');
}

/** Canonical form: per table, the declared chains (sorted) and each chain's rules in order. */
function canonical(restore: string): Record<string, { chains: string[]; rules: Record<string, string[]> }> {
  const out: Record<string, { chains: string[]; rules: Record<string, string[]> }> = {};
  let table = '';
  for (const line of restore.split('\n')) {
    if (line.startsWith('*')) {
      table = line.slice(1);
      out[table] = { chains: [], rules: {} };
    } else if (line.startsWith(':')) out[table].chains.push(line.split(' ')[0].slice(1));
    else if (line.startsWith('-A ')) {
      const chain = line.split(' ')[1];
      const rules = out[table].rules[chain] ?? [];
      rules.push(line);
      out[table].rules[chain] = rules;
    }
  }
  for (const t of Object.values(out)) t.chains.sort();
  return out;
}

/** The fake proxier writes the mark as a literal 0x4000; kube-proxy itself (and dpsim) write %#08x. */
const fakeMark = (text: string) => text.replaceAll('0x00004000', '0x4000');

/** What the user writes: a KubeProxyConfiguration and the node's kernel facts (Cluster spec.kernel). */
function configured(kubeProxy: Record<string, unknown>, kernel: Record<string, unknown>) {
  const kp = parseKubeProxyConfiguration({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    ...kubeProxy,
  });
  return iptablesOptions(kp, {
    name: 'test-node',
    addresses: ['192.168.0.2'],
    podCIDR: '10.0.0.0/24',
    kernel: parseKernelFacts(kernel, 'kernel'),
  });
}

function onlyLocalModel() {
  return model({
    servicePorts: [
      servicePort({
        namespace: 'ns1',
        name: 'svc1',
        portName: 'p80',
        type: 'NodePort',
        clusterIP: '172.30.0.41',
        port: 80,
        nodePort: 3001,
        externalTrafficPolicy: 'Local',
        endpoints: [
          { ip: '10.180.0.1', port: 80, nodeName: '' },
          { ip: '10.180.2.1', port: 80, nodeName: 'test-node' },
        ],
      }),
    ],
  });
}

describe('kube-proxy proxier_test.go goldens, dpsim configured like the fake node', () => {
  it('TestOverallIPTablesRules: clusterCIDR 10.0.0.0/8, nfacct, no --random-fully, localhost NodePorts, nodePortAddresses unset', () => {
    const options = configured({ clusterCIDR: '10.0.0.0/8' }, { nfacct: true, iptablesRandomFully: false });
    const out = compileIptables(overallModel(), 'test-node', options);
    expect(canonical(fakeMark(out.restoreInput))).toEqual(canonical(golden('TestOverallIPTablesRules')));
  });

  it('TestOnlyLocalNodePorts: nodePortAddresses [192.168.0.0/24], iptables.localhostNodePorts false', () => {
    const options = configured(
      {
        clusterCIDR: '10.0.0.0/8',
        nodePortAddresses: ['192.168.0.0/24'],
        iptables: { localhostNodePorts: false },
      },
      { iptablesRandomFully: false },
    );
    const out = compileIptables(onlyLocalModel(), 'test-node', options);
    expect(canonical(fakeMark(out.restoreInput))).toEqual(canonical(golden('TestOnlyLocalNodePorts')));
  });

  it('TestOnlyLocalNodePortsNoClusterCIDR: no clusterCIDR, so no local-traffic detector', () => {
    const options = configured(
      { nodePortAddresses: ['192.168.0.0/24'], iptables: { localhostNodePorts: false } },
      { iptablesRandomFully: false },
    );
    const out = compileIptables(onlyLocalModel(), 'test-node', options);
    expect(canonical(fakeMark(out.restoreInput))).toEqual(
      canonical(golden('TestOnlyLocalNodePortsNoClusterCIDR')),
    );
  });
});
