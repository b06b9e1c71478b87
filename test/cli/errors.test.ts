/**
 * A user's mistake gets one line and a non-zero exit, never a stack trace or a hang: bad
 * --pcap paths in run and load, a full disk, `bench report --out /proc/x` (Node's recursive
 * mkdir spins forever there), usage errors (one line plus a hint, not the whole usage).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CliError, internalErrorText, userErrorLine } from '../../src/cli/errors.js';
import { dpsim } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'dpsim-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STACK = /\n\s+at |node:internal|node:fs/;

describe('--pcap to a path that cannot be written: one line, exit 1, no stack trace', () => {
  const missing = join(dir, 'no-such-dir', 'x.pcapng');
  for (const command of [['run'], ['load', '--flows', '5', '--packets', '50']]) {
    it(`${command[0]} --pcap in a missing directory`, async () => {
      const r = await dpsim([...command, '--pcap', missing]);
      expect(r.stderr).toBe(`error: --pcap: cannot open "${missing}": No such file or directory\n`);
      expect(r.stdout).toBe('');
      expect(r.exitCode).toBe(1);
    });

    it(`${command[0]} --pcap naming an existing directory`, async () => {
      const r = await dpsim([...command, '--pcap', dir]);
      expect(r.stderr).toBe(`error: --pcap: cannot open "${dir}": Is a directory\n`);
      expect(r.exitCode).toBe(1);
    });
  }

  it.runIf(existsSync('/dev/full'))(
    'run --pcap /dev/full (every write fails): names the file and ENOSPC',
    async () => {
      const r = await dpsim(['run', '--pcap', '/dev/full']);
      expect(r.stderr).toBe('error: --pcap: cannot write "/dev/full": No space left on device\n');
      expect(r.exitCode).toBe(1);
    },
  );

  it.runIf(existsSync('/dev/full'))(
    'load --pcap /dev/full: the same line, not a writer complaint',
    async () => {
      const r = await dpsim(['load', '--flows', '20', '--packets', '3000', '--pcap', '/dev/full']);
      expect(r.stderr).toBe('error: --pcap: cannot write "/dev/full": No space left on device\n');
      expect(r.exitCode).toBe(1);
    },
  );
});

describe('bench report --out', () => {
  it.runIf(existsSync('/proc/self'))(
    '/proc/x ends with mkdir’s error instead of spinning',
    async () => {
      const r = await dpsim(['bench', 'report', '--results', dir, '--out', '/proc/x']);
      expect(r.stderr).toBe('error: --out: cannot create directory "/proc/x": No such file or directory\n');
      expect(r.exitCode).toBe(1);
    },
    20_000,
  );

  it.runIf(existsSync('/etc/hostname'))(
    'a path under a regular file: Not a directory, as mkdir -p says',
    async () => {
      const r = await dpsim(['bench', 'report', '--results', dir, '--out', '/etc/hostname/sub']);
      expect(r.stderr).toBe('error: --out: cannot create directory "/etc/hostname/sub": Not a directory\n');
      expect(r.exitCode).toBe(1);
    },
  );
});

describe('usage errors: one line plus a hint', () => {
  it('an unknown option', async () => {
    const r = await dpsim(['curl', '--bogus', '192.168.100.100:31244']);
    expect(r.stderr).toBe("error: unknown option '--bogus'\n(run with --help for usage)\n");
    expect(r.exitCode).toBe(1);
  });

  it('a bad flag value', async () => {
    const r = await dpsim(['run', '--seed', 'abc']);
    expect(r.stderr).toBe(
      "error: option '--seed <n>' argument 'abc' is invalid. --seed must be an integer, got \"abc\"\n(run with --help for usage)\n",
    );
    expect(r.exitCode).toBe(1);
  });

  it('an unknown command', async () => {
    const r = await dpsim(['frobnicate']);
    expect(r.stderr).toBe("error: unknown command 'frobnicate'\n(run with --help for usage)\n");
    expect(r.exitCode).toBe(1);
  });
});

describe('other mistakes every command can make', () => {
  it.each([
    [['rules', '--node', 'nope'], 'error: unknown node "nope"\n'],
    [['conntrack', '-L', '--node', 'nope'], 'error: unknown node "nope"\n'],
    [
      ['curl', '--from', 'nope', '192.168.100.100:31244'],
      'error: unknown host "nope": use client, a node (node1, node2, node3) or pod/NAME\n',
    ],
    [
      ['run', '-f', join(dir, 'missing.yaml')],
      `error: the path "${join(dir, 'missing.yaml')}" does not exist\n`,
    ],
    [
      ['rules', '--iptables-save', join(dir, 'nope.txt')],
      `error: --iptables-save: cannot open "${join(dir, 'nope.txt')}": No such file or directory\n`,
    ],
  ])('%j', async (args, line) => {
    const r = await dpsim(args);
    expect(r.stderr).toBe(line);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.exitCode).toBe(1);
  });
});

describe('the top-level policy', () => {
  it('a library error with a user-facing message is one error: line', () => {
    class SimulationError extends Error {
      override name = 'SimulationError';
    }
    expect(userErrorLine(new SimulationError('no route'))).toEqual({ line: 'error: no route', exitCode: 1 });
    expect(userErrorLine(new CliError('error: already prefixed', 2))).toEqual({
      line: 'error: already prefixed',
      exitCode: 2,
    });
  });

  it('a built-in error is not a user mistake; its report says it is a bug', () => {
    const e = new TypeError("Cannot read properties of undefined (reading 'x')");
    expect(userErrorLine(e)).toBeNull();
    expect(internalErrorText(e)).toMatch(/^dpsim: internal error \(this is a bug in dpsim; please report it/);
  });
});

describe('eBPF load-balancing maps too small for the cluster', () => {
  it('names the full map and the Cilium value that sizes it, one line, exit 1', async () => {
    const values = join(dir, 'small-lb-maps.yaml');
    writeFileSync(values, 'bpf:\n  lbMapMax: 4\n');
    const r = await dpsim(['rules', '--mode', 'ebpf', '--cilium-values', values]);
    expect(r.stderr).toBe(
      "error: cilium_lb4_services_v2 is full (4 entries): raise bpf.lbMapMax in the Cilium values (--cilium-values; Cilium's --bpf-lb-map-max)\n",
    );
    expect(r.exitCode).toBe(1);
  });
});
