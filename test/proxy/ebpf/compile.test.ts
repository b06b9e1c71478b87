import { describe, expect, it } from 'vitest';
import {
  compileEbpf,
  dumpMaps,
  EbpfCompileError,
  formatBpftoolPlain,
  renderBpftoolJson,
  renderCiliumLbList,
} from '../../../src/proxy/ebpf/index.js';
import { ep, model, svcPort } from './fixtures.js';

const SMALL = { lbMapMax: 256, ctTcpMax: 64, ctAnyMax: 16, natMax: 16, sourceRangesMax: 8 };

const web = svcPort({
  name: 'web',
  clusterIP: '10.96.0.10',
  type: 'LoadBalancer',
  nodePort: 30080,
  loadBalancerIPs: ['203.0.113.1'],
  loadBalancerSourceRanges: ['10.0.0.0/8'],
  endpoints: [ep('10.244.0.5', 8080, 'node-a'), ep('10.244.1.6', 8080, 'node-b')],
});
const local = svcPort({
  name: 'local',
  clusterIP: '10.96.0.11',
  type: 'NodePort',
  nodePort: 30081,
  externalTrafficPolicy: 'Local',
  externalIPs: ['198.18.0.1'],
  endpoints: [ep('10.244.0.7', 8080, 'node-a'), ep('10.244.1.8', 8080, 'node-b')],
});
const itpLocal = svcPort({
  name: 'itp',
  clusterIP: '10.96.0.12',
  internalTrafficPolicy: 'Local',
  endpoints: [ep('10.244.0.9', 80, 'node-a'), ep('10.244.1.9', 80, 'node-b')],
});

function serviceEntries(lb: ReturnType<typeof compileEbpf>, addrPrefix: string): string[] {
  const d = dumpMaps(lb).find((m) => m.name === 'cilium_lb4_services_v2')!;
  return d.entries
    .map((e) => `${Buffer.from(e.key).toString('hex')}=${Buffer.from(e.value).toString('hex')}`)
    .filter((s) => s.startsWith(addrPrefix))
    .sort();
}

describe('compile: ProxyModel → Cilium LB maps', () => {
  it('installs ClusterIP, NodePort, externalIP and LoadBalancer frontends with Cilium flags', () => {
    const lb = compileEbpf(model([web, local, itpLocal]), 'node-a', { mapSizes: SMALL });
    const list = renderCiliumLbList(lb);
    expect(list.split('\n')[0]).toMatch(/^SERVICE ADDRESS {3,}BACKEND ADDRESS \(REVNAT_ID\) \(SLOT\)/);
    expect(list).toMatch(/10\.96\.0\.10:80\/TCP +0\.0\.0\.0:0 \(\d+\) \(0\) \[ClusterIP, non-routable\]/);
    expect(list).toMatch(/192\.168\.0\.10:30080\/TCP +0\.0\.0\.0:0 \(\d+\) \(0\) \[NodePort\]/);
    expect(list).toMatch(
      /203\.0\.113\.1:80\/TCP +0\.0\.0\.0:0 \(\d+\) \(0\) \[LoadBalancer, check source-range\]/,
    );
    expect(list).toMatch(
      /198\.18\.0\.1:80\/TCP +0\.0\.0\.0:0 \(\d+\) \(0\) \[ExternalIPs, Local, two-scopes\]/,
    );
    expect(list).toMatch(
      /10\.96\.0\.12:80\/TCP +0\.0\.0\.0:0 \(\d+\) \(0\) \[ClusterIP, InternalLocal, non-routable\]/,
    );
  });

  it('lists only node-local backends for externalTrafficPolicy=Local (EXT scope) and all of them in the INT scope', () => {
    const lb = compileEbpf(model([local]), 'node-a', { mapSizes: SMALL });
    const np = [...lb.frontends.values()].find((f) => f.plan.kind === 'NodePort')!;
    expect(np.plan.extBackends.map((b) => b.key)).toEqual(['10.244.0.7:8080/TCP']);
    expect(np.plan.intBackends!.map((b) => b.key)).toEqual(['10.244.0.7:8080/TCP', '10.244.1.8:8080/TCP']);
    const cip = [...lb.frontends.values()].find((f) => f.plan.kind === 'ClusterIP')!;
    expect(cip.plan.extBackends).toHaveLength(2);
  });

  it('lists only local backends for a ClusterIP with internalTrafficPolicy=Local', () => {
    const lb = compileEbpf(model([itpLocal]), 'node-b', { mapSizes: SMALL });
    const cip = [...lb.frontends.values()][0];
    expect(cip.plan.extBackends.map((b) => b.key)).toEqual(['10.244.1.9:80/TCP']);
  });

  it('updates only the changed service when one endpoint changes, keeping rev-NAT and backend IDs', () => {
    const lb = compileEbpf(model([web, local]), 'node-a', { mapSizes: SMALL });
    const before = serviceEntries(lb, '0a60000b'); // local's ClusterIP entries
    const revNats = new Map([...lb.frontends].map(([k, f]) => [k, f.revNat]));
    const webBackend = lb.frontends.get('10.96.0.10:80/TCP')!.extBackendIds[0];
    const changed = { ...web, endpoints: [...web.endpoints, ep('10.244.1.10', 8080, 'node-b')] };
    const stats = lb.sync(model([changed, local]));
    expect(stats.frontendsUpdated).toBe(3); // web's ClusterIP, NodePort, LoadBalancer
    expect(stats.frontendsUnchanged).toBe(3); // local's ClusterIP, NodePort, externalIP
    expect(stats.frontendsAdded + stats.frontendsRemoved).toBe(0);
    expect(stats.backendsAdded).toBe(1);
    expect(stats.serviceEntriesTouched).toBe(3 * 4); // master + 3 slots per web frontend
    expect(serviceEntries(lb, '0a60000b')).toEqual(before);
    for (const [k, f] of lb.frontends) expect(f.revNat).toBe(revNats.get(k));
    expect(lb.frontends.get('10.96.0.10:80/TCP')!.extBackendIds[0]).toBe(webBackend);
    expect(lb.sync(model([changed, local])).frontendsUnchanged).toBe(6);
  });

  it('removes every entry of a deleted service and frees its backends', () => {
    const lb = compileEbpf(model([web, local]), 'node-a', { mapSizes: SMALL });
    const stats = lb.sync(model([local]));
    expect(stats.frontendsRemoved).toBe(3);
    expect(serviceEntries(lb, '0a60000a')).toEqual([]);
    expect(lb.maps.revNat.count).toBe(3);
    expect(renderCiliumLbList(lb)).not.toContain('10.96.0.10');
    expect(stats.backendsRemoved).toBe(2); // neither web backend serves another service
    expect(dumpMaps(lb).find((d) => d.name === 'cilium_lb4_backends_v3')!.entries).toHaveLength(2);
  });

  it('shrinks the service slots when backends go away', () => {
    const lb = compileEbpf(model([web]), 'node-a', { mapSizes: SMALL });
    lb.sync(model([{ ...web, endpoints: [web.endpoints[0]] }]));
    expect(serviceEntries(lb, '0a60000a')).toHaveLength(2); // master + slot 1
  });

  it('rejects an unknown node and a bad Maglev table size with specific errors', () => {
    expect(() => compileEbpf(model([web]), 'node-z')).toThrow(EbpfCompileError);
    expect(() => compileEbpf(model([web]), 'node-a', { algorithm: 'maglev', maglevTableSize: 1000 })).toThrow(
      /invalid Maglev table size 1000/,
    );
  });

  it('fills one Maglev table per frontend with backend IDs in near-equal shares', () => {
    const lb = compileEbpf(model([web]), 'node-a', {
      mapSizes: SMALL,
      algorithm: 'maglev',
      maglevTableSize: 1021,
    });
    expect(lb.maps.maglevOuter.count).toBe(3);
    for (const f of lb.frontends.values()) {
      const table = lb.maps.maglevInner[f.maglevInner]!.values;
      const counts = new Map<number, number>();
      for (const id of table) counts.set(id, (counts.get(id) ?? 0) + 1);
      expect([...counts.keys()].sort()).toEqual([...f.extBackendIds].sort());
      expect([...counts.values()].sort()).toEqual([510, 511]);
    }
  });
});

