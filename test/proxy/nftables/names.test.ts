import { describe, expect, it } from 'vitest';
import {
  endpointChainNameBase,
  endpointNames,
  hashAndTruncate,
  servicePortChainNameBase,
  servicePortChainNames,
} from '../../../src/proxy/nftables/names.js';
import { endpoint, servicePort } from './model-builder.js';

const svc = (ns: string, name: string, portName = 'p80') =>
  servicePort({ namespace: ns, name, portName, clusterIP: '172.30.0.41', port: 80 });

describe('nftables chain names (upstream proxier_test.go values)', () => {
  it('hashes service-port bases like kube-proxy', () => {
    expect(servicePortChainNameBase(svc('ns1', 'svc1'))).toBe('ULMVA6XW-ns1/svc1/tcp/p80');
    expect(servicePortChainNameBase(svc('ns2', 'svc2'))).toBe('42NFTM6N-ns2/svc2/tcp/p80');
    expect(servicePortChainNameBase(svc('ns3', 'svc3'))).toBe('4AT6LBPK-ns3/svc3/tcp/p80');
    expect(servicePortChainNameBase(svc('ns4', 'svc4'))).toBe('LAUZTJTB-ns4/svc4/tcp/p80');
    expect(servicePortChainNameBase(svc('ns5', 'svc5'))).toBe('HVFWP5L3-ns5/svc5/tcp/p80');
    expect(servicePortChainNameBase(svc('testing', 'service', 'http'))).toBe(
      'P4ZYZVCF-testing/service/tcp/http',
    );
    expect(servicePortChainNameBase(svc('testing', 'service', 'https')).slice(0, 9)).toBe('LZBRENCP-');
  });

  it('hashes endpoint bases like kube-proxy', () => {
    expect(endpointChainNameBase(svc('ns1', 'svc1'), endpoint('10.180.0.1', 80, 'n'))).toBe(
      '5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80',
    );
    expect(endpointChainNameBase(svc('ns1', 'svc1'), endpoint('10.180.0.2', 80, 'n'))).toBe(
      '2ZNDXFAB-ns1/svc1/tcp/p80__10.180.0.2/80',
    );
    expect(endpointChainNameBase(svc('ns3', 'svc3'), endpoint('10.180.0.3', 80, 'n'))).toBe(
      'UEIP74TE-ns3/svc3/tcp/p80__10.180.0.3/80',
    );
    expect(endpointChainNameBase(svc('ns4', 'svc4'), endpoint('10.180.0.4', 80, 'n')).slice(0, 8)).toBe(
      'UNZV3OEC',
    );
    expect(endpointChainNameBase(svc('ns4', 'svc4'), endpoint('10.180.0.5', 80, 'n')).slice(0, 8)).toBe(
      '5RFCDDV7',
    );
    expect(endpointChainNameBase(svc('ns5', 'svc5'), endpoint('10.180.0.3', 80, 'n')).slice(0, 8)).toBe(
      'GTK6MW7G',
    );
  });

  it('keeps a trailing slash for unnamed ports and prefixes each chain kind', () => {
    const sp = svc('riset', 'hellopod-np-svc', '');
    expect(servicePortChainNameBase(sp)).toMatch(/^[A-Z2-7]{8}-riset\/hellopod-np-svc\/tcp\/$/);
    const names = servicePortChainNames(svc('ns1', 'svc1'));
    expect(names).toEqual({
      cluster: 'service-ULMVA6XW-ns1/svc1/tcp/p80',
      local: 'local-ULMVA6XW-ns1/svc1/tcp/p80',
      external: 'external-ULMVA6XW-ns1/svc1/tcp/p80',
      firewall: 'firewall-ULMVA6XW-ns1/svc1/tcp/p80',
    });
    expect(endpointNames(svc('ns5', 'svc5'), endpoint('10.180.0.3', 80, 'n'))).toEqual({
      chain: 'endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80',
      affinitySet: 'affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80',
    });
  });

  it('truncates names longer than 240 characters with "..." after the hash', () => {
    const long = `${'a'.repeat(63)}/${'b'.repeat(63)}/tcp/${'c'.repeat(63)}__10.0.0.1/80${'x'.repeat(60)}`;
    const out = hashAndTruncate(long);
    expect(out).toHaveLength(240);
    expect(out.endsWith('...')).toBe(true);
    expect(out.slice(9, 20)).toBe(long.slice(0, 11));
    expect(hashAndTruncate('short')).toMatch(/^[A-Z2-7]{8}-short$/);
  });
});
