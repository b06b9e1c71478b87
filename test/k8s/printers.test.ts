import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { registerGet } from '../../src/cli/get.js';
import { loadManifests } from '../../src/k8s/manifests.js';
import { humanDuration, renderTable, runGet } from '../../src/k8s/printers.js';
import { originNodePort31313Yaml, originScenarioYaml } from '../../src/k8s/scenarios/origin.js';

describe('humanDuration (apimachinery duration.HumanDuration)', () => {
  it.each([
    [0, '0s'],
    [23_000, '23s'],
    [119_000, '119s'],
    [120_000, '2m'],
    [150_000, '2m30s'],
    [300_000, '5m'],
    [600_000, '10m'],
    [3 * 3600_000, '3h'],
    [3 * 3600_000 + 5 * 60_000, '3h5m'],
    [30 * 3600_000, '30h'],
    [52 * 3600_000, '2d4h'],
    [400 * 24 * 3600_000, '400d'],
    [-1500, '0s'],
    [-5000, '<invalid>'],
  ])('%i ms prints as %s', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});

describe('renderTable (kubectl tabwriter: min width 6, padding 3)', () => {
  it('pads every column but the last to the widest cell plus 3, at least 6', () => {
    expect(
      renderTable(
        ['NAME', 'A', 'LAST'],
        [
          ['x', '1', 'tail'],
          ['longer-name', '22', 'z'],
        ],
      ),
    ).toBe(['NAME          A     LAST', 'x             1     tail', 'longer-name   22    z'].join('\n'));
  });
});

const ROW = /^service\/myweb-svc-np {3}NodePort {4}10\.233\.\d+\.\d+ +<none> {8}80:3\d{4}\/TCP {3}0s$/;

describe('get rs,po,svc on the origin scenario', () => {
  const { cluster } = loadManifests(originScenarioYaml);
  const out = runGet(cluster, { args: ['rs,po,svc'] });

  it('prints one table per kind with kind/name prefixes, separated by blank lines', () => {
    expect(out.exitCode).toBe(0);
    const tables = out.stdout.trimEnd().split('\n\n');
    expect(tables).toHaveLength(3);
    expect(tables[0].split('\n')).toEqual([
      'NAME                       DESIRED   CURRENT   READY   AGE',
      'replicaset.apps/myweb-rs   3         3         3       0s',
    ]);
    const pods = tables[1].split('\n');
    expect(pods[0]).toBe('NAME                 READY   STATUS    RESTARTS   AGE');
    expect(pods.slice(1)).toHaveLength(3);
    for (const row of pods.slice(1))
      expect(row).toMatch(/^pod\/myweb-rs-[bcdfghjklmnpqrstvwxz2456789]{5} {3}1\/1 {5}Running {3}0 {10}0s$/);
    const svc = tables[2].split('\n');
    expect(svc[0]).toMatch(/^NAME {19}TYPE {8}CLUSTER-IP +EXTERNAL-IP {3}PORT\(S\) {8}AGE$/);
    expect(svc[1]).toMatch(/^service\/kubernetes {5}ClusterIP {3}10\.233\.0\.1 +<none> {8}443\/TCP {8}5m$/);
    expect(svc[2]).toMatch(ROW);
  });

  it('shows 80:31313/TCP for the fixed-nodePort variant', () => {
    const fixed = loadManifests(originNodePort31313Yaml).cluster;
    const text = runGet(fixed, { args: ['svc', 'myweb-svc-np'] }).stdout;
    expect(text.split('\n')[1]).toMatch(
      /^myweb-svc-np {3}NodePort {3}10\.233\.\d+\.\d+ +<none> {8}80:31313\/TCP {3}0s$/,
    );
  });

  it('prints yaml and json that round-trip to the stored objects', () => {
    const y = parse(runGet(cluster, { args: ['svc'], output: 'yaml' }).stdout);
    expect(y.kind).toBe('List');
    expect(y.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual([
      'kubernetes',
      'myweb-svc-np',
    ]);
    const j = JSON.parse(runGet(cluster, { args: ['svc/myweb-svc-np'], output: 'json' }).stdout);
    expect(j.kind).toBe('Service');
    expect(j.spec).toEqual(cluster.getService('myweb-svc-np')!.spec);
  });

  it('reports unknown types and missing names as kubectl does', () => {
    expect(runGet(cluster, { args: ['foo'] })).toEqual({
      stdout: '',
      stderr: 'error: the server doesn\'t have a resource type "foo"\n',
      exitCode: 1,
    });
    expect(runGet(cluster, { args: ['svc', 'nope'] }).stderr).toBe(
      'Error from server (NotFound): services "nope" not found\n',
    );
    expect(runGet(cluster, { args: ['deploy'] }).stderr).toBe('No resources found in default namespace.\n');
  });

  it('lists endpoints and endpointslices with the kubectl columns', () => {
    const ep = runGet(cluster, { args: ['endpoints', 'myweb-svc-np'] }).stdout.split('\n');
    expect(ep[0]).toMatch(/^NAME {11}ENDPOINTS +AGE$/);
    expect(ep[1]).toMatch(
      /^myweb-svc-np {3}10\.233\.64\.2:8080,10\.233\.65\.2:8080,10\.233\.66\.2:8080 {3}0s$/,
    );
    const es = runGet(cluster, { args: ['endpointslices'] }).stdout.split('\n');
    expect(es[0]).toMatch(/^NAME +ADDRESSTYPE {3}PORTS {3}ENDPOINTS +AGE$/);
    expect(es[2]).toMatch(
      /^myweb-svc-np-[bcdfghjklmnpqrstvwxz2456789]{5} {3}IPv4 {10}8080 {4}10\.233\.64\.2,10\.233\.65\.2,10\.233\.66\.2 {3}0s$/,
    );
  });
});

describe('dpsim get (commander wiring)', () => {
  async function run(argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    let code = 0;
    const program = new Command('dpsim').exitOverride();
    program.option('--service-node-port-range <range>');
    registerGet(program, undefined, {
      stdout: (t) => out.push(t),
      stderr: (t) => err.push(t),
      setExitCode: (c) => {
        code = c;
      },
    });
    await program.parseAsync(['node', 'dpsim', ...argv]);
    return { stdout: out.join(''), stderr: err.join(''), code };
  }

  it('lists the embedded origin scenario with no -f', async () => {
    const r = await run(['get', 'rs,po,svc', '--seed', '5']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('pod/myweb-rs-'))).toHaveLength(3);
    expect(r.stdout).toMatch(/service\/kubernetes {5}ClusterIP {3}10\.233\.0\.1 /);
    expect(r.stdout.split('\n').find((l) => l.startsWith('service/myweb-svc-np'))).toMatch(ROW);
  });

  it('reads -f files, honours global range flags, and exits non-zero on rejected documents', async () => {
    const fixture = new URL('../../fixtures/origin-nodeport-31313.yaml', import.meta.url).pathname;
    const ok = await run(['get', 'svc', '-f', fixture]);
    expect(ok.stdout).toMatch(/80:31313\/TCP/);
    const narrow = await run(['--service-node-port-range', '30000-30100', 'get', 'svc', '-f', fixture]);
    expect(narrow.code).toBe(1);
    expect(narrow.stderr).toContain(
      'The Service "myweb-svc-np" is invalid: spec.ports[0].nodePort: Invalid value: 31313: provided port is not in the valid range. The range of valid ports is 30000-30100',
    );
    const missing = await run(['get', 'svc', '-f', '/nonexistent.yaml']);
    expect(missing).toMatchObject({
      code: 1,
      stderr: 'error: the path "/nonexistent.yaml" does not exist\n',
    });
  });
});
