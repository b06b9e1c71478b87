/**
 * Cilium's IPv6 LB maps on a dual-stack node (issue 15 item 3): lb6_key / lb6_service /
 * lb6_backend / lb6_reverse_nat bytes in bpf/lib/lb.h's layouts, IDs continuing after the
 * node's IPv4 ones, `cilium-dbg bpf lb list` / `service list` with `[addr]:port` frontends;
 * `dpsim rules --mode ebpf --family ipv6 [--view …]`.
 */
import { describe, expect, it } from 'vitest';
import { toProxyModel } from '../../../src/k8s/proxy-model.js';
import { compileEbpf } from '../../../src/proxy/ebpf/compile.js';
import { compileLb6, dumpLb6Maps, renderCiliumLbList6 } from '../../../src/proxy/ebpf/lb6.js';
import { compileIpv6Lb } from '../../../src/sim/ipv6-rules.js';
import { ipv6Bytes, parseIPv6 } from '../../../src/util/ipv6.js';
import { dpsim } from '../../cli/harness.js';
import { dualStackCluster, writeDualStackManifests } from '../iptables/ipv6-scenario.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const addrHex = (a: string) => hex(ipv6Bytes(parseIPv6(a)));

describe('cilium_lb6_* maps of a dual-stack node', () => {
  it('write lb6_key (24 B), lb6_service (12 B), lb6_backend (24 B) and lb6_reverse_nat (18 B) in lb.h’s field order', () => {
    const c = dualStackCluster();
    const state = compileLb6(toProxyModel(c, 'IPv6'), 'node1');
    const dumps = new Map(dumpLb6Maps(state).map((d) => [d.name, d]));
    expect([...dumps.keys()]).toEqual([
      'cilium_lb6_services_v2',
      'cilium_lb6_backends_v3',
      'cilium_lb6_reverse_nat',
      'cilium_lb6_affinity',
      'cilium_lb6_source_range',
    ]);
    const svc = dumps.get('cilium_lb6_services_v2')!;
    expect([svc.keySize, svc.valueSize]).toEqual([24, 12]);
    const v6 = c.getService('web-np')!.spec!.clusterIPs![1];
    const fe = state.frontends.find((f) => f.addr === v6 && f.kind === 'ClusterIP')!;
    // Master slot: address, be16 port 80, slot 0, proto 6, scope 0, pad; value: algorithm random in the top byte, count 3.
    const master = svc.entries.find((e) => hex(e.key) === `${addrHex(v6)}005000000600` + '0000')!;
    expect(master).toBeDefined();
    expect(hex(master.value)).toBe(
      `00000001` + `0300` + fe.revNat.toString(16).padStart(2, '0') + '00' + '0000' + '0000',
    );
    // Slot 1 points at the first backend's ID.
    const slot1 = svc.entries.find((e) => hex(e.key) === `${addrHex(v6)}005001000600` + '0000')!;
    const id = fe.extBackendIds[0];
    expect(hex(slot1.value).slice(0, 8)).toBe(Buffer.from(new Uint32Array([id]).buffer).toString('hex'));
    const backends = dumps.get('cilium_lb6_backends_v3')!;
    expect([backends.keySize, backends.valueSize]).toEqual([4, 24]);
    const b = state.backends.get(id)!;
    const bEntry = backends.entries.find(
      (e) => hex(e.key) === Buffer.from(new Uint32Array([id]).buffer).toString('hex'),
    )!;
    expect(hex(bEntry.value)).toBe(`${addrHex(b.addr)}1f90` + '06' + '00' + '0000' + '00' + '00');
    const rn = dumps.get('cilium_lb6_reverse_nat')!;
    expect([rn.keySize, rn.valueSize]).toEqual([2, 18]);
    const rnEntry = rn.entries.find((e) => e.key[0] === fe.revNat)!;
    expect(hex(rnEntry.value)).toBe(`${addrHex(v6)}0050`);
  });

  it('gives eTP=Local NodePorts an EXT scope of local backends and an INT scope of all, on the node’s IPv6 address', () => {
    const state = compileLb6(toProxyModel(dualStackCluster(), 'IPv6'), 'node1');
    const np = state.frontends.find((f) => f.servicePortName === 'default/local' && f.kind === 'NodePort')!;
    expect(np.addr).toBe('fd00:192:168:100::100');
    expect(np.extBackendIds).toHaveLength(1);
    expect(np.intBackendIds).toHaveLength(3);
    const list = renderCiliumLbList6(state);
    expect(list).toMatch(
      /^\[fd00:192:168:100::100\]:\d+\/TCP\/i +\[::\]:0 \(\d+\) \(0\) \[NodePort, Local, two-scopes\]/m,
    );
    expect(list).not.toMatch(/\d+\.\d+\.\d+\.\d+/);
  });

  it('continue the service and backend IDs after the node’s IPv4 ones (one ID space, as Cilium allocates them)', () => {
    const c = dualStackCluster();
    const v4 = compileEbpf(toProxyModel(c), 'node1');
    const maxRevNat = Math.max(...[...v4.frontends.values()].map((f) => f.revNat));
    const state = compileIpv6Lb(c, 'node1', v4);
    expect(Math.min(...state.frontends.map((f) => f.revNat))).toBe(maxRevNat + 1);
    const v4Backends = new Set([...v4.frontends.values()].flatMap((f) => f.extBackendIds));
    for (const id of state.backends.keys()) expect(v4Backends.has(id)).toBe(false);
    expect([...v4.frontends.keys()].some((k) => k.includes(':') && k.includes('['))).toBe(false);
  });
});

describe('dpsim rules --mode ebpf --family ipv6', () => {
  it('prints the lb6 maps, cilium-dbg bpf lb list and service list, and refuses the CT view', async () => {
    const base = [
      'rules',
      '--dual-stack',
      '--mode',
      'ebpf',
      '--family',
      'ipv6',
      '-f',
      writeDualStackManifests(),
    ];
    const bpf = await dpsim(base);
    expect(bpf.exitCode).toBe(0);
    expect(bpf.stdout).toContain(
      '# bpftool map dump pinned /sys/fs/bpf/tc/globals/cilium_lb6_services_v2\nkey:\nfd 85 ee 78',
    );
    const lb = await dpsim([...base, '--view', 'lb']);
    expect(lb.stdout).toMatch(/^SERVICE ADDRESS +BACKEND ADDRESS \(REVNAT_ID\) \(SLOT\)/);
    expect(lb.stdout).toContain('[fd85:ee78:d8a6:8607::1:2]:8080/TCP');
    const svc = await dpsim([...base, '--view', 'service']);
    expect(svc.stdout).toMatch(/^ID +Frontend +Service Type +Backend/);
    const ct = await dpsim([...base, '--view', 'ct']);
    expect(ct.exitCode).toBe(1);
    expect(ct.stderr).toContain('no view "ct"');
  });
});
