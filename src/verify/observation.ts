/**
 * What one side (the real kernel or dpsim) did for each probe, in a shape both sides fill
 * the same way: outcome classes, which pod answered how often, the source address each pod
 * saw (as a label), and the NAT shapes conntrack recorded.
 */
import type { Probe } from './plan.js';

/** How a connection ended (curl's exit codes 0 / 7 / 28 / 56 map to the first four). */
export type OutcomeClass = 'ok' | 'refused' | 'timeout' | 'reset' | 'unreachable' | 'other';
export const OUTCOME_CLASSES: readonly OutcomeClass[] = [
  'ok',
  'refused',
  'timeout',
  'reset',
  'unreachable',
  'other',
];

export interface ProbeObservation {
  readonly probeId: string;
  readonly attempts: number;
  readonly outcomes: Readonly<Partial<Record<OutcomeClass, number>>>;
  /** Pod name → answers. */
  readonly backends: Readonly<Record<string, number>>;
  /** Pod name → distinct labels of the source addresses it saw. */
  readonly peersByBackend: Readonly<Record<string, readonly string[]>>;
  /** Distinct NAT shapes (natShapeKey) of the probe's conntrack entries. */
  readonly natShapes: readonly string[];
  /** One sample error message, for the report. */
  readonly sampleError?: string;
}

export type SideName = 'kernel' | 'dpsim';

export interface SideResult {
  readonly side: SideName;
  readonly mode: string;
  readonly probes: readonly ProbeObservation[];
  /** Node name → `conntrack -L` text after all probes. */
  readonly conntrack: Readonly<Record<string, string>>;
  /** Node name → DNAT destination → packets (kernel iptables mode only: `iptables-save -c`). */
  readonly dnatCounters?: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly elapsedMs: number;
}

/** The address of an "ip:port" or "[ip]:port" peer. */
export function peerAddress(peer: string): string {
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(peer);
  return bracketed !== null ? bracketed[1] : peer.replace(/:\d+$/, '');
}

/** Accumulates the connections of one probe. */
export class ObservationBuilder {
  private attempts = 0;
  private readonly outcomes: Partial<Record<OutcomeClass, number>> = {};
  private readonly backends: Record<string, number> = {};
  private readonly peers: Record<string, Set<string>> = {};
  private sampleError: string | undefined;

  constructor(
    private readonly probe: Probe,
    private readonly labels: Readonly<Record<string, string>>,
  ) {}

  /** One connection: its class, and for answered ones the pod and the "ip:port" ("[ip]:port") it saw. */
  add(cls: OutcomeClass, servedBy?: { pod: string; peer: string }, error?: string): void {
    this.attempts += 1;
    if (cls === 'ok' && servedBy === undefined) {
      cls = 'other';
      error ??= 'answered without naming a pod';
    }
    this.outcomes[cls] = (this.outcomes[cls] ?? 0) + 1;
    if (error !== undefined && this.sampleError === undefined) this.sampleError = error;
    if (cls !== 'ok' || servedBy === undefined) return;
    this.backends[servedBy.pod] = (this.backends[servedBy.pod] ?? 0) + 1;
    const ip = peerAddress(servedBy.peer);
    let seen = this.peers[servedBy.pod];
    if (seen === undefined) {
      seen = new Set();
      this.peers[servedBy.pod] = seen;
    }
    seen.add(this.labels[ip] ?? ip);
  }

  build(natShapes: readonly string[]): ProbeObservation {
    return {
      probeId: this.probe.id,
      attempts: this.attempts,
      outcomes: { ...this.outcomes },
      backends: { ...this.backends },
      peersByBackend: Object.fromEntries(Object.entries(this.peers).map(([k, v]) => [k, [...v].sort()])),
      natShapes: [...natShapes],
      ...(this.sampleError === undefined ? {} : { sampleError: this.sampleError }),
    };
  }
}
