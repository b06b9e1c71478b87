/**
 * Hop-by-hop record of one packet's path for `dpsim trace`, in the spirit of
 * `iptables -j TRACE`, `nft monitor trace` and pwru: where the packet was, which hook ran,
 * every rule it matched, the NAT applied, the conntrack state, the route and the verdict.
 * Only allocated when tracing is on: the pump checks `tracer !== null` first.
 */
import type { RuleTraceEvent, RuleTraceSink } from '../proxy/common/datapath.js';

export interface TraceStep {
  readonly timeNs: number;
  readonly host: string;
  /** 'rx eth0', 'PREROUTING', 'route', 'conntrack', 'nat', 'tx cali…', 'deliver', 'drop'… */
  readonly stage: string;
  readonly detail: string;
  /** Rules matched at this stage, in order. */
  readonly rules: readonly RuleTraceEvent[];
}

export class PacketTracer implements RuleTraceSink {
  readonly steps: TraceStep[] = [];
  private pendingRules: RuleTraceEvent[] = [];

  record(event: RuleTraceEvent): void {
    this.pendingRules.push(event);
  }

  step(timeNs: number, host: string, stage: string, detail: string): void {
    this.steps.push({ timeNs, host, stage, detail, rules: this.pendingRules });
    this.pendingRules = [];
  }

  /** Human-readable listing, one step per line, rules indented beneath. */
  format(): string {
    return formatTraceSteps(this.steps);
  }
}

/** The listing of any run of steps (e.g. only the first packet's). */
export function formatTraceSteps(steps: readonly TraceStep[]): string {
  const lines: string[] = [];
  for (const s of steps) {
    const t = (s.timeNs / 1e6).toFixed(3).padStart(9);
    lines.push(`${t} ms  ${s.host.padEnd(16)} ${s.stage.padEnd(14)} ${s.detail}`);
    for (const r of s.rules)
      lines.push(`${' '.repeat(44)}${r.table}/${r.chain}#${r.ruleIndex + 1}: ${r.ruleText}`);
  }
  return lines.join('\n');
}
