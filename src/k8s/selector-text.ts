/**
 * Label selectors as `kubectl get -l` takes them (k8s.io/apimachinery/pkg/labels.Parse):
 * comma-separated requirements `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`,
 * `!k`, `k>N`, `k<N`. A malformed selector is a {@link SelectorParseError} with kubectl's
 * leading words (`unable to parse requirement: …`).
 */
import type { Labels } from './labels.js';

export class SelectorParseError extends Error {
  override name = 'SelectorParseError';
}

type Operator = '=' | '!=' | 'in' | 'notin' | 'exists' | '!' | 'gt' | 'lt';

interface Requirement {
  key: string;
  op: Operator;
  values: string[];
}

export interface LabelSelectorText {
  readonly requirements: readonly Requirement[];
  matches(labels: Labels | undefined): boolean;
}

const KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$/;
const VALUE = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?)?$/;

/** Splits on commas outside parentheses. */
function splitRequirements(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.map((s) => s.trim());
}

function checkKey(key: string): string {
  if (!KEY.test(key) || key.length > 316)
    throw new SelectorParseError(`unable to parse requirement: invalid label key "${key}"`);
  return key;
}

function checkValue(value: string): string {
  if (!VALUE.test(value) || value.length > 63)
    throw new SelectorParseError(`unable to parse requirement: invalid label value: "${value}"`);
  return value;
}

function parseRequirement(text: string): Requirement {
  if (text === '')
    throw new SelectorParseError("unable to parse requirement: found '', expected: identifier");
  let m = /^!\s*(\S+)$/.exec(text);
  if (m !== null) return { key: checkKey(m[1]), op: '!', values: [] };
  m = /^(\S+?)\s+(in|notin)\s*\(([^)]*)\)$/.exec(text);
  if (m !== null) {
    const values = m[3].split(',').map((v) => checkValue(v.trim()));
    return { key: checkKey(m[1]), op: m[2] as 'in' | 'notin', values };
  }
  m = /^([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(\S*)$/.exec(text);
  if (m !== null) {
    const op = m[2] === '==' ? '=' : m[2] === '>' ? 'gt' : m[2] === '<' ? 'lt' : (m[2] as '=' | '!=');
    if ((op === 'gt' || op === 'lt') && !/^-?\d+$/.test(m[3]))
      throw new SelectorParseError(
        `unable to parse requirement: for 'gt', 'lt' operators, the value must be an integer`,
      );
    return { key: checkKey(m[1]), op, values: [op === 'gt' || op === 'lt' ? m[3] : checkValue(m[3])] };
  }
  if (/^\S+$/.test(text)) return { key: checkKey(text), op: 'exists', values: [] };
  const found = text.split(/\s+/)[1] ?? '';
  throw new SelectorParseError(
    `unable to parse requirement: found '${found}', expected: '=', '!=', '==', 'in', notin'`,
  );
}

function matchesRequirement(r: Requirement, labels: Labels): boolean {
  const has = Object.hasOwn(labels, r.key);
  const v = labels[r.key];
  switch (r.op) {
    case '=':
      return has && v === r.values[0];
    case '!=':
      return !has || v !== r.values[0];
    case 'in':
      return has && r.values.includes(v);
    case 'notin':
      return !has || !r.values.includes(v);
    case 'exists':
      return has;
    case '!':
      return !has;
    case 'gt':
    case 'lt': {
      if (!has || !/^-?\d+$/.test(v)) return false;
      return r.op === 'gt' ? Number(v) > Number(r.values[0]) : Number(v) < Number(r.values[0]);
    }
  }
}

/** Parses `app=web,tier!=db`; an empty selector matches everything, as in kubectl. */
export function parseLabelSelector(text: string): LabelSelectorText {
  const requirements = text.trim() === '' ? [] : splitRequirements(text).map(parseRequirement);
  return {
    requirements,
    matches: (labels) => requirements.every((r) => matchesRequirement(r, labels ?? {})),
  };
}

/** kubectl's LABELS column: `k=v` pairs sorted by key, comma-joined, or `<none>`. */
export function formatLabelsColumn(labels: Labels | undefined): string {
  const keys = Object.keys(labels ?? {}).sort();
  return keys.length === 0 ? '<none>' : keys.map((k) => `${k}=${labels![k]}`).join(',');
}
