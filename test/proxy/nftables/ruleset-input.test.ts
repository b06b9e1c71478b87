/**
 * A real node's `nft list ruleset` as input (issue 12 item 6): parsed back into kube-proxy's
 * table, it prints the same text and behaves the same, over generated scenarios; what dpsim
 * cannot read is a named error, and a dump whose chains no hook reaches is said to be one.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderTable } from '../../../src/proxy/nftables/index.js';
import { NftParseError, parseNftRuleset } from '../../../src/proxy/nftables/parse.js';
import { buildSimulation } from '../../../src/sim/simulation.js';
import { dpsim } from '../../cli/harness.js';
import { genService, scenario } from '../../helpers/generated-scenarios.js';

describe('nft list ruleset as input', () => {
  it('round trip over generated scenarios: every node’s dump parses back to the same text, and the dump fed back picks the same backends and leaves the same conntrack view', () => {
    fc.assert(
      fc.property(
        fc.array(genService, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 1000 }),
        (svcs, seed) => {
          const manifests = scenario(svcs);
          const compiled = buildSimulation({ manifests, mode: 'nftables', seed });
          for (const node of compiled.proxies.keys()) {
            const text = compiled.rules(node);
            expect(renderTable(parseNftRuleset(text, { name: node, ip: '192.168.100.100' }).table)).toBe(
              text,
            );
          }
          // Fed back (node1's dump on every node, as --nft-ruleset gives it): the client's
          // connections enter at node1, whose rules decide, with the same random draws.
          const fed = buildSimulation({
            manifests,
            mode: 'nftables',
            seed,
            nftRuleset: compiled.rules('node1'),
          });
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
        },
      ),
      { numRuns: 8 },
    );
  });

  it('skips other tables with a warning and refuses a ruleset without kube-proxy’s table', () => {
    const text = buildSimulation({ mode: 'nftables', seed: 1 }).rules('node1');
    const other =
      'table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t}\n}\n';
    const parsed = parseNftRuleset(other + text, { name: 'node1', ip: '192.168.100.100' });
    expect(parsed.warnings).toEqual([
      "table inet filter skipped: dpsim runs kube-proxy's table ip kube-proxy only",
    ]);
    expect(() => parseNftRuleset(other, { name: 'node1', ip: '192.168.100.100' })).toThrow(
      /no table ip kube-proxy/,
    );
  });

  it('names the line of a statement dpsim cannot read', () => {
    const text = buildSimulation({ mode: 'nftables', seed: 1 })
      .rules('node1')
      .replace('\t\tjump services\n', '\t\tlog prefix "x" jump services\n');
    const line = text.split('\n').findIndex((l) => l.includes('log prefix')) + 1;
    expect(() => parseNftRuleset(text, { name: 'node1', ip: '192.168.100.100' })).toThrow(NftParseError);
    expect(() => parseNftRuleset(text, { name: 'node1', ip: '192.168.100.100' })).toThrow(
      `nft ruleset line ${line}: cannot read "log"`,
    );
  });

  it('a dump without the base chains’ hooks is said to reach nothing; one without the jump to services names the chain', () => {
    const text = buildSimulation({ mode: 'nftables', seed: 1 }).rules('node1');
    const noHooks = text
      .split('\n')
      .filter((l) => !/^\t\ttype \w+ hook /.test(l))
      .join('\n');
    expect(parseNftRuleset(noHooks, { name: 'node1', ip: '192.168.100.100' }).warnings).toEqual([
      'table ip kube-proxy has no base chain (no "type … hook … priority …" line): no packet reaches any of its chains',
    ]);
    const noJump = text.replaceAll('\t\tjump services\n', '');
    expect(parseNftRuleset(noJump, { name: 'node1', ip: '192.168.100.100' }).warnings).toEqual([
      'chain services (2 rules) is not reached from any base chain; no packet will match it',
    ]);
  });

  it('dpsim --nft-ruleset runs the dump (and refuses it outside nftables mode)', async () => {
    const fs = await import('node:fs');
    const dir = fs.mkdtempSync('/tmp/dpsim-nft-');
    fs.writeFileSync(`${dir}/n1.nft`, buildSimulation({ mode: 'nftables', seed: 1 }).rules('node1'));
    const ok = await dpsim([
      'curl',
      '--mode',
      'nftables',
      '--nft-ruleset',
      `${dir}/n1.nft`,
      '192.168.100.100:31244',
    ]);
    expect([ok.exitCode, ok.stdout]).toEqual([0, expect.stringMatching(/^Hello World!\nmyweb-rs-/)]);
    const wrong = await dpsim(['curl', '--nft-ruleset', `${dir}/n1.nft`, '192.168.100.100:31244']);
    expect([wrong.exitCode, wrong.stderr]).toEqual([
      1,
      'error: --nft-ruleset is a dump of nftables mode: run it with --mode nftables\n',
    ]);
  });
});
