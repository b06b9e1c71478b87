/**
 * `dpsim rollout`'s report: the per-second table (requests sent, succeeded, refused, reset,
 * timed out, and what happened in that second: syncs per node, load-balancer changes, pod
 * lifecycle steps), the totals, and why the failures failed; with `--compare`, the variants
 * side by side. The JSON form carries the same data (times in seconds). Nothing in either
 * depends on the wall clock, so the same seed gives the same bytes.
 */
import { formatDelaySpec } from './delay.js';
import type { RolloutResult } from './engine.js';
import type { Transition } from './transitions.js';

const sec = (ns: number) => `${(ns / 1e9).toFixed(3).replace(/\.?0+$/, '')}s`;

export function describeTransition(t: Transition): string {
  switch (t.kind) {
    case 'image':
      return `image → ${t.image}`;
    case 'scale':
      return `scale to ${t.replicas}`;
    case 'drain':
      return `drain ${t.node}`;
    case 'node-not-ready':
      return `node ${t.node} down`;
    case 'delete-pod':
      return `delete pod ${t.pod}`;
  }
}

const podName = (key: string) => key.slice(key.indexOf('/') + 1);

/** What happened in each second: transition messages, node syncs, LB changes, pod steps. */
function eventsBySecond(r: RolloutResult): Map<number, string[]> {
  const out = new Map<number, string[]>();
  const add = (ns: number, text: string) => {
    const s = Math.floor(ns / 1e9);
    const list = out.get(s) ?? [];
    list.push(text);
    out.set(s, list);
  };
  if (r.messages.length > 0) add(r.atNs, describeTransition(r.transition));
  let pending: { ns: number; nodes: string[]; version: number } | null = null;
  for (const s of r.syncs) {
    if (s.trigger !== 'change') continue;
    if (
      pending !== null &&
      pending.version === s.version &&
      Math.floor(pending.ns / 1e9) === Math.floor(s.timeNs / 1e9)
    )
      pending.nodes.push(s.node);
    else {
      if (pending !== null) add(pending.ns, `sync ${pending.nodes.join(',')} (v${pending.version})`);
      pending = { ns: s.timeNs, nodes: [s.node], version: s.version };
    }
  }
  if (pending !== null) add(pending.ns, `sync ${pending.nodes.join(',')} (v${pending.version})`);
  for (const e of r.lbEvents) add(e.timeNs, `LB ${e.healthy ? 'adds' : 'drops'} ${e.node}`);
  for (const e of r.podEvents) add(e.timeNs, `${podName(e.pod)}: ${e.what}`);
  return out;
}

function pad(text: string | number, width: number): string {
  return String(text).padStart(width);
}

export function settingsLine(r: RolloutResult): string {
  const s = r.settings;
  const lb =
    s.loadBalancer === null
      ? ''
      : `; load balancer checks every ${sec(s.loadBalancer.intervalNs)}, out after ${s.loadBalancer.unhealthyThreshold} failures`;
  return (
    `${r.mode} mode, seed ${r.seed}; sync loop minSyncPeriod ${sec(s.minSyncPeriodNs)}; watch delay ${formatDelaySpec(s.watchDelay)}; ` +
    `EndpointSlice batch ${sec(s.batchPeriodNs)}; terminating-endpoint fallback ${s.terminatingFallback ? 'on' : 'off'}; client timeout ${sec(s.requestTimeoutNs)}${lb}`
  );
}

export function totalsLine(r: RolloutResult): string {
  const t = r.totals;
  return `${t.requests} requests, ${t.succeeded} succeeded, ${t.failed} failed (${t.refused} refused, ${t.reset} reset, ${t.timedOut} timed out)`;
}

