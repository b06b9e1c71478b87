/**
 * The comparator: for every probe, what the real kernel did against what dpsim did, and
 * each against kube-proxy's semantics (the plan's expectations). Both sides are random
 * (statistic/numgen on one side, a seeded Rng on the other), so distributions are compared
 * statistically — each side against the declared shares (kube-proxy declares 1/n, then
 * 1/(n-1), …: a uniform choice) by a chi-square goodness-of-fit, and the two sides against
 * each other by a chi-square test of homogeneity — never by exact counts. A backend seen on
 * one side only counts as a disagreement when missing it by chance is implausible.
 *
 * Pure: no I/O, so it is unit-tested with synthetic observations.
 */
import { chiSquareStatistic, chiSquareSurvival } from '../util/stats.js';
import type { VerifyFamily } from './family.js';
import type { OutcomeClass, ProbeObservation, SideName, SideResult } from './observation.js';
import type { Probe, ProbePlan, SkippedService } from './plan.js';
import { type ProbeShares, sharesCheck } from './shares-check.js';

export type CheckName =
  | 'outcome'
  | 'backends'
  | 'affinity'
  | 'masquerade'
  | 'shares'
  | 'distribution'
  | 'nat';

export interface Check {
  readonly name: CheckName;
  /** The two sides agree on this aspect. */
  readonly agree: boolean;
  readonly kernel: string;
  readonly dpsim: string;
  /** kube-proxy's semantics, when they pin this aspect down. */
  readonly expected?: string;
  /** Sides that contradict the expectation. */
  readonly offSpec: readonly SideName[];
  readonly detail?: string;
}

export interface ProbeComparison {
  readonly probe: Probe;
  readonly kernel: ProbeObservation;
  readonly dpsim: ProbeObservation;
  readonly checks: readonly Check[];
  /** Every check agrees and neither side is off-spec. */
  readonly agree: boolean;
}

export interface VerifyReport {
  readonly scenario: string;
  readonly mode: string;
  /** The address family the probes used (ipv4 unless the IPv6 side of a dual-stack cluster was verified). */
  readonly family: VerifyFamily;
  readonly connectionsPerProbe: number;
  /** How the connections per probe were chosen (the power calculation, or -n). */
  readonly sampling?: string;
  readonly alpha: number;
  readonly probes: readonly ProbeComparison[];
  readonly skipped: readonly SkippedService[];
  readonly agree: boolean;
  /** One line per failed check: `probe id: check: kernel … vs dpsim …`. */
  readonly disagreements: readonly string[];
  readonly kernelElapsedMs: number;
  readonly dpsimElapsedMs: number;
  readonly dnatCounters?: SideResult['dnatCounters'];
}

export interface CompareOptions {
  readonly scenario?: string;
  /** The family the plan's probes use (default ipv4). */
  readonly family?: VerifyFamily;
  /** Significance level of every statistical check (default 1e-4: rare false alarms in CI). */
  readonly alpha?: number;
  /** Each side's exact share rows per probe (from its rules); adds the exact `shares` check. */
  readonly shares?: { readonly kernel: ProbeShares; readonly dpsim: ProbeShares };
  /** How the connections per probe were chosen (printed with the report). */
  readonly sampling?: string;
}

export const DEFAULT_ALPHA = 1e-4;
/** Goodness-of-fit needs this many answers per expected backend on average. */
const MIN_PER_CELL = 5;

/** 'ok', 'refused', 'timeout', … when every connection ended alike; else 'mixed(a+b)'. */
export function outcomeSummary(o: ProbeObservation): string {
  const classes = (Object.entries(o.outcomes) as [OutcomeClass, number][])
    .filter(([, n]) => n > 0)
    .map(([c]) => c);
  if (classes.length === 0) return 'none';
  if (classes.length === 1) return classes[0];
  return `mixed(${classes.sort().join('+')})`;
}

function okCount(o: ProbeObservation): number {
  return o.outcomes.ok ?? 0;
}

/** Could a uniform choice among k backends miss one particular backend in `answers` draws, at level alpha? */
function plausiblyMissed(answers: number, k: number, alpha: number): boolean {
  if (k <= 1) return answers === 0;
  return (1 - 1 / k) ** answers * k >= alpha;
}

function sorted(xs: Iterable<string>): string[] {
  return [...xs].sort();
}

function setText(xs: Iterable<string>): string {
  const s = sorted(xs);
  return s.length === 0 ? '∅' : s.join(', ');
}

