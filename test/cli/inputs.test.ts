/**
 * Inputs as kubectl takes them (-f DIR, -f -, -l, --show-labels, an empty file), what every
 * command says about kinds dpsim does not simulate (one warning line on stderr), and `run`
 * stopping after a manifest error before it writes any capture.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { originScenarioYaml } from '../../src/k8s/scenarios/origin.js';
import { dpsim } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'dpsim-inputs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const EXTRAS = `---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: one}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: two}
`;
const withExtras = join(dir, 'with-extras.yaml');
writeFileSync(withExtras, `${originScenarioYaml}\n${EXTRAS}`);
const WARNING = 'warning: ignored 1 Ingress, 2 ConfigMap (not simulated)\n';

describe('every command names the kinds it ignored, once, on stderr', () => {
  it.each([
    [['get', 'po']],
    [['run', '--no-pcap', '-n', '1']],
    [['rules']],
    [['curl', '192.168.100.100:31244']],
    [['trace', '192.168.100.100:31244']],
    [['conntrack', '-L', '-n', '0']],
    [['load', '--flows', '5', '--packets', '20']],
  ])('%j', async (args) => {
    const r = await dpsim([...args, '-f', withExtras]);
    expect(r.stderr.split(WARNING)).toHaveLength(2);
    expect(r.stderr).not.toMatch(/not simulated;/);
    expect(r.exitCode).toBe(0);
  });
});

describe('-f as kubectl takes it', () => {
  it('-f DIR reads its .yaml/.yml/.json files in name order and nothing else, without recursing', async () => {
    const d = join(dir, 'manifests');
    mkdirSync(join(d, 'nested'), { recursive: true });
    writeFileSync(join(d, 'b-origin.yaml'), originScenarioYaml);
    writeFileSync(
      join(d, 'a-extra.json'),
      JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'from-json' } }),
    );
    writeFileSync(join(d, 'notes.txt'), 'kind: Definitely not YAML: [');
    writeFileSync(join(d, 'nested', 'deep.yaml'), 'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n');
    const r = await dpsim(['get', 'po', '-f', d, '-o', 'name']);
    expect(r.stdout.trim().split('\n')).toHaveLength(3);
    expect(r.stderr).toBe('warning: ignored 1 ConfigMap (not simulated)\n');
    expect(r.exitCode).toBe(0);
  });

  it('-f - reads the manifests from standard input', async () => {
    const r = await dpsim(['get', 'svc', '-f', '-', '-o', 'name'], { stdin: originScenarioYaml });
    expect(r.stdout).toBe('service/kubernetes\nservice/myweb-svc-np\n');
    expect(r.exitCode).toBe(0);
  });

  it('an empty file: error: no objects passed to apply, exit 1', async () => {
    const empty = join(dir, 'empty.yaml');
    writeFileSync(empty, '# nothing here\n---\n');
    for (const args of [
      ['get', 'po'],
      ['run', '--no-pcap'],
    ]) {
      const r = await dpsim([...args, '-f', empty]);
      expect(r.stderr).toBe('error: no objects passed to apply\n');
      expect(r.exitCode).toBe(1);
    }
  });
});

describe('get -l / --show-labels', () => {
  it('-l selects by label, --show-labels adds the LABELS column', async () => {
    const r = await dpsim(['get', 'po', '-l', 'app=web,env in (dev,prod)', '--show-labels']);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+LABELS$/);
    expect(lines.slice(1)).toHaveLength(3);
    for (const l of lines.slice(1)) expect(l).toMatch(/\sapp=web,env=dev$/);
  });

  it('a selector matching nothing: No resources found, exit 0', async () => {
    const r = await dpsim(['get', 'po', '--selector', 'app!=web']);
    expect([r.stdout, r.stderr, r.exitCode]).toEqual(['', 'No resources found in default namespace.\n', 0]);
  });

  it('a malformed selector is one error line', async () => {
    const r = await dpsim(['get', 'po', '-l', 'app=web,,']);
    expect(r.stderr).toMatch(/^error: unable to parse requirement: .*\n$/);
    expect(r.exitCode).toBe(1);
  });
});

describe('run after a manifest error', () => {
  it('prints the error and stops before writing any capture', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      `${originScenarioYaml}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: broken}\nspec:\n  type: NodePort\n  ports: [{port: 80, nodePort: 99999}]\n`,
    );
    const pcap = join(dir, 'after-error.pcapng');
    const r = await dpsim(['run', '-f', bad, '--pcap', pcap]);
    expect(r.stderr).toMatch(/^The Service "broken" is invalid: .*nodePort.*\n$/);
    expect(r.stdout).toBe('');
    expect(r.exitCode).toBe(1);
    expect(existsSync(pcap)).toBe(false);
  });
});
