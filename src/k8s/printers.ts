/**
 * kubectl-style output for `dpsim get`: the server-side table columns of
 * pkg/printers/internalversion (printers.go), laid out as kubectl's tabwriter does
 * (minimum cell width 6, padding 3, last column unpadded), ages in
 * apimachinery's duration.HumanDuration, and `-o yaml|json` as kubectl prints lists.
 */
import type { DaemonSet, Deployment, ReplicaSet, StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { Namespace, Node, Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { stringify as yamlStringify } from 'yaml';
import { isIPv4, parseIPv4 } from '../util/ipv4.js';
import type { Cluster } from './cluster.js';
import { managesSlices } from './controllers/endpointslice.js';
import { isPodTerminating } from './controllers/pods.js';
import { formatLabelSelector, formatSelectorMap } from './labels.js';
import { formatLabelsColumn, type LabelSelectorText } from './selector-text.js';

/** duration.HumanDuration: "23s", "5m", "2m30s", "3h5m", "2d4h", … */
export function humanDuration(ms: number): string {
  // Go's int(d.Seconds()) truncates toward zero.
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.floor(hours / 24) % 365;
    const y = Math.floor(hours / 24 / 365);
    return dy === 0 ? `${y}y` : `${y}y${dy}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

const TAB_MIN_WIDTH = 6;
const TAB_PADDING = 3;

/** text/tabwriter with kubectl's settings: every column but the last padded to max(6, widest + 3). */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) =>
    Math.max(TAB_MIN_WIDTH, ...all.map((r) => (r[c] ?? '').length + TAB_PADDING)),
  );
  return all
    .map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join(''))
    .join('\n');
}

type AnyObject = {
  metadata?: {
    name?: string;
    namespace?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
  };
};

export interface ResourceType {
  /** Canonical plural, as in `kubectl get <plural>`. */
  readonly plural: string;
  readonly kind: string;
  readonly apiVersion: string;
  /** `kind.group` prefix printed before names when several types are listed. */
  readonly prefix: string;
  readonly namespaced: boolean;
  readonly aliases: readonly string[];
  list(cluster: Cluster): AnyObject[];
  header(wide: boolean): string[];
  row(cluster: Cluster, obj: AnyObject, wide: boolean): string[];
}

function age(cluster: Cluster, obj: AnyObject): string {
  const ts = obj.metadata?.creationTimestamp;
  if (ts === undefined) return '<unknown>';
  return humanDuration(cluster.now() - Date.parse(ts));
}

function podStatus(pod: Pod): string {
  if (isPodTerminating(pod)) return 'Terminating';
  return pod.status?.phase ?? 'Unknown';
}

function servicePorts(svc: Service): string {
  const ports = svc.spec?.ports ?? [];
  if (ports.length === 0) return '<none>';
  return ports
    .map((p) =>
      p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol ?? 'TCP'}` : `${p.port}/${p.protocol ?? 'TCP'}`,
    )
    .join(',');
}

function serviceExternalIP(svc: Service): string {
  const spec = svc.spec ?? {};
  const ext = spec.externalIPs ?? [];
  switch (spec.type) {
    case 'ClusterIP':
    case 'NodePort':
      return ext.length > 0 ? ext.join(',') : '<none>';
    case 'LoadBalancer': {
      const ingress = (svc.status?.loadBalancer?.ingress ?? [])
        .map((i) => i.ip ?? i.hostname ?? '')
        .filter((s) => s !== '');
      const all = [...ingress, ...ext];
      return all.length > 0 ? all.join(',') : '<pending>';
    }
    case 'ExternalName':
      return spec.externalName ?? '<none>';
    default:
      return '<unknown>';
  }
}

/** kubectl's "first 3, then ` + N more...`" list formatting. */
function listWithMore(items: readonly string[], empty: string): string {
  if (items.length === 0) return empty;
  const shown = items.slice(0, 3).join(',');
  return items.length > 3 ? `${shown} + ${items.length - 3} more...` : shown;
}

/**
 * The legacy Endpoints view (`kubectl get endpoints`) derived from the Service's slices:
 * formatEndpoints walks each subset's ports, then its ready addresses (sorted by IP, as the
 * endpoints controller packs subsets).
 */
function endpointsText(cluster: Cluster, svc: Service): string {
  const pairs: string[] = [];
  for (const s of cluster.slicesOfService(svc)) {
    if (!ofPrimaryFamily(s, svc)) continue;
    const ips = s.endpoints
      .filter((e) => e.conditions?.ready !== false)
      .map((e) => e.addresses[0])
      .sort((a, b) => ipOrder(a) - ipOrder(b));
    for (const p of s.ports ?? [])
      if (p.port !== undefined) for (const ip of ips) pairs.push(`${ip}:${p.port}`);
  }
  return listWithMore(pairs, '<none>');
}

/** The legacy Endpoints of a dual-stack Service hold its primary family only (the endpoints controller's choice). */
function ofPrimaryFamily(s: EndpointSlice, svc: Service): boolean {
  const primary = svc.spec?.ipFamilies?.[0];
  return primary === undefined || s.addressType === primary;
}

function ipOrder(ip: string): number {
  return isIPv4(ip) ? parseIPv4(ip) : 0;
}

function nodeRoles(node: Node): string {
  const roles = Object.keys(node.metadata?.labels ?? {})
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length))
    .sort();
  return roles.length > 0 ? roles.join(',') : '<none>';
}