/** The report of one run. */
export function formatRolloutReport(r: RolloutResult): string {
  const lines: string[] = [];
  lines.push(
    `${r.target}: ${describeTransition(r.transition)} at ${sec(r.atNs)}; ${sec(r.durationNs)} of traffic at ${r.rps} ${r.proto === 'udp' ? 'UDP requests' : 'requests'}/s to service/${r.service.split('/')[1]}`,
  );
  lines.push(settingsLine(r));
  lines.push('');
  lines.push('second    sent      ok refused   reset timeout  events');
  const events = eventsBySecond(r);
  for (const b of r.seconds) {
    const ev = events.get(b.second) ?? [];
    lines.push(
      `${pad(b.second, 6)} ${pad(b.sent, 7)} ${pad(b.ok, 7)} ${pad(b.refused, 7)} ${pad(b.reset, 7)} ${pad(b.timeout, 7)}  ${ev.join('; ')}`.trimEnd(),
    );
  }
  lines.push('');
  lines.push(`totals: ${totalsLine(r)}`);
  if (r.reasons.length > 0) {
    lines.push('');
    lines.push('why they failed:');
    lines.push('  count refused   reset timeout   first    last  reason');
    for (const x of r.reasons)
      lines.push(
        `${pad(x.count, 7)} ${pad(x.refused, 7)} ${pad(x.reset, 7)} ${pad(x.timeout, 7)} ${pad(sec(x.firstNs), 7)} ${pad(sec(x.lastNs), 7)}  ${x.reason}`,
      );
  }
  return `${lines.join('\n')}\n`;
}

/** Variants side by side: totals, then each one's leading failure reasons. */
export function formatComparison(runs: readonly RolloutResult[]): string {
  const lines: string[] = [];
  const w = Math.max(7, ...runs.map((r) => r.label.length));
  lines.push(`${'variant'.padEnd(w)}  requests succeeded  failed refused   reset timeout`);
  for (const r of runs) {
    const t = r.totals;
    lines.push(
      `${r.label.padEnd(w)}  ${pad(t.requests, 8)} ${pad(t.succeeded, 9)} ${pad(t.failed, 7)} ${pad(t.refused, 7)} ${pad(t.reset, 7)} ${pad(t.timedOut, 7)}`,
    );
  }
  for (const r of runs) {
    if (r.reasons.length === 0) continue;
    lines.push('');
    lines.push(`${r.label}: why they failed`);
    for (const x of r.reasons.slice(0, 8)) lines.push(`${pad(x.count, 7)}  ${x.reason}`);
    if (r.reasons.length > 8)
      lines.push(`         … ${r.reasons.length - 8} more reasons (--json lists them all)`);
  }
  return `${lines.join('\n')}\n`;
}

const s3 = (ns: number) => Math.round(ns / 1e6) / 1e3;

/** The JSON form of one run (times in seconds). */
export function rolloutJson(r: RolloutResult): Record<string, unknown> {
  return {
    variant: r.label,
    target: r.target,
    service: r.service,
    transition: r.transition,
    mode: r.mode,
    proto: r.proto,
    seed: r.seed,
    at: s3(r.atNs),
    duration: s3(r.durationNs),
    rps: r.rps,
    settings: {
      minSyncPeriod: s3(r.settings.minSyncPeriodNs),
      watchDelay: formatDelaySpec(r.settings.watchDelay),
      endpointSliceBatchPeriod: s3(r.settings.batchPeriodNs),
      terminatingFallback: r.settings.terminatingFallback,
      requestTimeout: s3(r.settings.requestTimeoutNs),
      loadBalancer:
        r.settings.loadBalancer === null
          ? null
          : {
              interval: s3(r.settings.loadBalancer.intervalNs),
              unhealthyThreshold: r.settings.loadBalancer.unhealthyThreshold,
            },
    },
    totals: r.totals,
    seconds: r.seconds,
    reasons: r.reasons.map((x) => ({
      ...x,
      firstNs: undefined,
      lastNs: undefined,
      first: s3(x.firstNs),
      last: s3(x.lastNs),
    })),
    syncs: r.syncs.map((s) => ({ time: s3(s.timeNs), node: s.node, version: s.version, trigger: s.trigger })),
    endpointSliceWrites: r.sliceWrites.map((w) => ({ time: s3(w.timeNs), version: w.version })),
    loadBalancer: r.lbEvents.map((e) => ({ time: s3(e.timeNs), node: e.node, healthy: e.healthy })),
    pods: r.podEvents.map((e) => ({ time: s3(e.timeNs), pod: e.pod, event: e.what })),
    messages: r.messages,
  };
}
