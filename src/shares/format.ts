/** `dpsim rules --shares`: the exact share table as text, one block per node and way in. */
import { fractionText, percent } from './fraction.js';
import type { ServiceShares } from './types.js';

function pad(s: string, n: number): string {
  return s.length >= n ? `${s} ` : s.padEnd(n);
}

export function formatShares(mode: string, rows: readonly ServiceShares[]): string {
  const out: string[] = [];
  let node = '';
  for (const r of rows) {
    if (r.node !== node) {
      node = r.node;
      out.push(
        `# ${node} (${mode} mode): each endpoint's share of new connections, computed exactly from the rules`,
      );
    }
    out.push(`${r.servicePortName}  ${r.path}`);
    out.push(`  ${r.rules.mechanism}`);
    if (r.rules.dependsOn !== null) out.push(`  depends on ${r.rules.dependsOn}`);
    const eps = [...new Set([...r.rules.shares.keys(), ...r.intended])];
    const epW = Math.max(22, ...eps.map((e) => e.length + 2));
    const podW = Math.max(5, ...eps.map((e) => (r.pods.get(e) ?? '').length + 2));
    out.push(`  ${pad('ENDPOINT', epW)}${pad('POD', podW)}${pad('SHARE', 16)}${pad('INTENDED', 16)}EXACT`);
    const n = r.intended.length;
    for (const ep of eps) {
      const s = r.rules.shares.get(ep) ?? { num: 0n, den: 1n };
      const intended = r.intended.includes(ep) ? percent({ num: 1n, den: BigInt(n) }) : '-';
      const exact = fractionText(s);
      out.push(
        `  ${pad(ep, epW)}${pad(r.pods.get(ep) ?? '-', podW)}${pad(percent(s), 16)}${pad(intended, 16)}${exact.length <= 48 ? exact : '(product of the probabilities above)'}`,
      );
    }
    if (r.rules.unmatched.num > 0n) out.push(`  no endpoint: ${percent(r.rules.unmatched)}`);
    out.push(
      r.agree
        ? `  agrees with the intended equal shares (to within ${fractionText(r.rules.resolution)}, the kernel's resolution)`
        : `  DISAGREES with the intended equal shares: ${r.problem}`,
    );
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}
