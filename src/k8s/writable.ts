/**
 * kubernetes-types marks server-populated fields (status, uid, resourceVersion, …) readonly,
 * because clients must not set them. dpsim *is* the server, so it writes them through this view.
 */
export type Writable<T> = { -readonly [K in keyof T]: T[K] };

export function writable<T>(x: T): Writable<T> {
  return x as Writable<T>;
}

/**
 * Deep copy of plain JSON-shaped API data. Much faster than structuredClone for the small
 * objects the controllers copy (structuredClone goes through V8's serializer).
 */
export function cloneJson<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(cloneJson) as T;
  const out: Record<string, unknown> = {};
  for (const k in value as Record<string, unknown>) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = cloneJson(v);
  }
  return out as T;
}
