/**
 * dpsim as a dependency of another package: pack it as `npm pack` would publish it, install the
 * tarball into a scratch project without the network, type-check the README's library example
 * against the shipped declarations, run it, and run the shipped `dpsim` command.
 *
 * The package is built in a staging copy (the repo's own dist/ is left alone, other tests may
 * be using it). The scratch install is `npm ci --offline` from a lock file derived from this
 * repo's: the runtime dependencies' tarballs are already in npm's cache from the repo's own
 * install, and dpsim itself comes from the tarball.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '../..');
const TSC = join(REPO, 'node_modules/typescript/bin/tsc');

interface PackEntry {
  readonly path: string;
}

let work = '';
let scratch = '';
let packed: readonly string[] = [];

/** The ```ts block of the README's "Using dpsim as a library" section, and the output block after it. */
function readmeExample(): { code: string; output: string } {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const section = readme.split('## Using dpsim as a library')[1]?.split('\n## ')[0] ?? '';
  const blocks = [...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], text: m[2] }));
  const at = blocks.findIndex((b) => b.lang === 'ts');
  const code = blocks[at]?.text;
  const output = blocks[at + 1]?.lang === '' ? blocks[at + 1].text : undefined;
  if (code === undefined || output === undefined) throw new Error('README has no library example');
  return { code, output };
}

function run(cmd: string, args: readonly string[], cwd: string): { status: number; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'dpsim-pack-'));
  const stage = join(work, 'stage');
  mkdirSync(stage);
  for (const f of ['package.json', 'README.md', 'tsconfig.json', 'tsconfig.build.json'])
    cpSync(join(REPO, f), join(stage, f));
  cpSync(join(REPO, 'src'), join(stage, 'src'), { recursive: true });
  symlinkSync(join(REPO, 'node_modules'), join(stage, 'node_modules'));
  execFileSync(process.execPath, [TSC, '-p', 'tsconfig.build.json'], { cwd: stage });
  const json = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
    cwd: stage,
    encoding: 'utf8',
  });
  const [info] = JSON.parse(json) as { filename: string; files: PackEntry[] }[];
  packed = info.files.map((f) => f.path);
  const tarball = join(work, info.filename);

  scratch = join(work, 'consumer');
  mkdirSync(scratch);
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
  const spec = `file:${tarball}`;
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', dependencies: { dpsim: spec } },
    'node_modules/dpsim': {
      version: pkg.version,
      resolved: spec,
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  for (const [key, entry] of Object.entries(lock.packages))
    if (key.startsWith('node_modules/') && entry.dev !== true) packages[key] = entry;
  writeFileSync(
    join(scratch, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { dpsim: spec } }),
  );
  writeFileSync(
    join(scratch, 'package-lock.json'),
    JSON.stringify({ name: 'consumer', lockfileVersion: 3, requires: true, packages }),
  );
  const install = run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], scratch);
  if (install.status !== 0) throw new Error(`offline install of the tarball failed:\n${install.out}`);
  writeFileSync(
    join(scratch, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [join(REPO, 'node_modules/@types')],
        outDir: 'out',
      },
      files: ['example.ts'],
    }),
  );
}, 180_000);

afterAll(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

describe('dpsim packed, installed from the tarball and imported by another package', () => {
  it('ships the compiled dist/ and the README only: no sources, tests, fixtures or source maps', () => {
    expect(packed).toContain('dist/index.js');
    expect(packed).toContain('dist/index.d.ts');
    expect(packed).toContain('dist/cli/main.js');
    expect(packed).toContain('README.md');
    expect(packed).toContain('package.json');
    const stray = packed.filter(
      (p) =>
        !(p.startsWith('dist/') && (p.endsWith('.js') || p.endsWith('.d.ts'))) &&
        p !== 'README.md' &&
        p !== 'package.json',
    );
    expect(stray).toEqual([]);
    // A bound against shipping a stray tree (two files per source module: ~320 modules with DNS, UDP, SCTP,
    // rollout and the kube-proxy syncers).
    expect(packed.length).toBeLessThan(700);
  });

  it("type-checks the README's example against the shipped declarations and prints the README's output", () => {
    const { code, output } = readmeExample();
    writeFileSync(join(scratch, 'example.ts'), code);
    const check = run(process.execPath, [TSC, '-p', '.'], scratch);
    expect(check.out).toBe('');
    expect(check.status).toBe(0);
    const ran = run(process.execPath, ['out/example.js'], scratch);
    expect(ran.status).toBe(0);
    expect(ran.out).toBe(output);
  });

  it('reports a misuse of the public types as a type error (the declarations are real, not any)', () => {
    writeFileSync(
      join(scratch, 'example.ts'),
      "import { buildSimulation } from 'dpsim';\nbuildSimulation({ mode: 'userspace' });\n",
    );
    const check = run(process.execPath, [TSC, '-p', '.'], scratch);
    expect(check.status).not.toBe(0);
    expect(check.out).toContain(`Type '"userspace"' is not assignable to type 'ProxyMode | undefined'`);
  });

  it('refuses deep imports into dist/: only the package root is public', () => {
    const r = run(
      process.execPath,
      ['--input-type=module', '-e', "await import('dpsim/dist/sim/simulation.js')"],
      scratch,
    );
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it('installs the dpsim command, which serves the origin scenario', () => {
    const r = run(
      join(scratch, 'node_modules/.bin/dpsim'),
      ['curl', 'http://192.168.100.100:31244'],
      scratch,
    );
    expect(r.out).toMatch(/^Hello World!\nmyweb-rs-[a-z0-9]{5}\n/);
    expect(r.status).toBe(0);
  });
});
