/**
 * What a command says about the manifests it was given, before its own output: each rejected
 * document's kubectl-style error, and one warning naming every kind dpsim does not simulate
 * (`warning: ignored 1 Ingress, 2 ConfigMap (not simulated)`). Which kinds are ignored is
 * the loader's business (src/k8s/manifests.ts); this only counts the outcomes it reports.
 */
import type { DocumentOutcome } from '../k8s/manifests.js';

/** `warning: ignored 1 Ingress, 2 ConfigMap (not simulated)`, or null when nothing was ignored. */
export function ignoredKindsWarning(outcomes: readonly DocumentOutcome[]): string | null {
  const counts = new Map<string, number>();
  for (const o of outcomes) if (o.status === 'ignored') counts.set(o.kind, (counts.get(o.kind) ?? 0) + 1);
  if (counts.size === 0) return null;
  const parts = [...counts].map(([kind, n]) => `${n} ${kind}`);
  return `warning: ignored ${parts.join(', ')} (not simulated)`;
}

/** Prints the rejections and the ignored-kinds warning on stderr. */
export function reportOutcomes(outcomes: readonly DocumentOutcome[], stderr: (text: string) => void): void {
  for (const o of outcomes) if (o.status === 'rejected') stderr(`${o.message}\n`);
  const warning = ignoredKindsWarning(outcomes);
  if (warning !== null) stderr(`${warning}\n`);
}