function outcomeCheck(p: Probe, k: ProbeObservation, d: ProbeObservation): Check {
  const expected = p.expected.failure ?? 'ok';
  const ks = outcomeSummary(k);
  const ds = outcomeSummary(d);
  return {
    name: 'outcome',
    agree: ks === ds,
    kernel: ks,
    dpsim: ds,
    expected,
    offSpec: (['kernel', 'dpsim'] as const).filter((s) => (s === 'kernel' ? ks : ds) !== expected),
  };
}

function backendsCheck(p: Probe, k: ProbeObservation, d: ProbeObservation, alpha: number): Check {
  const expected = new Set(p.expected.backends);
  const kset = new Set(Object.keys(k.backends));
  const dset = new Set(Object.keys(d.backends));
  const nExp = Math.max(expected.size, 1);
  // A pod answering on one side only is a disagreement unless the other side plausibly missed it.
  const onlyK = sorted(kset).filter((b) => !dset.has(b));
  const onlyD = sorted(dset).filter((b) => !kset.has(b));
  const agree =
    onlyK.every((b) => expected.has(b) && plausiblyMissed(okCount(d), nExp, alpha)) &&
    onlyD.every((b) => expected.has(b) && plausiblyMissed(okCount(k), nExp, alpha));
  const offSpec = (['kernel', 'dpsim'] as const).filter((side) => {
    const o = side === 'kernel' ? k : d;
    const seen = side === 'kernel' ? kset : dset;
    const unexpected = [...seen].some((b) => !expected.has(b));
    const missing = [...expected].some((b) => !seen.has(b) && !plausiblyMissed(okCount(o), nExp, alpha));
    return unexpected || missing;
  });
  return {
    name: 'backends',
    agree,
    kernel: setText(kset),
    dpsim: setText(dset),
    expected: setText(expected),
    offSpec,
    ...(onlyK.length + onlyD.length > 0
      ? { detail: `only kernel: ${setText(onlyK)}; only dpsim: ${setText(onlyD)}` }
      : {}),
  };
}

/** ClientIP affinity: all answers of one source come from a single expected pod. */
function affinityCheck(p: Probe, k: ProbeObservation, d: ProbeObservation): Check {
  const expected = new Set(p.expected.backends);
  const verdict = (o: ProbeObservation) => {
    const pods = Object.keys(o.backends);
    if (pods.length === 0) return 'no answers';
    if (pods.length === 1) return expected.has(pods[0]) ? 'sticky' : `sticky to unexpected ${pods[0]}`;
    return `not sticky (${pods.length} pods)`;
  };
  const kv = verdict(k);
  const dv = verdict(d);
  const want = expected.size === 0 ? 'no answers' : 'sticky';
  return {
    name: 'affinity',
    agree: kv === dv,
    kernel: kv === 'sticky' ? `sticky → ${Object.keys(k.backends)[0]}` : kv,
    dpsim: dv === 'sticky' ? `sticky → ${Object.keys(d.backends)[0]}` : dv,
    expected: want,
    offSpec: (['kernel', 'dpsim'] as const).filter((s) => (s === 'kernel' ? kv : dv) !== want),
  };
}

function masqueradeCheck(p: Probe, k: ProbeObservation, d: ProbeObservation): Check {
  const common = Object.keys(k.peersByBackend).filter((b) => b in d.peersByBackend);
  const differing = common.filter((b) => setText(k.peersByBackend[b]) !== setText(d.peersByBackend[b]));
  const offSpec = (['kernel', 'dpsim'] as const).filter((side) => {
    const o = side === 'kernel' ? k : d;
    return Object.entries(o.peersByBackend).some(([b, peers]) => {
      const want = p.expected.peerByBackend[b];
      return want !== undefined && (peers.length !== 1 || peers[0] !== want);
    });
  });
  const union = (o: ProbeObservation) => setText(new Set(Object.values(o.peersByBackend).flat()));
  return {
    name: 'masquerade',
    agree: differing.length === 0,
    kernel: union(k),
    dpsim: union(d),
    expected: setText(new Set(Object.values(p.expected.peerByBackend))),
    offSpec,
    ...(differing.length > 0
      ? {
          detail: differing
            .map(
              (b) =>
                `${b}: kernel saw ${setText(k.peersByBackend[b])}, dpsim saw ${setText(d.peersByBackend[b])}`,
            )
            .join('; '),
        }
      : {}),
  };
}

export interface GoodnessOfFit {
  readonly statistic: number;
  readonly degreesOfFreedom: number;
  readonly pValue: number;
}

