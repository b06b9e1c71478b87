/**
 * Multi-document YAML manifests → objects applied to a Cluster, one outcome per object, in
 * document order (as `kubectl apply -f` walks a file). A bad document never stops the others.
 * The dpsim `Cluster` document (apiVersion dpsim/v1alpha1) is read first, wherever it sits.
 */

import { LineCounter, parseAllDocuments } from 'yaml';
import type { CiliumConfig } from '../config/cilium-values.js';
import { extractNodeConfig } from '../config/documents.js';
import type { KubeProxyConfig } from '../config/kube-proxy-config.js';
import { type ApplyOutcome, Cluster, type ClusterCreateOptions, type KubeObject } from './cluster.js';
import type { ClusterDocumentSpec, ClusterOptions } from './cluster-config.js';
import { installClusterDns } from './cluster-dns-addon.js';
import { ClusterConfigError, ManifestError } from './errors.js';
import { parseDocumentsFast } from './yaml-fast-path.js';

export const DPSIM_API_VERSION = 'dpsim/v1alpha1';

/** The kinds dpsim simulates, by apiVersion (what the apiserver's discovery would map). */
const SIMULATED: Record<string, readonly string[]> = {
  v1: ['Service', 'Pod', 'Node', 'Namespace'],
  'apps/v1': ['ReplicaSet', 'Deployment', 'DaemonSet', 'StatefulSet'],
  'discovery.k8s.io/v1': ['EndpointSlice'],
};
/** Kinds a real cluster knows but dpsim does not model: reported as ignored, not rejected. */
const KNOWN_ELSEWHERE: Record<string, readonly string[]> = {
  v1: [
    'ConfigMap',
    'Secret',
    'ServiceAccount',
    'Endpoints',
    'PersistentVolumeClaim',
    'LimitRange',
    'ResourceQuota',
  ],
  'batch/v1': ['Job', 'CronJob'],
  'networking.k8s.io/v1': ['Ingress', 'NetworkPolicy', 'IngressClass'],
  'policy/v1': ['PodDisruptionBudget'],
  'rbac.authorization.k8s.io/v1': ['Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'],
};

export interface ManifestSource {
  /** File name as the user gave it (used in messages, like kubectl's "from FILE"). */
  readonly source: string;
  readonly text: string;
}

/** One parsed document (or the error that stopped it). */
export interface ParsedDocument {
  readonly source: string;
  /** 0-based document index within its source. */
  readonly index: number;
  /** 1-based line where the document starts. */
  readonly line: number;
  readonly object?: Record<string, unknown>;
  readonly error?: ManifestError;
}

export interface DocumentOutcome extends ApplyOutcome {
  readonly source: string;
  readonly documentIndex: number;
  readonly line: number;
}

export interface LoadResult {
  readonly cluster: Cluster;
  readonly outcomes: readonly DocumentOutcome[];
  /** True when any document or object was rejected (the CLI then exits non-zero). */
  readonly rejected: boolean;
  /** A KubeProxyConfiguration document among the manifests, parsed and defaulted. */
  readonly kubeProxyConfig?: KubeProxyConfig;
  /** A dpsim/v1alpha1 CiliumValues document among the manifests. */
  readonly cilium?: CiliumConfig;
}

export interface LoadOptions extends ClusterOptions {
  /** Source name for `text` input; default "manifest.yaml". */
  source?: string;
}

/** Splits YAML text into documents; `kind: List` items are expanded in place. */
export function parseManifests(text: string, source: string): ParsedDocument[] {
  const fast = parseDocumentsFast(text);
  if (fast !== undefined) {
    const out: ParsedDocument[] = [];
    fast.forEach((doc, index) => {
      pushDocumentValue(out, source, index, doc.line, doc.value);
    });
    return out;
  }
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [];
  const out: ParsedDocument[] = [];
  list.forEach((doc, index) => {
    const line = lineCounter.linePos(doc.range[0]).line;
    if (doc.errors.length > 0) {
      const err = doc.errors[0];
      const errLine = lineCounter.linePos(err.pos[0]).line;
      const msg = err.message.split('\n')[0];
      out.push({
        source,
        index,
        line: errLine,
        error: new ManifestError(
          `error: error parsing ${source}: document ${index + 1} (line ${errLine}): ${msg}`,
          index,
          errLine,
        ),
      });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      out.push({
        source,
        index,
        line,
        error: new ManifestError(
          `error: error parsing ${source}: document ${index + 1} (line ${line}): ${(e as Error).message}`,
          index,
          line,
        ),
      });
      return;
    }
    pushDocumentValue(out, source, index, line, value);
  });
  return out;
}

