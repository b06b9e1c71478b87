/**
 * API-server style errors, worded as kube-apiserver and kubectl print them.
 *
 * A field error renders as apimachinery's `field.Error`: `<path>: <type>[: <value>][: <detail>]`,
 * where Required/Forbidden/Too long/Internal errors never show the value. Several field errors
 * of one object join as `utilerrors.Aggregate` does: one error alone, else `[a, b]` with
 * duplicates removed.
 */

export type FieldErrorType =
  | 'Required value'
  | 'Forbidden'
  | 'Invalid value'
  | 'Unsupported value'
  | 'Duplicate value'
  | 'Too long'
  | 'Internal error';

/** A bad value as Go's `%v` / `%q` / `%#v` would print it. */
export type GoValue = number | string | { readonly goSyntax: string };

export interface FieldError {
  readonly type: FieldErrorType;
  readonly field: string;
  readonly value?: GoValue;
  readonly detail: string;
}

const VALUELESS: ReadonlySet<FieldErrorType> = new Set([
  'Required value',
  'Forbidden',
  'Too long',
  'Internal error',
]);

/** Go's %q for the ASCII text manifests carry (JSON escaping matches it for printable ASCII). */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

function formatGoValue(v: GoValue): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return goQuote(v);
  return v.goSyntax;
}

export function formatFieldError(e: FieldError): string {
  let body: string = e.type;
  if (!VALUELESS.has(e.type) && e.value !== undefined) body += `: ${formatGoValue(e.value)}`;
  if (e.detail.length > 0) body += `: ${e.detail}`;
  return `${e.field}: ${body}`;
}

/** utilerrors.NewAggregate(...).Error(): de-duplicated, bracketed when more than one. */
export function aggregateMessage(messages: readonly string[]): string {
  const unique = [...new Set(messages)];
  if (unique.length === 1) return unique[0];
  return `[${unique.join(', ')}]`;
}

export const fieldErr = {
  required: (field: string, detail = ''): FieldError => ({ type: 'Required value', field, detail }),
  forbidden: (field: string, detail: string): FieldError => ({ type: 'Forbidden', field, detail }),
  invalid: (field: string, value: GoValue, detail: string): FieldError => ({
    type: 'Invalid value',
    field,
    value,
    detail,
  }),
  duplicate: (field: string, value: GoValue): FieldError => ({
    type: 'Duplicate value',
    field,
    value,
    detail: '',
  }),
  notSupported: (field: string, value: string, supported: readonly string[]): FieldError => ({
    type: 'Unsupported value',
    field,
    value,
    detail: `supported values: ${[...supported]
      .sort()
      .map((s) => goQuote(s))
      .join(', ')}`,
  }),
};

/** Base class of every error the control plane reports for one object. */
export class ApiError extends Error {
  override name = 'ApiError';
  /** HTTP-ish reason as kubectl labels it: Invalid, InternalError, NotFound, AlreadyExists, BadRequest. */
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** 422 Invalid: a list of field errors on one object. */
export class InvalidObjectError extends ApiError {
  override name = 'InvalidObjectError';
  readonly kind: string;
  readonly objectName: string;
  readonly causes: readonly FieldError[];
  constructor(kind: string, objectName: string, causes: readonly FieldError[]) {
    // kubectl's StandardErrorMessage prefix, followed by the apiserver's aggregate of the causes.
    super(
      'Invalid',
      `The ${kind} ${goQuote(objectName)} is invalid: ${aggregateMessage(causes.map(formatFieldError))}`,
    );
    this.kind = kind;
    this.objectName = objectName;
    this.causes = causes;
  }

  /** The apiserver's Status.message: `Service "x" is invalid: [a, b]`. */
  get statusMessage(): string {
    return `${this.kind} ${goQuote(this.objectName)} is invalid: ${aggregateMessage(this.causes.map(formatFieldError))}`;
  }

  /** kubectl (MultilineError) prints several causes as a bullet list instead of the bracketed aggregate. */
  get kubectlMultilineMessage(): string {
    const msgs = [...new Set(this.causes.map(formatFieldError))];
    const prefix = `The ${this.kind} ${goQuote(this.objectName)} is invalid: `;
    if (msgs.length === 1) return prefix + msgs[0];
    return `${prefix}\n${msgs.map((m) => `* ${m}`).join('\n')}`;
  }
}

/** 500 InternalError, e.g. `failed to allocate a nodePort: range is full`. */
export class InternalApiError extends ApiError {
  override name = 'InternalApiError';
  constructor(detail: string, source: string) {
    super(
      'InternalError',
      `Error from server (InternalError): error when creating ${goQuote(source)}: Internal error occurred: ${detail}`,
    );
  }
}

export class NotFoundError extends ApiError {
  override name = 'NotFoundError';
  constructor(resource: string, objectName: string, source?: string) {
    const what = `${resource} ${goQuote(objectName)} not found`;
    super(
      'NotFound',
      source === undefined
        ? `Error from server (NotFound): ${what}`
        : `Error from server (NotFound): error when creating ${goQuote(source)}: ${what}`,
    );
  }
}

/** A manifest document that could not be turned into an API object (kubectl's client-side errors). */
export class ManifestError extends Error {
  override name = 'ManifestError';
  readonly documentIndex: number;
  readonly line: number;
  constructor(message: string, documentIndex: number, line: number) {
    super(message);
    this.documentIndex = documentIndex;
    this.line = line;
  }
}

/** Bad input to the cluster itself (Cluster document, options, events). */
export class ClusterConfigError extends Error {
  override name = 'ClusterConfigError';
}