function containersAndImages(
  tmpl: { spec?: { containers?: { name: string; image?: string }[] } } | undefined,
): string[] {
  const cs = tmpl?.spec?.containers ?? [];
  return [cs.map((c) => c.name).join(','), cs.map((c) => c.image ?? '').join(',')];
}

export const RESOURCE_TYPES: readonly ResourceType[] = [
  {
    plural: 'pods',
    kind: 'Pod',
    apiVersion: 'v1',
    prefix: 'pod',
    namespaced: true,
    aliases: ['pods', 'pod', 'po'],
    list: (c) => c.pods(),
    header: (wide) =>
      wide
        ? ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES']
        : ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'],
    row: (c, o, wide) => {
      const pod = o as Pod;
      const total = pod.spec?.containers?.length ?? 0;
      const ready = (pod.status?.containerStatuses ?? []).filter((s) => s.ready).length;
      const restarts = (pod.status?.containerStatuses ?? []).reduce((n, s) => n + s.restartCount, 0);
      const base = [pod.metadata!.name!, `${ready}/${total}`, podStatus(pod), String(restarts), age(c, pod)];
      if (!wide) return base;
      return [...base, pod.status?.podIP ?? '<none>', pod.spec?.nodeName ?? '<none>', '<none>', '<none>'];
    },
  },
  {
    plural: 'replicasets',
    kind: 'ReplicaSet',
    apiVersion: 'apps/v1',
    prefix: 'replicaset.apps',
    namespaced: true,
    aliases: ['replicasets', 'replicaset', 'rs'],
    list: (c) => c.replicaSets(),
    header: (wide) =>
      wide
        ? ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE', 'CONTAINERS', 'IMAGES', 'SELECTOR']
        : ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE'],
    row: (c, o, wide) => {
      const rs = o as ReplicaSet;
      const base = [
        rs.metadata!.name!,
        String(rs.spec?.replicas ?? 1),
        String(rs.status?.replicas ?? 0),
        String(rs.status?.readyReplicas ?? 0),
        age(c, rs),
      ];
      if (!wide) return base;
      return [...base, ...containersAndImages(rs.spec?.template), formatLabelSelector(rs.spec?.selector)];
    },
  },
  {
    plural: 'deployments',
    kind: 'Deployment',
    apiVersion: 'apps/v1',
    prefix: 'deployment.apps',
    namespaced: true,
    aliases: ['deployments', 'deployment', 'deploy'],
    list: (c) => c.deployments(),
    header: (wide) =>
      wide
        ? ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE', 'CONTAINERS', 'IMAGES', 'SELECTOR']
        : ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE'],
    row: (c, o, wide) => {
      const d = o as Deployment;
      const base = [
        d.metadata!.name!,
        `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 1}`,
        String(d.status?.updatedReplicas ?? 0),
        String(d.status?.availableReplicas ?? 0),
        age(c, d),
      ];
      if (!wide) return base;
      return [...base, ...containersAndImages(d.spec?.template), formatLabelSelector(d.spec?.selector)];
    },
  },
  {
    plural: 'daemonsets',
    kind: 'DaemonSet',
    apiVersion: 'apps/v1',
    prefix: 'daemonset.apps',
    namespaced: true,
    aliases: ['daemonsets', 'daemonset', 'ds'],
    list: (c) => c.daemonSets(),
    header: (wide) => {
      const base = ['NAME', 'DESIRED', 'CURRENT', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'NODE SELECTOR', 'AGE'];
      return wide ? [...base, 'CONTAINERS', 'IMAGES', 'SELECTOR'] : base;
    },
    row: (c, o, wide) => {
      const ds = o as DaemonSet;
      const st = ds.status;
      const base = [
        ds.metadata?.name ?? '',
        String(st?.desiredNumberScheduled ?? 0),
        String(st?.currentNumberScheduled ?? 0),
        String(st?.numberReady ?? 0),
        String(st?.updatedNumberScheduled ?? 0),
        String(st?.numberAvailable ?? 0),
        formatSelectorMap(ds.spec?.template?.spec?.nodeSelector) || '<none>',
        age(c, ds),
      ];
      if (!wide) return base;
      return [...base, ...containersAndImages(ds.spec?.template), formatLabelSelector(ds.spec?.selector)];
    },
  },
  {
    plural: 'statefulsets',
    kind: 'StatefulSet',
    apiVersion: 'apps/v1',
    prefix: 'statefulset.apps',
    namespaced: true,
    aliases: ['statefulsets', 'statefulset', 'sts'],
    list: (c) => c.statefulSets(),
    header: (wide) => (wide ? ['NAME', 'READY', 'AGE', 'CONTAINERS', 'IMAGES'] : ['NAME', 'READY', 'AGE']),
    row: (c, o, wide) => {
      const sts = o as StatefulSet;
      const base = [
        sts.metadata?.name ?? '',
        `${sts.status?.readyReplicas ?? 0}/${sts.spec?.replicas ?? 1}`,
        age(c, sts),
      ];
      return wide ? [...base, ...containersAndImages(sts.spec?.template)] : base;
    },
  },
  {
    plural: 'services',
    kind: 'Service',
    apiVersion: 'v1',
    prefix: 'service',
    namespaced: true,
    aliases: ['services', 'service', 'svc'],
    list: (c) => c.services(),
    header: (wide) =>
      wide
        ? ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE', 'SELECTOR']
        : ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
    row: (c, o, wide) => {
      const svc = o as Service;
      const clusterIP = svc.spec?.type === 'ExternalName' ? '<none>' : svc.spec?.clusterIP || '<none>';
      const base = [
        svc.metadata!.name!,
        svc.spec?.type ?? 'ClusterIP',
        clusterIP,
        serviceExternalIP(svc),
        servicePorts(svc),
        age(c, svc),
      ];
      if (!wide) return base;
      return [...base, formatSelectorMap(svc.spec?.selector) || '<none>'];
    },
  },
  {
    plural: 'endpoints',
    kind: 'Endpoints',
    apiVersion: 'v1',
    prefix: 'endpoints',
    namespaced: true,
    aliases: ['endpoints', 'endpoint', 'ep'],
    // The endpoints controller writes Endpoints for selector Services; the apiserver for `kubernetes`.
    list: (c) =>
      c
        .services()
        .filter(
          (s) =>
            managesSlices(s) || (s.metadata?.name === 'kubernetes' && s.metadata.namespace === 'default'),
        ),
    header: () => ['NAME', 'ENDPOINTS', 'AGE'],
    row: (c, o) => [o.metadata!.name!, endpointsText(c, o as Service), age(c, o)],
  },
  {
    plural: 'endpointslices',
    kind: 'EndpointSlice',
    apiVersion: 'discovery.k8s.io/v1',
    prefix: 'endpointslice.discovery.k8s.io',
    namespaced: true,
    aliases: ['endpointslices', 'endpointslice'],
    list: (c) => c.endpointSlices(),
    header: () => ['NAME', 'ADDRESSTYPE', 'PORTS', 'ENDPOINTS', 'AGE'],
    row: (c, o) => {
      const s = o as EndpointSlice;
      const ports = (s.ports ?? []).map((p) => (p.port === undefined ? 'unset' : String(p.port)));
      const addrs = s.endpoints.flatMap((e) => e.addresses);
      return [
        s.metadata!.name!,
        s.addressType,
        listWithMore(ports, '<unset>'),
        listWithMore(addrs, '<unset>'),
        age(c, s),
      ];
    },
  },
  {
    plural: 'nodes',
    kind: 'Node',
    apiVersion: 'v1',
    prefix: 'node',
    namespaced: false,
    aliases: ['nodes', 'node', 'no'],
    list: (c) => c.nodes(),
    header: (wide) =>
      wide
        ? [
            'NAME',
            'STATUS',
            'ROLES',
            'AGE',
            'VERSION',
            'INTERNAL-IP',
            'EXTERNAL-IP',
            'OS-IMAGE',
            'KERNEL-VERSION',
            'CONTAINER-RUNTIME',
          ]
        : ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION'],
    row: (c, o, wide) => {
      const n = o as Node;
      const ready =
        n.status?.conditions?.find((x) => x.type === 'Ready')?.status === 'True' ? 'Ready' : 'NotReady';
      const info = n.status?.nodeInfo;
      const base = [n.metadata!.name!, ready, nodeRoles(n), age(c, n), info?.kubeletVersion ?? ''];
      if (!wide) return base;
      const internal = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '<none>';
      const external = n.status?.addresses?.find((a) => a.type === 'ExternalIP')?.address ?? '<none>';
      return [
        ...base,
        internal,
        external,
        info?.osImage ?? '',
        info?.kernelVersion ?? '',
        info?.containerRuntimeVersion ?? '',
      ];
    },
  },
  {
    plural: 'namespaces',
    kind: 'Namespace',
    apiVersion: 'v1',
    prefix: 'namespace',
    namespaced: false,
    aliases: ['namespaces', 'namespace', 'ns'],
    list: (c) => c.namespaces(),
    header: () => ['NAME', 'STATUS', 'AGE'],
    row: (c, o) => [o.metadata!.name!, (o as Namespace).status?.phase ?? 'Active', age(c, o)],
  },
];

