/**
 * A real node's `ipvsadm -Ln` as input (issue 12 item 6): its virtual servers replace the
 * compiled ones; dpsim's own listing fed back prints the same and balances the same, over
 * generated scenarios; what it cannot read is a named error.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IpvsadmParseError, parseIpvsadmList } from '../../../src/proxy/ipvs/parse-ipvsadm.js';
import { buildSimulation } from '../../../src/sim/simulation.js';
import { dpsim } from '../../cli/harness.js';
import { genService, scenario } from '../../helpers/generated-scenarios.js';

describe('ipvsadm -Ln as input', () => {
  it('round trip over generated scenarios: node1’s listing fed back lists the same, picks the same backends and leaves the same conntrack view', () => {
    fc.assert(
      fc.property(
        fc.array(genService, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 1000 }),
        (svcs, seed) => {
          const manifests = scenario(svcs);
          const compiled = buildSimulation({ manifests, mode: 'ipvs', seed });
          const listing = compiled.rules('node1');
          const fed = buildSimulation({ manifests, mode: 'ipvs', seed, ipvsadm: listing });
          expect(fed.rules('node1')).toBe(listing);
          const targets = compiled.model.servicePorts
            .filter((sp) => sp.name.startsWith('svc'))
            .flatMap((sp) => [
              `http://${sp.clusterIP}:${sp.port}/`,
              ...(sp.nodePort !== 0 ? [`http://192.168.100.100:${sp.nodePort}/`] : []),
            ]);
          for (const url of targets) {
            for (let k = 0; k < 3; k++) {
              const a = compiled.curl({ from: 'client', url, connectTimeoutMs: 300 });
              const b = fed.curl({ from: 'client', url, connectTimeoutMs: 300 });
              expect([url, b.exitCode, b.servedBy?.pod]).toEqual([url, a.exitCode, a.servedBy?.pod]);
            }
          }
          expect(fed.conntrackList('node1')).toBe(compiled.conntrackList('node1'));
          expect(fed.rules('node1', { part: 'connections' })).toBe(
            compiled.rules('node1', { part: 'connections' }),
          );
        },
      ),
      { numRuns: 8 },
    );
  });

  it('reads scheduler flags, persistence and weights; an unequal wrr listing shows in the shares', () => {
    const sim = buildSimulation({ mode: 'ipvs', seed: 1 });
    const listing = sim
      .rules('node1')
      .replace(/^(TCP {2}10\.233\.39\.88:80) rr$/m, '$1 wrr persistent 10800')
      .replace(/(-> 10\.233\.64\.2:8080\s+Masq\s+)1 /g, '$13 ');
    const vs = parseIpvsadmList(listing, sim.model).find((v) => v.address === '10.233.39.88')!;
    expect(vs).toMatchObject({ kind: 'ClusterIP', scheduler: 'wrr', flags: 1, timeoutS: 10800 });
    expect(vs.realServers.map((r) => [r.podName !== '', r.weight])).toEqual([
      [true, 3],
      [true, 1],
      [true, 1],
    ]);
    const fed = buildSimulation({ mode: 'ipvs', seed: 1, ipvsadm: listing });
    const row = fed.shares('node1').find((r) => r.path.startsWith('TCP 10.233.39.88:80'))!;
    expect(row.agree).toBe(false);
    expect(row.problem).toMatch(/10\.233\.64\.2:8080 gets 60\.0000%, intended 33\.3333%/);
  });

  it('names what it cannot read: --stats output, a DR real server, an unknown scheduler', () => {
    const sim = buildSimulation({ mode: 'ipvs', seed: 1 });
    const stats = sim.rules('node1', { counters: true });
    expect(() => parseIpvsadmList(stats, sim.model)).toThrow(/give the plain `ipvsadm -Ln` listing/);
    const plain = sim.rules('node1');
    expect(() => parseIpvsadmList(plain.replace('Masq', 'Route'), sim.model)).toThrow(
      /line 5: forwarding method Route/,
    );
    expect(() => parseIpvsadmList(plain.replace(' rr\n', ' fancy\n'), sim.model)).toThrow(IpvsadmParseError);
  });

  it('dpsim --ipvsadm runs the listing (and refuses it outside IPVS mode)', async () => {
    const fs = await import('node:fs');
    const dir = fs.mkdtempSync('/tmp/dpsim-ipvsadm-');
    fs.writeFileSync(`${dir}/n1.txt`, buildSimulation({ mode: 'ipvs', seed: 1 }).rules('node1'));
    const ok = await dpsim(['curl', '--mode', 'ipvs', '--ipvsadm', `${dir}/n1.txt`, '192.168.100.100:31244']);
    expect([ok.exitCode, ok.stdout]).toEqual([0, expect.stringMatching(/^Hello World!\nmyweb-rs-/)]);
    const wrong = await dpsim(['curl', '--ipvsadm', `${dir}/n1.txt`, '192.168.100.100:31244']);
    expect([wrong.exitCode, wrong.stderr]).toEqual([
      1,
      'error: --ipvsadm is a listing of IPVS mode: run it with --mode ipvs\n',
    ]);
  });
});
