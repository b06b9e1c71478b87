/**
 * `--compare` variants: `KEY=VALUE[,KEY=VALUE…]`, each either a change to the Deployment's pod
 * template or Deployment spec (written into the manifests before the cluster is built, so the
 * pods running at the start have it too) or a setting of the run (proxy sync loop, watch delay,
 * load balancer, terminating-endpoint fallback).
 *
 *   preStop=sleep 5 | none        grace=SECONDS             sigterm=exit|drain|ignore
 *   drainSeconds=SECONDS          startupSeconds=SECONDS    readinessPeriod=SECONDS
 *   maxSurge=N|P%                 maxUnavailable=N|P%       minReadySeconds=SECONDS
 *   minSyncPeriod=DURATION        watchDelay=DELAY          batchPeriod=DURATION
 *   terminatingFallback=on|off    lbInterval=DURATION       lbUnhealthy=N
 *   nodeMonitorGracePeriod=DURATION                          mode=iptables|nftables|ipvs|ebpf
 *   udpConntrackCleanup=reconciler|reconciler-v1.32|endpoint-deletion|none
 */
import { parseAllDocuments, stringify } from 'yaml';
import { parseGoDuration } from '../config/duration.js';
import type { ProxyMode } from '../proxy/common/datapath.js';
import { UDP_CONNTRACK_CLEANUPS, type UdpConntrackCleanup } from '../proxy/common/udp-conntrack-cleanup.js';
import { type DelaySpec, parseDelaySpec } from './delay.js';
import { DRAIN_SECONDS_ANNOTATION, SIGTERM_ANNOTATION, STARTUP_SECONDS_ANNOTATION } from './kubelet.js';

export class VariantError extends Error {
  override name = 'VariantError';
}

/** Run settings a variant can change. */
export interface RunSettings {
  readonly mode?: ProxyMode;
  readonly minSyncPeriodNs?: number;
  readonly watchDelay?: DelaySpec;
  readonly batchPeriodNs?: number;
  readonly terminatingFallback?: boolean;
  readonly lbIntervalNs?: number;
  readonly lbUnhealthy?: number;
  /** kube-controller-manager --node-monitor-grace-period (for --node-not-ready). */
  readonly nodeMonitorGraceNs?: number;
  /** How the node proxies clear stale UDP conntrack entries after a sync. */
  readonly udpConntrackCleanup?: UdpConntrackCleanup;
}

// biome-ignore lint/suspicious/noExplicitAny: manifests are free-form YAML, edited in place
type Doc = Record<string, any>;
type TemplateEdit = (pod: Doc, dep: Doc) => void;

export interface Variant {
  /** As typed (the report's column title). */
  readonly label: string;
  readonly settings: RunSettings;
  readonly edits: readonly TemplateEdit[];
}

const MODES = ['iptables', 'nftables', 'ipvs', 'ebpf'];

function secondsValue(key: string, v: string): number {
  const n = Number(v.replace(/s$/, ''));
  if (v === '' || !Number.isFinite(n) || n < 0)
    throw new VariantError(`${key}=${v}: expected seconds (e.g. 5)`);
  return n;
}

function durationValue(key: string, v: string): number {
  try {
    return parseGoDuration(v);
  } catch {
    throw new VariantError(`${key}=${v}: expected a duration (e.g. 0s, 500ms, 1s)`);
  }
}

function intOrPercent(key: string, v: string): number | string {
  if (/^\d+%$/.test(v)) return v;
  if (/^\d+$/.test(v)) return Number(v);
  throw new VariantError(`${key}=${v}: expected a count or a percentage (e.g. 1, 25%)`);
}

const container = (pod: Doc): Doc => {
  pod.spec ??= {};
  pod.spec.containers ??= [{ name: 'app' }];
  return pod.spec.containers[0];
};
const annotate = (pod: Doc, k: string, v: string) => {
  pod.metadata ??= {};
  pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), [k]: v };
};