/** `kubectl get all` (for the kinds dpsim has). */
const ALL = ['pods', 'services', 'daemonsets', 'deployments', 'replicasets', 'statefulsets'];

export class GetError extends Error {
  override name = 'GetError';
}

export function findResourceType(name: string): ResourceType | undefined {
  const n = name.toLowerCase();
  return RESOURCE_TYPES.find(
    (t) =>
      t.aliases.includes(n) ||
      `${t.plural}.${t.prefix.split('.').slice(1).join('.')}` === n ||
      t.prefix === n,
  );
}

export type OutputFormat = 'table' | 'wide' | 'yaml' | 'json' | 'name';

export interface GetRequest {
  /** `rs,po,svc`, `svc/myweb-svc-np`, or one type followed by names. */
  readonly args: readonly string[];
  readonly output?: OutputFormat;
  readonly namespace?: string;
  readonly allNamespaces?: boolean;
  /** `-l`: only objects whose labels match. */
  readonly selector?: LabelSelectorText;
  /** `--show-labels`: a LABELS column at the end of tables. */
  readonly showLabels?: boolean;
}

export interface GetResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

interface Selection {
  readonly type: ResourceType;
  readonly names?: readonly string[];
}

function parseArgs(args: readonly string[]): Selection[] {
  if (args.length === 0) {
    throw new GetError(
      'error: You must specify the type of resource to get. Use "dpsim get all" or one of: ' +
        RESOURCE_TYPES.map((t) => t.plural).join(', '),
    );
  }
  const lookup = (n: string): ResourceType => {
    const t = findResourceType(n);
    if (t === undefined) throw new GetError(`error: the server doesn't have a resource type "${n}"`);
    return t;
  };
  if (args.every((a) => a.includes('/'))) {
    const out: { type: ResourceType; names: string[] }[] = [];
    for (const a of args) {
      const [typeName, name] = a.split('/', 2);
      const t = lookup(typeName);
      const existing = out.find((s) => s.type === t);
      if (existing) existing.names.push(name);
      else out.push({ type: t, names: [name] });
    }
    return out;
  }
  const types = args[0].split(',').flatMap((n) => (n.toLowerCase() === 'all' ? ALL : [n]));
  const selections = [...new Set(types.map(lookup))].map((type) => ({ type }));
  if (args.length > 1) {
    if (selections.length > 1)
      throw new GetError('error: a resource cannot be retrieved by name across multiple types');
    return [{ type: selections[0].type, names: args.slice(1) }];
  }
  return selections;
}

