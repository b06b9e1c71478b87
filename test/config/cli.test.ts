/**
 * `--config FILE` (kube-proxy's flag) and `--cilium-values FILE` on the command line: the
 * configuration reaches the rules, and a bad file is a one-line error with a non-zero exit.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const MAIN = join(import.meta.dirname, '../../src/cli/main.ts');
const dir = mkdtempSync(join(tmpdir(), 'dpsim-config-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const dpsim = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });

const HEAD = 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n';

describe('dpsim --config / --cilium-values', () => {
  it('--config: its mode and fields shape `dpsim rules`; an unknown field is a one-line error, exit 1', () => {
    const good = dpsim(
      'rules',
      '--config',
      file('good.yaml', `${HEAD}mode: nftables\nnftables: { masqueradeBit: 5 }\n`),
    );
    expect(good.status).toBe(0);
    expect(good.stdout).toContain('table ip kube-proxy');
    expect(good.stdout).toContain('0x00000020');
    const bad = dpsim('rules', '--config', file('bad.yaml', `${HEAD}iptables: { masqueradeBitt: 3 }\n`));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe(
      `error: ${join(dir, 'bad.yaml')}: strict decoding error: unknown field "iptables.masqueradeBitt"\n`,
    );
  });

  it('--cilium-values: dsr is rejected by name, exit 1', () => {
    const r = dpsim(
      'rules',
      '--mode',
      'ebpf',
      '--cilium-values',
      file('values.yaml', 'loadBalancer:\n  mode: dsr\n'),
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      `error: ${join(dir, 'values.yaml')}: loadBalancer.mode: "dsr" (direct server return) is not modelled by dpsim; only "snat" is\n`,
    );
  });
});