/** Chi-square goodness of fit of the answers over `cells` against equal shares. */
export function uniformFit(
  backends: Readonly<Record<string, number>>,
  cells: readonly string[],
): GoodnessOfFit | null {
  const observed = cells.map((c) => backends[c] ?? 0);
  const total = observed.reduce((a, b) => a + b, 0);
  if (cells.length < 2 || total < MIN_PER_CELL * cells.length) return null;
  const expected = cells.map(() => total / cells.length);
  const statistic = chiSquareStatistic(observed, expected);
  const dof = cells.length - 1;
  return { statistic, degreesOfFreedom: dof, pValue: chiSquareSurvival(statistic, dof) };
}

/** Chi-square test of homogeneity of two count vectors over the same cells (2 × k table). */
export function homogeneity(
  a: Readonly<Record<string, number>>,
  b: Readonly<Record<string, number>>,
  cells: readonly string[],
): GoodnessOfFit | null {
  const used = cells.filter((c) => (a[c] ?? 0) + (b[c] ?? 0) > 0);
  const ta = used.reduce((s, c) => s + (a[c] ?? 0), 0);
  const tb = used.reduce((s, c) => s + (b[c] ?? 0), 0);
  if (used.length < 2 || ta === 0 || tb === 0) return null;
  const grand = ta + tb;
  const observed: number[] = [];
  const expected: number[] = [];
  for (const c of used) {
    const col = (a[c] ?? 0) + (b[c] ?? 0);
    observed.push(a[c] ?? 0, b[c] ?? 0);
    expected.push((ta * col) / grand, (tb * col) / grand);
  }
  const statistic = chiSquareStatistic(observed, expected);
  const dof = used.length - 1;
  return { statistic, degreesOfFreedom: dof, pValue: chiSquareSurvival(statistic, dof) };
}

function fmtP(f: GoodnessOfFit | null): string {
  return f === null ? 'n/a' : `p=${f.pValue < 1e-6 ? f.pValue.toExponential(1) : f.pValue.toFixed(4)}`;
}

function distributionCheck(p: Probe, k: ProbeObservation, d: ProbeObservation, alpha: number): Check | null {
  const cells = [...p.expected.backends];
  if (cells.length < 2) return null;
  const kf = uniformFit(k.backends, cells);
  const df = uniformFit(d.backends, cells);
  const h = homogeneity(k.backends, d.backends, cells);
  const counts = (o: ProbeObservation) => cells.map((c) => o.backends[c] ?? 0).join('/');
  const offSpec = (['kernel', 'dpsim'] as const).filter((s) => {
    const f = s === 'kernel' ? kf : df;
    return f !== null && f.pValue < alpha;
  });
  return {
    name: 'distribution',
    // Agreeing means the samples are alike and the shares fit (or fail to fit) on both sides.
    agree: offSpec.length !== 1 && (h === null || h.pValue >= alpha),
    kernel: `${counts(k)} ${fmtP(kf)}`,
    dpsim: `${counts(d)} ${fmtP(df)}`,
    expected: `uniform over ${cells.length}`,
    offSpec,
    detail: `homogeneity kernel vs dpsim ${fmtP(h)}`,
  };
}

/** The reply destination the NAT entry should show for a backend, in natShapeKey terms. */
function expectedReplyDst(p: Probe, backend: string, labels: Readonly<Record<string, string>>): string {
  const peer = p.expected.peerByBackend[backend];
  return peer === (labels[p.sourceIP] ?? p.sourceIP) ? 'orig-src' : peer;
}

function natCheck(
  p: Probe,
  k: ProbeObservation,
  d: ProbeObservation,
  labels: Readonly<Record<string, string>>,
): Check {
  const parse = (key: string) => {
    const m = /^dnat→(\S+) snat→(\S+)$/.exec(key);
    return m ? { src: m[1], dst: m[2] } : { src: key, dst: '?' };
  };
  const bySrc = (o: ProbeObservation) => {
    const m = new Map<string, Set<string>>();
    for (const s of o.natShapes.map(parse)) {
      let set = m.get(s.src);
      if (set === undefined) {
        set = new Set();
        m.set(s.src, set);
      }
      set.add(s.dst);
    }
    return m;
  };
  const km = bySrc(k);
  const dm = bySrc(d);
  const common = [...km.keys()].filter((s) => dm.has(s));
  const differing = common.filter((s) => setText(km.get(s)!) !== setText(dm.get(s)!));
  const emptiness = (k.natShapes.length === 0) === (d.natShapes.length === 0);
  const offSpec = (['kernel', 'dpsim'] as const).filter((side) => {
    const o = side === 'kernel' ? k : d;
    const m = side === 'kernel' ? km : dm;
    if (okCount(o) > 0 && o.natShapes.length === 0) return true; // answered, yet no NAT entry recorded
    for (const [src, dsts] of m) {
      const backend = src.startsWith('pod/') ? src.slice(4) : null;
      if (backend === null || !p.expected.backends.includes(backend)) return true; // not DNATed to a backend
      const want = expectedReplyDst(p, backend, labels);
      if (dsts.size !== 1 || !dsts.has(want)) return true;
    }
    return false;
  });
  return {
    name: 'nat',
    agree: emptiness && differing.length === 0,
    kernel: natText(k),
    dpsim: natText(d),
    expected:
      p.expected.backends.length === 0
        ? 'no entry'
        : setText(new Set(p.expected.backends.map((b) => `snat→${expectedReplyDst(p, b, labels)}`))),
    offSpec,
    ...(differing.length > 0 ? { detail: `differs for ${differing.join(', ')}` } : {}),
  };
}

