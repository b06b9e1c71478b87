/**
 * `dpsim sweep SPEC.yaml --emit-job`: the sweep as a Kubernetes Indexed Job. Kubernetes gives
 * each pod of an Indexed Job its index in JOB_COMPLETION_INDEX, which `dpsim sweep` reads when
 * no --shard is given, so the Job's command is the same for every pod. Printed as two YAML
 * documents: a ConfigMap holding the spec (mounted at /spec) and the Job (completions = the
 * spec's shards, one pod per shard; results written to a PersistentVolumeClaim at /results,
 * merged afterwards with `dpsim bench report --sweep DIR`).
 */
import type { Job } from 'kubernetes-types/batch/v1.js';
import type { ConfigMap } from 'kubernetes-types/core/v1.js';
import { stringify } from 'yaml';
import type { SweepSpec } from './spec.js';

export interface JobOptions {
  /** Container image built from the repository's Dockerfile. */
  readonly image: string;
  /** PersistentVolumeClaim the shard results are written to. */
  readonly resultsClaim: string;
  readonly namespace?: string;
}

export const SPEC_MOUNT = '/spec';
export const RESULTS_MOUNT = '/results';
export const SPEC_FILE = 'sweep.yaml';
/** Where the Dockerfile puts the CLI. */
export const IMAGE_CLI = '/app/dist/cli/main.js';

/** Typed against the Kubernetes API types (kubernetes-types), so a wrong field fails to compile. */
export function sweepJobManifests(spec: SweepSpec, specText: string, options: JobOptions): [ConfigMap, Job] {
  const name = `dpsim-sweep-${spec.name}`.slice(0, 63).replace(/-+$/, '');
  const labels = {
    'app.kubernetes.io/name': 'dpsim',
    'app.kubernetes.io/component': 'sweep',
    'dpsim/sweep': spec.name,
  };
  const metadata = {
    name,
    labels,
    ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
  };
  const configMap: ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata,
    data: { [SPEC_FILE]: specText },
  };
  const job: Job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata,
    spec: {
      completionMode: 'Indexed',
      completions: spec.shards,
      parallelism: spec.parallelism,
      // A failed shard is retried once on its own, without failing the other indexes.
      backoffLimitPerIndex: 1,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'sweep',
              image: options.image,
              command: ['node', IMAGE_CLI, 'sweep', `${SPEC_MOUNT}/${SPEC_FILE}`, '--out', RESULTS_MOUNT],
              resources: { requests: { cpu: '1', memory: '1Gi' } },
              volumeMounts: [
                { name: 'spec', mountPath: SPEC_MOUNT, readOnly: true },
                { name: 'results', mountPath: RESULTS_MOUNT },
              ],
            },
          ],
          volumes: [
            { name: 'spec', configMap: { name } },
            { name: 'results', persistentVolumeClaim: { claimName: options.resultsClaim } },
          ],
        },
      },
    },
  };
  return [configMap, job];
}

export function sweepJobYaml(spec: SweepSpec, specText: string, options: JobOptions): string {
  return sweepJobManifests(spec, specText, options)
    .map((doc) => stringify(doc, { lineWidth: 0 }))
    .join('---\n');
}