describe('render', () => {
  it('prints bpftool plain dumps with the kernel byte layout', () => {
    const lb = compileEbpf(model([web]), 'node-a', { mapSizes: SMALL });
    const svc = dumpMaps(lb).find((d) => d.name === 'cilium_lb4_services_v2')!;
    const text = formatBpftoolPlain(svc);
    // ClusterIP master: 10.96.0.10, port 80 (be), slot 0, TCP, scope 0 → count 2, algorithm random (1<<24).
    expect(text).toMatch(
      /^key: 0a 60 00 0a 00 50 00 00 {2}06 00 00 00 {2}value: 00 00 00 01 02 00 \d\d 00 {2}00 00 00 00$/m,
    );
    expect(text.trimEnd().split('\n').at(-1)).toBe(`Found ${svc.entries.length} elements`);
    const revnat = formatBpftoolPlain(dumpMaps(lb).find((d) => d.name === 'cilium_lb4_reverse_nat')!);
    expect(revnat).toMatch(/^key: 0\d 00 {2}value: cb 00 71 01 00 50$/m);
  });

  it('breaks lines for keys or values over 16 bytes as bpftool does', () => {
    const text = formatBpftoolPlain({
      name: 'x',
      keySize: 14,
      valueSize: 20,
      entries: [{ key: new Uint8Array(14), value: Uint8Array.from({ length: 20 }, (_, i) => i) }],
    });
    expect(text).toBe(
      'key:\n00 00 00 00 00 00 00 00  00 00 00 00 00 00\nvalue:\n00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f\n10 11 12 13\nFound 1 element\n',
    );
  });

  it('prints bpftool -j dumps as arrays of {key, value} hex-byte strings', () => {
    const lb = compileEbpf(model([web]), 'node-a', { mapSizes: SMALL });
    const all = JSON.parse(renderBpftoolJson(lb)) as Record<string, { key: string[]; value: string[] }[]>;
    const backends = all['cilium_lb4_backends_v3'];
    expect(backends).toHaveLength(2);
    expect(backends[0].key).toEqual(['0x01', '0x00', '0x00', '0x00']);
    expect(backends[0].value.slice(0, 7)).toEqual(['0x0a', '0xf4', '0x00', '0x05', '0x1f', '0x90', '0x06']);
  });
});