function natText(o: ProbeObservation): string {
  if (o.natShapes.length === 0) return 'no entry';
  return setText(new Set(o.natShapes.map((s) => s.replace(/^dnat→\S+ /, ''))));
}

function checksFor(
  p: Probe,
  k: ProbeObservation,
  d: ProbeObservation,
  plan: ProbePlan,
  alpha: number,
  shares: CompareOptions['shares'],
): Check[] {
  const checks: Check[] = [outcomeCheck(p, k, d)];
  if (p.sessionAffinity) checks.push(affinityCheck(p, k, d));
  else checks.push(backendsCheck(p, k, d, alpha));
  checks.push(masqueradeCheck(p, k, d));
  const exact = shares && sharesCheck(p, shares.kernel.get(p.id), shares.dpsim.get(p.id));
  if (exact) checks.push({ name: 'shares', ...exact });
  if (!p.sessionAffinity) {
    const dist = distributionCheck(p, k, d, alpha);
    if (dist !== null) checks.push(dist);
  }
  checks.push(natCheck(p, k, d, plan.addressLabels));
  return checks;
}

const EMPTY = (id: string): ProbeObservation => ({
  probeId: id,
  attempts: 0,
  outcomes: {},
  backends: {},
  peersByBackend: {},
  natShapes: [],
});

/** Compares the two sides probe by probe. */
export function compareSides(
  plan: ProbePlan,
  kernel: SideResult,
  dpsim: SideResult,
  options: CompareOptions = {},
): VerifyReport {
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  const kById = new Map(kernel.probes.map((o) => [o.probeId, o]));
  const dById = new Map(dpsim.probes.map((o) => [o.probeId, o]));
  const probes: ProbeComparison[] = plan.probes.map((p) => {
    const k = kById.get(p.id) ?? EMPTY(p.id);
    const d = dById.get(p.id) ?? EMPTY(p.id);
    const checks = checksFor(p, k, d, plan, alpha, options.shares);
    return {
      probe: p,
      kernel: k,
      dpsim: d,
      checks,
      agree: checks.every((c) => c.agree && c.offSpec.length === 0),
    };
  });
  const disagreements: string[] = [];
  for (const pc of probes) {
    for (const c of pc.checks) {
      if (c.agree && c.offSpec.length === 0) continue;
      const why = !c.agree ? 'kernel and dpsim differ' : `${c.offSpec.join(' and ')} off-spec`;
      disagreements.push(
        `${pc.probe.id}: ${c.name} (${why}): kernel ${c.kernel} | dpsim ${c.dpsim}` +
          (c.expected !== undefined ? ` | expected ${c.expected}` : '') +
          (c.detail !== undefined ? ` | ${c.detail}` : ''),
      );
    }
  }
  const maxAttempts = Math.max(
    0,
    ...kernel.probes.map((o) => o.attempts),
    ...dpsim.probes.map((o) => o.attempts),
  );
  return {
    scenario: options.scenario ?? '',
    mode: kernel.mode,
    family: options.family ?? 'ipv4',
    connectionsPerProbe: maxAttempts,
    ...(options.sampling !== undefined ? { sampling: options.sampling } : {}),
    alpha,
    probes,
    skipped: plan.skipped,
    agree: disagreements.length === 0,
    disagreements,
    kernelElapsedMs: kernel.elapsedMs,
    dpsimElapsedMs: dpsim.elapsedMs,
    ...(kernel.dnatCounters ? { dnatCounters: kernel.dnatCounters } : {}),
  };
}
