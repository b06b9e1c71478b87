/** Label selectors (k8s.io/apimachinery/pkg/labels) and an index from label pairs to objects. */
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';

export type Labels = Readonly<Record<string, string>>;

/** A Service-style equality selector: every pair must match. An empty selector matches nothing here. */
export function matchesMap(selector: Labels | undefined, labels: Labels | undefined): boolean {
  if (selector === undefined) return false;
  const keys = Object.keys(selector);
  if (keys.length === 0) return false;
  for (const k of keys) if (labels?.[k] !== selector[k]) return false;
  return true;
}

/** metav1.LabelSelector with matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist). */
export function matchesLabelSelector(
  selector: LabelSelector | undefined,
  labels: Labels | undefined,
): boolean {
  if (selector === undefined) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(l, e.key);
    switch (e.operator) {
      case 'In':
        if (!has || !(e.values ?? []).includes(l[e.key])) return false;
        break;
      case 'NotIn':
        if (has && (e.values ?? []).includes(l[e.key])) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** `app=web,env=dev`: kubectl's selector text (keys sorted). */
export function formatSelectorMap(selector: Labels | undefined): string {
  if (selector === undefined) return '';
  return Object.keys(selector)
    .sort()
    .map((k) => `${k}=${selector[k]}`)
    .join(',');
}

export function formatLabelSelector(selector: LabelSelector | undefined): string {
  if (selector === undefined) return '';
  const parts: string[] = [];
  const ml = selector.matchLabels ?? {};
  for (const k of Object.keys(ml).sort()) parts.push(`${k}=${ml[k]}`);
  for (const e of selector.matchExpressions ?? []) {
    const vals = [...(e.values ?? [])].sort().join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${vals})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${vals})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

/** Go's %#v of a map[string]string (keys sorted), as validation messages print label maps. */
export function goMapSyntax(labels: Labels | undefined): string {
  const l = labels ?? {};
  return `map[string]string{${Object.keys(l)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${JSON.stringify(l[k])}`)
    .join(', ')}}`;
}

/**
 * Index of objects by (namespace, label key, label value), so a selector finds its candidates
 * without scanning every object (10k Services × 10 pods must stay fast).
 */
export class LabelIndex {
  private readonly byPair = new Map<string, Set<string>>();

  private static pairKey(ns: string, k: string, v: string): string {
    return `${ns}\u0000${k}\u0000${v}`;
  }

  add(ns: string, id: string, labels: Labels | undefined): void {
    for (const [k, v] of Object.entries(labels ?? {})) {
      const pk = LabelIndex.pairKey(ns, k, v);
      let set = this.byPair.get(pk);
      if (set === undefined) {
        set = new Set();
        this.byPair.set(pk, set);
      }
      set.add(id);
    }
  }

  remove(ns: string, id: string, labels: Labels | undefined): void {
    for (const [k, v] of Object.entries(labels ?? {})) {
      const pk = LabelIndex.pairKey(ns, k, v);
      const set = this.byPair.get(pk);
      if (set === undefined) continue;
      set.delete(id);
      if (set.size === 0) this.byPair.delete(pk);
    }
  }

  /** Ids carrying every pair of `selector` (smallest posting list first). */
  matchAll(ns: string, selector: Labels): string[] {
    const keys = Object.keys(selector);
    if (keys.length === 0) return [];
    const lists: Set<string>[] = [];
    for (const k of keys) {
      const set = this.byPair.get(LabelIndex.pairKey(ns, k, selector[k]));
      if (set === undefined) return [];
      lists.push(set);
    }
    lists.sort((a, b) => a.size - b.size);
    const out: string[] = [];
    for (const id of lists[0]) {
      let all = true;
      for (let i = 1; i < lists.length && all; i++) all = lists[i].has(id);
      if (all) out.push(id);
    }
    return out;
  }

  /** Ids having at least one of the given pairs (used to find Services whose selector may match a pod). */
  matchAny(ns: string, labels: Labels | undefined): Set<string> {
    const out = new Set<string>();
    for (const [k, v] of Object.entries(labels ?? {})) {
      const set = this.byPair.get(LabelIndex.pairKey(ns, k, v));
      if (set) for (const id of set) out.add(id);
    }
    return out;
  }
}
