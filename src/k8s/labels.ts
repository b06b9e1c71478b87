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

/** Label values as text: YAML may hand over `version: 1`, which must match a selector's "1". */
function labelValue(v: unknown): string {
  return typeof v === 'string' ? v : String(v);
}

/**
 * Index of objects by (namespace, label key, label value), so a selector finds its candidates
 * without scanning every object (10k Services × 10 pods must stay fast). Each posting list maps
 * an object's id to a value the caller stores with it (the object itself, say), so a lookup
 * needs no second trip through the object store. Nested maps rather than a joined
 * `ns/key/value` string: no string is built per label on every add, remove or lookup.
 */
export class LabelIndex<T = string> {
  /** namespace → label key → label value → (id → stored value). */
  private readonly byNamespace = new Map<string, Map<string, Map<string, Map<string, T>>>>();

  private postings(ns: string, k: string, v: string): Map<string, T> | undefined {
    return this.byNamespace.get(ns)?.get(k)?.get(v);
  }

  add(ns: string, id: string, labels: Labels | undefined, value: T): void {
    if (labels === undefined) return;
    let byKey = this.byNamespace.get(ns);
    for (const k in labels) {
      if (!Object.hasOwn(labels, k)) continue;
      const v = labelValue(labels[k]);
      if (byKey === undefined) {
        byKey = new Map();
        this.byNamespace.set(ns, byKey);
      }
      let byValue = byKey.get(k);
      if (byValue === undefined) {
        byValue = new Map();
        byKey.set(k, byValue);
      }
      let list = byValue.get(v);
      if (list === undefined) {
        list = new Map();
        byValue.set(v, list);
      }
      list.set(id, value);
    }
  }

  remove(ns: string, id: string, labels: Labels | undefined): void {
    if (labels === undefined) return;
    const byKey = this.byNamespace.get(ns);
    if (byKey === undefined) return;
    for (const k in labels) {
      if (!Object.hasOwn(labels, k)) continue;
      const v = labelValue(labels[k]);
      const byValue = byKey.get(k);
      const list = byValue?.get(v);
      if (list === undefined) continue;
      list.delete(id);
      if (list.size === 0) byValue!.delete(v);
    }
  }

  /** Posting lists for every pair of `selector`, smallest first; undefined when one is empty. */
  private listsFor(ns: string, selector: Labels): Map<string, T>[] | undefined {
    const keys = Object.keys(selector);
    if (keys.length === 0) return undefined;
    const lists: Map<string, T>[] = [];
    for (const k of keys) {
      const list = this.postings(ns, k, labelValue(selector[k]));
      if (list === undefined) return undefined;
      lists.push(list);
    }
    if (lists.length > 1) lists.sort((a, b) => a.size - b.size);
    return lists;
  }

  /** Ids carrying every pair of `selector` (smallest posting list first). */
  matchAll(ns: string, selector: Labels): string[] {
    const lists = this.listsFor(ns, selector);
    if (lists === undefined) return [];
    const out: string[] = [];
    for (const id of lists[0].keys()) {
      let all = true;
      for (let i = 1; i < lists.length && all; i++) all = lists[i].has(id);
      if (all) out.push(id);
    }
    return out;
  }

  /** The stored values of the ids `matchAll` returns, in the same order. */
  matchAllValues(ns: string, selector: Labels): T[] {
    const lists = this.listsFor(ns, selector);
    if (lists === undefined) return [];
    const out: T[] = [];
    for (const [id, value] of lists[0]) {
      let all = true;
      for (let i = 1; i < lists.length && all; i++) all = lists[i].has(id);
      if (all) out.push(value);
    }
    return out;
  }

  /** Ids having at least one of the given pairs (used to find Services whose selector may match a pod). */
  matchAny(ns: string, labels: Labels | undefined): Set<string> {
    const out = new Set<string>();
    if (labels === undefined) return out;
    const byKey = this.byNamespace.get(ns);
    if (byKey === undefined) return out;
    for (const k in labels) {
      if (!Object.hasOwn(labels, k)) continue;
      const list = byKey.get(k)?.get(labelValue(labels[k]));
      if (list) for (const id of list.keys()) out.add(id);
    }
    return out;
  }
}
