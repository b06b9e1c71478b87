import { existsSync, readFileSync } from 'node:fs';
import type { Job } from 'kubernetes-types/batch/v1.js';
import type { ConfigMap } from 'kubernetes-types/core/v1.js';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { IMAGE_CLI, sweepJobManifests, sweepJobYaml } from '../../src/sweep/job.js';
import { parseSweepSpec } from '../../src/sweep/spec.js';

const TEXT =
  'name: scale\nmodes: [nftables, ipvs]\nservices: [100, 1000, 10000]\nseeds: [1, 2, 3]\nshards: 6\nparallelism: 3\n';
const spec = parseSweepSpec(TEXT);
const options = { image: 'registry.example/dpsim:0.1.0', resultsClaim: 'sweep-pvc' };

function emitted(): { configMap: ConfigMap; job: Job } {
  const docs = parseAllDocuments(sweepJobYaml(spec, TEXT, options)).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS();
  });
  expect(docs).toHaveLength(2);
  // The printed YAML is exactly the objects built against the kubernetes-types declarations.
  expect(docs).toEqual(sweepJobManifests(spec, TEXT, options));
  const [configMap, job]: [ConfigMap, Job] = [docs[0], docs[1]];
  return { configMap, job };
}

describe('dpsim sweep --emit-job', () => {
  it('prints a batch/v1 Indexed Job: completions = shards, parallelism, Never restarts, the shard command without --shard', () => {
    const { job } = emitted();
    expect(job.apiVersion).toBe('batch/v1');
    expect(job.kind).toBe('Job');
    expect(job.metadata?.name).toBe('dpsim-sweep-scale');
    const s = job.spec!;
    expect(s.completionMode).toBe('Indexed');
    expect(s.completions).toBe(6);
    expect(s.parallelism).toBe(3);
    // backoffLimitPerIndex needs Indexed mode and restartPolicy Never (API validation rules).
    expect(s.backoffLimitPerIndex).toBe(1);
    const pod = s.template.spec!;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.containers).toHaveLength(1);
    const c = pod.containers[0];
    expect(c.image).toBe('registry.example/dpsim:0.1.0');
    expect(c.command).toEqual(['node', IMAGE_CLI, 'sweep', '/spec/sweep.yaml', '--out', '/results']);
    // Each pod finds its shard in JOB_COMPLETION_INDEX, which Kubernetes sets: no --shard, no env of ours.
    expect(c.command).not.toContain('--shard');
    expect(c.env).toBeUndefined();
  });

  it('mounts the spec from the ConfigMap it prints and the results from the PersistentVolumeClaim', () => {
    const { configMap, job } = emitted();
    expect(configMap.apiVersion).toBe('v1');
    expect(configMap.kind).toBe('ConfigMap');
    expect(configMap.data).toEqual({ 'sweep.yaml': TEXT });
    const pod = job.spec!.template.spec!;
    const volumes = Object.fromEntries((pod.volumes ?? []).map((v) => [v.name, v]));
    expect(volumes.spec.configMap?.name).toBe(configMap.metadata?.name);
    expect(volumes.results.persistentVolumeClaim?.claimName).toBe('sweep-pvc');
    const mounts = Object.fromEntries(
      (pod.containers[0].volumeMounts ?? []).map((m) => [m.name, m.mountPath]),
    );
    expect(mounts).toEqual({ spec: '/spec', results: '/results' });
  });

  it('names are DNS labels of at most 63 characters', () => {
    const long = parseSweepSpec(`name: ${'a'.repeat(52)}\nmodes: [ebpf]\nservices: [1]\n`);
    const [cm, job] = sweepJobManifests(long, '', options);
    for (const name of [cm.metadata?.name, job.metadata?.name]) {
      expect(name!.length).toBeLessThanOrEqual(63);
      expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
  });
});

describe('Dockerfile (no docker engine here: checked statically)', () => {
  const text = readFileSync('Dockerfile', 'utf8');
  const instructions = text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.trim().split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });

  it('builds on Node 20 (the engines field) in two stages', () => {
    const froms = instructions.filter((i) => i.op === 'FROM').map((i) => i.args);
    expect(froms).toHaveLength(2);
    for (const f of froms) expect(f).toMatch(/^node:20[-.\w]*/);
    expect(JSON.parse(readFileSync('package.json', 'utf8')).engines.node).toBe('>=20');
  });

  it('copies only files that exist in the repository (or come from the build stage)', () => {
    for (const copy of instructions.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from='))) {
      const sources = copy.args.split(/\s+/).slice(0, -1);
      for (const src of sources) expect(existsSync(src), `COPY source ${src}`).toBe(true);
    }
  });

  it('its entrypoint is the CLI the Job runs, at the path the build stage compiles package.json’s bin to', () => {
    const entry = instructions.find((i) => i.op === 'ENTRYPOINT');
    expect(JSON.parse(entry!.args)).toEqual(['node', IMAGE_CLI]);
    const bin = JSON.parse(readFileSync('package.json', 'utf8')).bin.dpsim as string;
    const workdir = instructions.find((i) => i.op === 'WORKDIR')!.args;
    expect(`${workdir}/${bin}`).toBe(IMAGE_CLI);
    const tsconfig = JSON.parse(readFileSync('tsconfig.build.json', 'utf8'));
    expect(`${workdir}/${tsconfig.compilerOptions.outDir}/cli/main.js`).toBe(IMAGE_CLI);
    expect(existsSync('src/cli/main.ts')).toBe(true);
  });
});
