/**
 * IPVS mode on a dual-stack cluster with a hashing scheduler (issue 15): the IPv6 virtual
 * servers hash the kernel's fold of each 128-bit address, not the address-table index the
 * simulation's IPv6 packets carry, and curl over IPv6 still reaches a backend.
 */
import { describe, expect, it } from 'vitest';
import { ipv6AddrFold } from '../../src/proxy/ipvs/index.js';
import { ipv6Bytes, parseIPv6 } from '../../src/util/ipv6.js';
import { buildSmall, fixture } from './harness.js';

const fold = (text: string) => ipv6AddrFold(ipv6Bytes(parseIPv6(text)), 0);

describe('IPv6 IPVS with --ipvs-scheduler sh', () => {
  it('hashes the folded IPv6 address of the client and answers curl http://[ClusterIP6] from every pod on the backend the fold picks', () => {
    const sim = buildSmall({
      manifests: fixture('origin-dual-stack.yaml'),
      clusterOptions: { dualStack: true },
      mode: 'ipvs',
      ipvsScheduler: 'sh',
      seed: 1,
    });
    const svc = sim.cluster.services().find((s) => s.metadata?.name === 'myweb-svc-np')!;
    const clusterIP6 = svc.spec!.clusterIPs![1];
    const pods = sim.cluster.pods().filter((p) => p.metadata!.name!.startsWith('myweb-rs-'));
    expect(pods.length).toBe(3);
    for (const pod of pods) {
      const o = sim.curl({ from: `pod/${pod.metadata!.name}`, url: `http://[${clusterIP6}]:80/` });
      expect(o.exitCode).toBe(0);
      const node = pod.spec!.nodeName!;
      const ipvs = sim.ipv6!.ipvs.get(node)!;
      const addresses = sim.ipv6!.topology6.addresses;
      const vs = ipvs.services.find(6, addresses.internText(clusterIP6), 80)!;
      expect(vs.scheduler.name).toBe('sh');
      const podIp6 = pod.status!.podIPs!.find((a) => a.ip!.includes(':'))!.ip!;
      const client = addresses.internText(podIp6);
      expect(vs.addressFold(client)).toBe(fold(podIp6));
      const chosen = vs.scheduler.schedule(vs, client, 0, vs.addr)!;
      // The pod the fold's bucket names is the one that answered.
      const served = sim.cluster
        .pods()
        .find((p) =>
          p.status!.podIPs!.some((a) => a.ip!.includes(':') && addresses.internText(a.ip!) === chosen.addr),
        )!;
      expect(o.stdout).toContain(served.metadata!.name!);
    }
  });
});
