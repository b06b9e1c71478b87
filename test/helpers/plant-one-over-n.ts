/**
 * The planted balance bug of issue 12 as a dump: every `-m statistic --probability` of a
 * KUBE-SVC-/KUBE-SVL- chain rewritten to 1/n (n = the chain's endpoint jumps) instead of
 * kube-proxy's 1/(n−i), which gives shares 1/3, 2/9, 4/9 for three endpoints.
 */
import { kubeProxyProbability } from '../../src/proxy/iptables/format.js';

export function plantOneOverN(save: string): string {
  const lines = save.split('\n');
  const jumps = new Map<string, number>();
  for (const l of lines) {
    const m = /^-A (KUBE-SV[CL]-\S+) .*-j KUBE-SEP-/.exec(l);
    if (m !== null) jumps.set(m[1], (jumps.get(m[1]) ?? 0) + 1);
  }
  return lines
    .map((l) => {
      const m = /^-A (KUBE-SV[CL]-\S+) /.exec(l);
      if (m === null) return l;
      return l.replace(/--probability \S+/, `--probability ${kubeProxyProbability(jumps.get(m[1]) ?? 1)}`);
    })
    .join('\n');
}