/** Sorts object keys recursively, as kubectl's YAML printer (via JSON maps) does. */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .filter((k) => o[k] !== undefined)
        .map((k) => [k, sortKeys(o[k])]),
    );
  }
  return v;
}

function withTypeMeta(cluster: Cluster, type: ResourceType, obj: AnyObject): Record<string, unknown> {
  if (type.kind === 'Endpoints') return endpointsObject(cluster, obj as Service);
  return { apiVersion: type.apiVersion, kind: type.kind, ...(obj as Record<string, unknown>) };
}

/** v1 Endpoints built from a Service's slices: one subset per port list, ready and not-ready addresses apart. */
function endpointsObject(cluster: Cluster, svc: Service): Record<string, unknown> {
  const subsets: Record<string, unknown>[] = [];
  for (const s of cluster.slicesOfService(svc)) {
    if (s.ports === undefined || s.endpoints.length === 0 || !ofPrimaryFamily(s, svc)) continue;
    const addr = (e: EndpointSlice['endpoints'][number]) => ({
      ip: e.addresses[0],
      ...(e.nodeName !== undefined ? { nodeName: e.nodeName } : {}),
      ...(e.targetRef !== undefined ? { targetRef: e.targetRef } : {}),
    });
    const ready = s.endpoints.filter((e) => e.conditions?.ready !== false).map(addr);
    const notReady = s.endpoints.filter((e) => e.conditions?.ready === false).map(addr);
    subsets.push({
      ...(ready.length > 0 ? { addresses: ready } : {}),
      ...(notReady.length > 0 ? { notReadyAddresses: notReady } : {}),
      ports: s.ports.map((p) => ({
        ...(p.name ? { name: p.name } : {}),
        port: p.port,
        protocol: p.protocol ?? 'TCP',
      })),
    });
  }
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: {
      name: svc.metadata!.name,
      namespace: svc.metadata!.namespace,
      creationTimestamp: svc.metadata!.creationTimestamp,
    },
    ...(subsets.length > 0 ? { subsets } : {}),
  };
}

