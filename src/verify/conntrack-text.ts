/**
 * Reading `conntrack -L` text (the kernel's and the one dpsim prints in the same format) and
 * reducing the entries of one probe to their NAT shape: who the reply comes from (the pod
 * after DNAT) and whom it goes back to (the original source, or the node after SNAT).
 */

export interface ConntrackEntry {
  readonly proto: string;
  readonly state: string;
  readonly orig: {
    readonly src: string;
    readonly dst: string;
    readonly sport: number;
    readonly dport: number;
  };
  readonly reply: {
    readonly src: string;
    readonly dst: string;
    readonly sport: number;
    readonly dport: number;
  };
  readonly flags: readonly string[];
}

/**
 * Parses lines like
 * `tcp 6 119 TIME_WAIT src=A dst=B sport=1 dport=2 src=C dst=D sport=3 dport=4 [ASSURED] mark=0 use=1`.
 * Lines without two src/dst tuples (the summary line, blank lines) are ignored.
 */
export function parseConntrack(text: string): ConntrackEntry[] {
  const out: ConntrackEntry[] = [];
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words.length < 4) continue;
    const tuples: Record<string, string>[] = [];
    let current: Record<string, string> | null = null;
    const flags: string[] = [];
    let state = '';
    for (const w of words) {
      if (w.startsWith('[') && w.endsWith(']')) {
        flags.push(w.slice(1, -1));
        continue;
      }
      const eq = w.indexOf('=');
      if (eq < 0) {
        if (/^[A-Z_]+$/.test(w)) state = w;
        continue;
      }
      const key = w.slice(0, eq);
      const value = w.slice(eq + 1);
      if (key === 'src') {
        current = {};
        tuples.push(current);
      }
      if (current !== null && (key === 'src' || key === 'dst' || key === 'sport' || key === 'dport'))
        current[key] = value;
    }
    if (tuples.length < 2) continue;
    const t = (r: Record<string, string>) => ({
      src: r.src ?? '',
      dst: r.dst ?? '',
      sport: Number(r.sport ?? 0),
      dport: Number(r.dport ?? 0),
    });
    out.push({ proto: words[0], state, orig: t(tuples[0]), reply: t(tuples[1]), flags });
  }
  return out;
}

/** The NAT shape of one entry, with addresses replaced by labels ('client', `node/<n>`, `pod/<n>`). */
export interface NatShape {
  /** Label of the reply source: the backend after DNAT, or 'service' when not DNATed. */
  readonly replySrc: string;
  /** 'orig-src' when not source-NATed to another address, else the label of the SNAT address. */
  readonly replyDst: string;
}

export function natShapeKey(s: NatShape): string {
  return `dnat→${s.replySrc} snat→${s.replyDst}`;
}

/**
 * Distinct NAT shapes of the entries whose original tuple is `sourceIP → dstIP:dstPort`
 * (the service address), over the given tables (one per node: the entry node holds the NAT).
 */
export function natShapesFor(
  tables: readonly string[],
  sourceIP: string,
  dstIP: string,
  dstPort: number,
  labels: Readonly<Record<string, string>>,
  proto: 'tcp' | 'udp' = 'tcp',
): string[] {
  const label = (ip: string) => labels[ip] ?? ip;
  const keys = new Set<string>();
  for (const text of tables) {
    for (const e of parseConntrack(text)) {
      if (e.proto !== proto || e.orig.src !== sourceIP || e.orig.dst !== dstIP || e.orig.dport !== dstPort)
        continue;
      keys.add(
        natShapeKey({
          replySrc: e.reply.src === dstIP ? 'service' : label(e.reply.src),
          replyDst: e.reply.dst === e.orig.src ? 'orig-src' : label(e.reply.dst),
        }),
      );
    }
  }
  return [...keys].sort();
}