/** One document's value as parsed documents: skipped when empty, an error when not a mapping, a List's items. */
function pushDocumentValue(
  out: ParsedDocument[],
  source: string,
  index: number,
  line: number,
  value: unknown,
): void {
  if (value === null || value === undefined) return; // empty document, as kubectl skips it
  if (typeof value !== 'object' || Array.isArray(value)) {
    out.push({
      source,
      index,
      line,
      error: new ManifestError(
        `error: error validating "${source}": document ${index + 1} (line ${line}) is not an object`,
        index,
        line,
      ),
    });
    return;
  }
  const obj = value as Record<string, unknown>;
  if (obj.kind === 'List' && Array.isArray(obj.items)) {
    for (const item of obj.items) {
      if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
        out.push({ source, index, line, object: item as Record<string, unknown> });
      }
    }
    return;
  }
  out.push({ source, index, line, object: obj });
}

function clientSideError(doc: ParsedDocument): string | undefined {
  const o = doc.object!;
  if (typeof o.apiVersion !== 'string' || o.apiVersion === '') {
    return `error: error validating "${doc.source}": error validating data: apiVersion not set; if you choose to ignore these errors, turn validation off with --validate=false`;
  }
  if (typeof o.kind !== 'string' || o.kind === '') {
    return `error: error validating "${doc.source}": error validating data: kind not set; if you choose to ignore these errors, turn validation off with --validate=false`;
  }
  const meta = o.metadata;
  if (meta !== undefined && (meta === null || typeof meta !== 'object' || Array.isArray(meta))) {
    return `error: error validating "${doc.source}": error validating data: ValidationError(${o.kind}.metadata): invalid type for io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta: got "${Array.isArray(meta) ? 'array' : typeof meta}", expected "map"`;
  }
  return undefined;
}

function unknownKindError(doc: ParsedDocument): string {
  const o = doc.object!;
  const meta = (o.metadata ?? {}) as Record<string, unknown>;
  const name = typeof meta.name === 'string' ? meta.name : '';
  const ns = typeof meta.namespace === 'string' ? meta.namespace : '';
  return (
    `error: resource mapping not found for name: "${name}" namespace: "${ns}" from "${doc.source}": ` +
    `no matches for kind "${o.kind}" in version "${o.apiVersion}"\nensure CRDs are installed first`
  );
}

function outcomeFor(doc: ParsedDocument, o: ApplyOutcome): DocumentOutcome {
  return { ...o, source: doc.source, documentIndex: doc.index, line: doc.line };
}

function rejectDoc(doc: ParsedDocument, message: string, error?: Error): DocumentOutcome {
  const o = doc.object ?? {};
  const meta = (o.metadata ?? {}) as Record<string, unknown>;
  return {
    kind: typeof o.kind === 'string' ? o.kind : '',
    name: typeof meta.name === 'string' ? meta.name : '',
    namespace: typeof meta.namespace === 'string' ? meta.namespace : '',
    status: 'rejected',
    message,
    error: error ?? new ManifestError(message, doc.index, doc.line),
    source: doc.source,
    documentIndex: doc.index,
    line: doc.line,
  };
}

/**
 * Builds a cluster from manifests. With no Cluster document the origin scenario's cluster is
 * used. Options override the Cluster document as the real flags would.
 */