export function parseVariant(text: string): Variant {
  const settings: Record<string, unknown> = {};
  const edits: TemplateEdit[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq < 0) throw new VariantError(`variant "${text}": "${item}" is not KEY=VALUE`);
    const key = item.slice(0, eq).trim();
    const v = item.slice(eq + 1).trim();
    switch (key) {
      case 'preStop': {
        if (v === 'none') {
          edits.push((pod) => {
            const c = container(pod);
            if (c.lifecycle !== undefined) delete c.lifecycle.preStop;
          });
          break;
        }
        const m = /^sleep\s+(\d+)$/.exec(v);
        if (m === null) throw new VariantError(`preStop=${v}: expected "sleep N" or "none"`);
        const seconds = Number(m[1]);
        edits.push((pod) => {
          const c = container(pod);
          c.lifecycle = { ...(c.lifecycle ?? {}), preStop: { sleep: { seconds } } };
        });
        break;
      }
      case 'grace': {
        const n = secondsValue(key, v);
        edits.push((pod) => {
          pod.spec ??= {};
          pod.spec.terminationGracePeriodSeconds = n;
        });
        break;
      }
      case 'sigterm':
        if (!['exit', 'drain', 'ignore'].includes(v))
          throw new VariantError(`sigterm=${v}: expected exit, drain or ignore`);
        edits.push((pod) => annotate(pod, SIGTERM_ANNOTATION, v));
        break;
      case 'drainSeconds':
        secondsValue(key, v);
        edits.push((pod) => annotate(pod, DRAIN_SECONDS_ANNOTATION, v.replace(/s$/, '')));
        break;
      case 'startupSeconds':
        secondsValue(key, v);
        edits.push((pod) => annotate(pod, STARTUP_SECONDS_ANNOTATION, v.replace(/s$/, '')));
        break;
      case 'readinessPeriod': {
        const n = secondsValue(key, v);
        edits.push((pod) => {
          const c = container(pod);
          c.readinessProbe = { tcpSocket: { port: 8080 }, ...(c.readinessProbe ?? {}), periodSeconds: n };
        });
        break;
      }
      case 'maxSurge':
      case 'maxUnavailable': {
        const val = intOrPercent(key, v);
        edits.push((_pod, dep) => {
          dep.spec.strategy = {
            type: 'RollingUpdate',
            ...(dep.spec.strategy ?? {}),
            rollingUpdate: { ...(dep.spec.strategy?.rollingUpdate ?? {}), [key]: val },
          };
        });
        break;
      }
      case 'minReadySeconds': {
        const n = secondsValue(key, v);
        edits.push((_pod, dep) => {
          dep.spec.minReadySeconds = n;
        });
        break;
      }
      case 'minSyncPeriod':
        settings.minSyncPeriodNs = durationValue(key, v);
        break;
      case 'watchDelay':
        try {
          settings.watchDelay = parseDelaySpec(v);
        } catch (e) {
          throw new VariantError((e as Error).message);
        }
        break;
      case 'batchPeriod':
        settings.batchPeriodNs = durationValue(key, v);
        break;
      case 'terminatingFallback':
        if (v !== 'on' && v !== 'off') throw new VariantError(`terminatingFallback=${v}: expected on or off`);
        settings.terminatingFallback = v === 'on';
        break;
      case 'lbInterval':
        settings.lbIntervalNs = durationValue(key, v);
        break;
      case 'lbUnhealthy': {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new VariantError(`lbUnhealthy=${v}: expected a count >= 1`);
        settings.lbUnhealthy = n;
        break;
      }
      case 'nodeMonitorGracePeriod':
        settings.nodeMonitorGraceNs = durationValue(key, v);
        break;
      case 'udpConntrackCleanup':
        if (!(UDP_CONNTRACK_CLEANUPS as readonly string[]).includes(v))
          throw new VariantError(
            `udpConntrackCleanup=${v}: expected one of ${UDP_CONNTRACK_CLEANUPS.join(', ')}`,
          );
        settings.udpConntrackCleanup = v as UdpConntrackCleanup;
        break;
      case 'mode':
        if (!MODES.includes(v)) throw new VariantError(`mode=${v}: expected one of ${MODES.join(', ')}`);
        settings.mode = v as ProxyMode;
        break;
      default:
        throw new VariantError(
          `variant "${text}": unknown key "${key}" (expected preStop, grace, sigterm, drainSeconds, startupSeconds, readinessPeriod, maxSurge, maxUnavailable, minReadySeconds, minSyncPeriod, watchDelay, batchPeriod, terminatingFallback, lbInterval, lbUnhealthy, nodeMonitorGracePeriod, udpConntrackCleanup, mode)`,
        );
    }
  }
  return { label: text, settings: settings as RunSettings, edits };
}

/**
 * The manifests with the variant's edits applied to the named Deployment (or ReplicaSet)'s
 * pod template. Other documents are kept as they were.
 */
export function applyTemplateEdits(
  sources: readonly { source: string; text: string }[],
  workload: string,
  edits: readonly TemplateEdit[],
): { source: string; text: string }[] {
  if (edits.length === 0) return [...sources];
  let found = false;
  const out = sources.map((s) => {
    const docs = parseAllDocuments(s.text);
    let touched = false;
    const texts = docs.map((d) => {
      const obj = d.toJS() as Doc | null;
      if (
        obj !== null &&
        typeof obj === 'object' &&
        (obj.kind === 'Deployment' || obj.kind === 'ReplicaSet') &&
        obj.metadata?.name === workload
      ) {
        obj.spec ??= {};
        obj.spec.template ??= {};
        for (const e of edits) e(obj.spec.template, obj);
        touched = true;
        found = true;
        return stringify(obj);
      }
      return d.toString();
    });
    return touched ? { source: s.source, text: texts.join('---\n') } : s;
  });
  if (!found)
    throw new VariantError(
      `no Deployment or ReplicaSet "${workload}" in the manifests to apply the variant to`,
    );
  return out;
}