/** Runs `get` against the cluster. Never throws for user errors: they come back as stderr and exit code 1. */
export function runGet(cluster: Cluster, req: GetRequest): GetResult {
  let selections: Selection[];
  try {
    selections = parseArgs(req.args);
  } catch (e) {
    if (e instanceof GetError) return { stdout: '', stderr: `${e.message}\n`, exitCode: 1 };
    throw e;
  }
  const ns = req.namespace ?? 'default';
  const output = req.output ?? 'table';
  const errors: string[] = [];
  const groups: { type: ResourceType; items: AnyObject[] }[] = [];
  for (const sel of selections) {
    let items = sel.type.list(cluster);
    if (sel.type.namespaced && !req.allNamespaces) items = items.filter((o) => o.metadata?.namespace === ns);
    const selector = req.selector;
    if (selector !== undefined) items = items.filter((o) => selector.matches(o.metadata?.labels));
    if (sel.names !== undefined) {
      const picked: AnyObject[] = [];
      for (const n of sel.names) {
        const found = items.find((o) => o.metadata?.name === n);
        if (found) picked.push(found);
        else
          errors.push(
            `Error from server (NotFound): ${sel.type.plural}${sel.type.prefix.includes('.') ? `.${sel.type.prefix.split('.').slice(1).join('.')}` : ''} "${n}" not found`,
          );
      }
      items = picked;
    }
    groups.push({ type: sel.type, items });
  }
  const stderr = errors.map((e) => `${e}\n`).join('');
  const exitCode = errors.length > 0 ? 1 : 0;
  const total = groups.reduce((n, g) => n + g.items.length, 0);
  const single = selections.length === 1 && selections[0].names?.length === 1;

  if (output === 'yaml' || output === 'json') {
    const objs = groups.flatMap((g) => g.items.map((o) => withTypeMeta(cluster, g.type, o)));
    if (objs.length === 0 && errors.length > 0) return { stdout: '', stderr, exitCode };
    const doc =
      single && objs.length === 1
        ? objs[0]
        : { apiVersion: 'v1', items: objs, kind: 'List', metadata: { resourceVersion: '' } };
    const text =
      output === 'json'
        ? `${JSON.stringify(doc, null, 4)}\n`
        : yamlStringify(sortKeys(doc), { lineWidth: 0 });
    return { stdout: text, stderr, exitCode };
  }

  if (total === 0) {
    if (errors.length > 0) return { stdout: '', stderr, exitCode };
    const where =
      selections.every((s) => !s.type.namespaced) || req.allNamespaces ? '' : ` in ${ns} namespace`;
    return { stdout: '', stderr: `No resources found${where}.\n`, exitCode: 0 };
  }
  const withKind = selections.length > 1;
  if (output === 'name') {
    const lines = groups.flatMap((g) => g.items.map((o) => `${g.type.prefix}/${o.metadata!.name}`));
    return { stdout: `${lines.join('\n')}\n`, stderr, exitCode };
  }
  const wide = output === 'wide';
  const tables: string[] = [];
  for (const g of groups) {
    if (g.items.length === 0) continue;
    let header = g.type.header(wide);
    const showNs = req.allNamespaces === true && g.type.namespaced;
    const rows = g.items.map((o) => {
      const r = g.type.row(cluster, o, wide);
      if (withKind) r[0] = `${g.type.prefix}/${r[0]}`;
      if (req.showLabels) r.push(formatLabelsColumn(o.metadata?.labels));
      return showNs ? [o.metadata?.namespace ?? '', ...r] : r;
    });
    if (req.showLabels) header = [...header, 'LABELS'];
    if (showNs) header = ['NAMESPACE', ...header];
    tables.push(renderTable(header, rows));
  }
  return { stdout: `${tables.join('\n\n')}\n`, stderr, exitCode };
}