export function loadManifests(
  input: string | readonly ManifestSource[],
  options: LoadOptions = {},
): LoadResult {
  const sources: readonly ManifestSource[] =
    typeof input === 'string' ? [{ source: options.source ?? 'manifest.yaml', text: input }] : input;
  // Node configuration (KubeProxyConfiguration, CiliumValues) configures the proxies, not the API.
  const nodeConfig = extractNodeConfig(sources.flatMap((s) => parseManifests(s.text, s.source)));
  const docs = nodeConfig.rest;
  const outcomes: DocumentOutcome[] = nodeConfig.rejected.map((r) => rejectDoc(r.doc, r.message));

  // The Cluster document shapes everything else, so it is read first.
  let clusterDoc: ParsedDocument | undefined;
  const rest: ParsedDocument[] = [];
  for (const d of docs) {
    if (d.object?.apiVersion === DPSIM_API_VERSION && d.object.kind === 'Cluster') {
      if (clusterDoc === undefined) clusterDoc = d;
      else
        outcomes.push(
          rejectDoc(
            d,
            `error: only one ${DPSIM_API_VERSION} Cluster document is allowed (another one is in ${clusterDoc.source})`,
          ),
        );
    } else rest.push(d);
  }

  const create: ClusterCreateOptions = { ...options };
  // kube-proxy's own mode setting wins over the Cluster document's; the --mode flag over both.
  if (
    create.proxyMode === undefined &&
    nodeConfig.kubeProxy !== undefined &&
    nodeConfig.kubeProxy.mode !== ''
  )
    create.proxyMode = nodeConfig.kubeProxy.mode;
  if (clusterDoc !== undefined) {
    const spec = clusterDoc.object!.spec;
    const meta = clusterDoc.object!.metadata as Record<string, unknown> | undefined;
    if (spec !== undefined && (spec === null || typeof spec !== 'object' || Array.isArray(spec))) {
      outcomes.push(rejectDoc(clusterDoc, 'error: Cluster.spec must be a mapping'));
    } else {
      create.clusterSpec = spec as ClusterDocumentSpec | undefined;
      if (typeof meta?.name === 'string') create.clusterName = meta.name;
    }
  }
  let cluster: Cluster;
  try {
    cluster = new Cluster(create);
    if (
      clusterDoc !== undefined &&
      !outcomes.some((o) => o.documentIndex === clusterDoc.index && o.source === clusterDoc.source)
    ) {
      outcomes.push({
        kind: 'Cluster',
        name: cluster.config.name,
        namespace: '',
        status: 'created',
        message: `cluster.dpsim/${cluster.config.name} created`,
        source: clusterDoc.source,
        documentIndex: clusterDoc.index,
        line: clusterDoc.line,
      });
    }
  } catch (e) {
    if (!(e instanceof ClusterConfigError) || clusterDoc === undefined) throw e;
    // A broken Cluster document is reported; the rest still runs on the default cluster.
    outcomes.push(rejectDoc(clusterDoc, `error: ${e.message}`, e));
    const { clusterSpec: _drop, ...withoutSpec } = create;
    cluster = new Cluster(withoutSpec);
  }

  outcomes.push(...applyParsed(cluster, rest));
  // kubespray's CoreDNS, after the user's objects so their generated names and IPs do not move.
  installClusterDns(cluster);
  const order = new Map(sources.map((s, i) => [s.source, i]));
  outcomes.sort(
    (a, b) => (order.get(a.source) ?? 0) - (order.get(b.source) ?? 0) || a.documentIndex - b.documentIndex,
  );
  return {
    cluster,
    outcomes,
    rejected: outcomes.some((o) => o.status === 'rejected'),
    ...(nodeConfig.kubeProxy !== undefined ? { kubeProxyConfig: nodeConfig.kubeProxy } : {}),
    ...(nodeConfig.cilium !== undefined ? { cilium: nodeConfig.cilium } : {}),
  };
}

/** Applies more manifests to an existing cluster (a later `kubectl apply -f`). */
export function applyManifests(cluster: Cluster, text: string, source = 'manifest.yaml'): DocumentOutcome[] {
  const docs = parseManifests(text, source);
  const outcomes: DocumentOutcome[] = [];
  const rest: ParsedDocument[] = [];
  for (const d of docs) {
    if (d.object?.apiVersion === DPSIM_API_VERSION && d.object.kind === 'Cluster') {
      outcomes.push(
        rejectDoc(d, 'error: the Cluster document can only be given when the cluster is created'),
      );
    } else rest.push(d);
  }
  return outcomes.concat(applyParsed(cluster, rest));
}

function applyParsed(cluster: Cluster, docs: readonly ParsedDocument[]): DocumentOutcome[] {
  const out: DocumentOutcome[] = [];
  for (const doc of docs) {
    if (doc.error !== undefined) {
      out.push(rejectDoc(doc, doc.error.message, doc.error));
      continue;
    }
    const clientErr = clientSideError(doc);
    if (clientErr !== undefined) {
      out.push(rejectDoc(doc, clientErr));
      continue;
    }
    const o = doc.object!;
    const apiVersion = o.apiVersion as string;
    const kind = o.kind as string;
    if (!(SIMULATED[apiVersion] ?? []).includes(kind)) {
      if ((KNOWN_ELSEWHERE[apiVersion] ?? []).includes(kind)) {
        const name = ((o.metadata ?? {}) as Record<string, unknown>).name;
        out.push(
          outcomeFor(doc, {
            kind,
            name: typeof name === 'string' ? name : '',
            namespace: '',
            status: 'ignored',
            message: `dpsim: ${kind} is not simulated; ${String(name ?? '')} ignored`,
          }),
        );
      } else out.push(rejectDoc(doc, unknownKindError(doc)));
      continue;
    }
    out.push(outcomeFor(doc, cluster.applyObject(o as unknown as KubeObject, doc.source)));
  }
  return out;
}
