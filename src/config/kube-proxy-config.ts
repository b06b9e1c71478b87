/**
 * `kind: KubeProxyConfiguration` (kubeproxy.config.k8s.io/v1alpha1), the document users keep
 * in the kube-proxy ConfigMap: read strictly, defaulted as kube-proxy's
 * pkg/proxy/apis/config/v1alpha1/defaults.go does, validated with the messages of its
 * validation/validation.go (field paths of the internal type, as kube-proxy prints them).
 *
 * Strict in one more way than kube-proxy: a field dpsim does not know is an error naming it
 * (kube-proxy's strict decoder wording), and a known setting that would change the node's
 * rules but is not modelled (iptables.snatNodeInternalIP, featureGates, bindAddress…) is an
 * error too unless it holds its default — never silently ignored. Fields that only concern
 * the kube-proxy process (clientConnection, logging, oomScoreAdj…) are validated and kept
 * out of the model.
 */
import { aggregateMessage, type FieldError, fieldErr, formatFieldError } from '../k8s/errors.js';
import { isIPv4, parseCidr } from '../util/ipv4.js';
import { DurationError, formatGoDuration, parseGoDuration } from './duration.js';

export const KUBE_PROXY_CONFIG_API_VERSION = 'kubeproxy.config.k8s.io/v1alpha1';
export const KUBE_PROXY_CONFIG_KIND = 'KubeProxyConfiguration';

export type KubeProxyMode = 'iptables' | 'ipvs' | 'nftables';
export type DetectLocalMode = 'ClusterCIDR' | 'NodeCIDR' | 'BridgeInterface' | 'InterfaceNamePrefix';

const SECOND = 1e9;

/** The defaulted configuration; durations in nanoseconds (metav1.Duration). */
export interface KubeProxyConfig {
  /** '' means kube-proxy's best available mode (iptables on Linux). */
  readonly mode: KubeProxyMode | '';
  readonly clusterCIDR: string;
  /** '' defaults to ClusterCIDR in the proxier. */
  readonly detectLocalMode: DetectLocalMode | '';
  readonly detectLocal: { readonly bridgeInterface: string; readonly interfaceNamePrefix: string };
  /** CIDRs, or ['primary']; empty = unset (all addresses in iptables/IPVS, primary in nftables). */
  readonly nodePortAddresses: readonly string[];
  readonly iptables: {
    readonly masqueradeAll: boolean;
    readonly masqueradeBit: number;
    readonly localhostNodePorts: boolean;
    readonly syncPeriodNs: number;
    readonly minSyncPeriodNs: number;
  };
  readonly nftables: {
    readonly masqueradeAll: boolean;
    readonly masqueradeBit: number;
    readonly syncPeriodNs: number;
    readonly minSyncPeriodNs: number;
  };
  readonly ipvs: {
    readonly scheduler: string;
    readonly strictARP: boolean;
    readonly tcpTimeoutNs: number;
    readonly tcpFinTimeoutNs: number;
    readonly udpTimeoutNs: number;
    readonly excludeCIDRs: readonly string[];
    readonly syncPeriodNs: number;
    readonly minSyncPeriodNs: number;
  };
  readonly conntrack: {
    readonly maxPerCore: number;
    readonly min: number;
    readonly tcpEstablishedTimeoutNs: number;
    readonly tcpCloseWaitTimeoutNs: number;
    readonly tcpBeLiberal: boolean;
    readonly udpTimeoutNs: number;
    readonly udpStreamTimeoutNs: number;
  };
  readonly healthzBindAddress: string;
  readonly metricsBindAddress: string;
}

export class KubeProxyConfigError extends Error {
  override name = 'KubeProxyConfigError';
}

type Json = unknown;
type Obj = Record<string, Json>;

/** A field's shape: how to read it, and (for unmodelled settings) which value is harmless. */
type Kind =
  | 'string'
  | 'bool'
  | 'int'
  | 'duration'
  | 'stringList'
  | 'inertAny'
  | { readonly fields: Record<string, Kind> }
  | { readonly unmodelled: 'bool' | 'string' | 'map' | 'string0000' };

const SCHEMA: Record<string, Kind> = {
  apiVersion: 'string',
  kind: 'string',
  mode: 'string',
  clusterCIDR: 'string',
  detectLocalMode: 'string',
  detectLocal: { fields: { bridgeInterface: 'string', interfaceNamePrefix: 'string' } },
  nodePortAddresses: 'stringList',
  iptables: {
    fields: {
      masqueradeAll: 'bool',
      masqueradeBit: 'int',
      localhostNodePorts: 'bool',
      syncPeriod: 'duration',
      minSyncPeriod: 'duration',
      snatNodeInternalIP: { unmodelled: 'bool' },
    },
  },
  nftables: {
    fields: {
      masqueradeAll: 'bool',
      masqueradeBit: 'int',
      syncPeriod: 'duration',
      minSyncPeriod: 'duration',
    },
  },
  ipvs: {
    fields: {
      scheduler: 'string',
      strictARP: 'bool',
      tcpTimeout: 'duration',
      tcpFinTimeout: 'duration',
      udpTimeout: 'duration',
      excludeCIDRs: 'stringList',
      syncPeriod: 'duration',
      minSyncPeriod: 'duration',
    },
  },
  conntrack: {
    fields: {
      maxPerCore: 'int',
      min: 'int',
      tcpEstablishedTimeout: 'duration',
      tcpCloseWaitTimeout: 'duration',
      tcpBeLiberal: 'bool',
      udpTimeout: 'duration',
      udpStreamTimeout: 'duration',
    },
  },
  healthzBindAddress: 'string',
  metricsBindAddress: 'string',
  // The kube-proxy process's own settings: no effect on the dataplane dpsim simulates.
  clientConnection: 'inertAny',
  logging: 'inertAny',
  winkernel: 'inertAny',
  oomScoreAdj: 'int',
  configSyncPeriod: 'duration',
  portRange: 'string',
  enableProfiling: 'bool',
  bindAddressHardFail: 'bool',
  showHiddenMetricsForVersion: 'string',
  windowsRunAsService: 'bool',
  // Would change what the node does, and dpsim does not model it: only the default is accepted.
  featureGates: { unmodelled: 'map' },
  hostnameOverride: { unmodelled: 'string' },
  bindAddress: { unmodelled: 'string0000' },
};

const isObj = (v: Json): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Reads the document's fields against SCHEMA; returns a flat map path → value of the set fields. */
function readFields(doc: Obj): Map<string, Json> {
  const out = new Map<string, Json>();
  const walk = (o: Obj, schema: Record<string, Kind>, prefix: string) => {
    for (const [key, value] of Object.entries(o)) {
      const path = prefix + key;
      const kind = schema[key];
      if (kind === undefined)
        throw new KubeProxyConfigError(`strict decoding error: unknown field "${path}"`);
      if (value === null) continue; // null is the Go zero value: the default applies
      if (typeof kind === 'object' && 'fields' in kind) {
        if (!isObj(value)) throw typeError(path, value, 'object');
        walk(value, kind.fields, `${path}.`);
        continue;
      }
      if (typeof kind === 'object') {
        checkUnmodelled(path, value, kind.unmodelled);
        continue;
      }
      out.set(path, checkType(path, value, kind));
    }
  };
  walk(doc, SCHEMA, '');
  return out;
}

function typeError(path: string, value: Json, want: string): KubeProxyConfigError {
  const got = Array.isArray(value) ? 'array' : typeof value;
  return new KubeProxyConfigError(
    `error decoding KubeProxyConfiguration: field "${path}": cannot unmarshal ${got} into a ${want}`,
  );
}

function checkType(path: string, value: Json, kind: Exclude<Kind, object>): Json {
  switch (kind) {
    case 'string':
      if (typeof value !== 'string') throw typeError(path, value, 'string');
      return value;
    case 'bool':
      if (typeof value !== 'boolean') throw typeError(path, value, 'bool');
      return value;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw typeError(path, value, 'int32');
      return value;
    case 'duration':
      if (typeof value !== 'string') throw typeError(path, value, 'duration string');
      try {
        return parseGoDuration(value);
      } catch (e) {
        if (e instanceof DurationError)
          throw new KubeProxyConfigError(
            `error decoding KubeProxyConfiguration: field "${path}": ${e.message}`,
          );
        throw e;
      }
    case 'stringList':
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
        throw typeError(path, value, 'list of strings');
      return value;
    case 'inertAny':
      return value;
  }
}

function checkUnmodelled(
  path: string,
  value: Json,
  harmless: 'bool' | 'string' | 'map' | 'string0000',
): void {
  const isDefault =
    harmless === 'bool'
      ? value === false
      : harmless === 'string'
        ? value === ''
        : harmless === 'string0000'
          ? value === '' || value === '0.0.0.0'
          : isObj(value) && Object.keys(value).length === 0;
  if (isDefault) return;
  const shown = isObj(value) ? Object.keys(value).join(', ') : JSON.stringify(value);
  throw new KubeProxyConfigError(
    `KubeProxyConfiguration field "${path}" (${shown}) is not modelled by dpsim; remove it or leave it at its default`,
  );
}

/** proxyutil.AppendPortIfNeeded. */
function appendPortIfNeeded(addr: string, port: number): string {
  if (/^\[.*\]:\d+$/.test(addr) || /^[^:]*:\d+$/.test(addr)) return addr;
  if (isIPv4(addr)) return `${addr}:${port}`;
  if (addr.includes(':') && !addr.startsWith('[')) return `[${addr}]:${port}`;
  return addr;
}

const goDuration = (ns: number) => ({ goSyntax: formatGoDuration(ns) });

const VALID_CIDR = (text: string): boolean => {
  try {
    parseCidr(text);
    return /\//.test(text);
  } catch {
    return false;
  }
};

/**
 * Parses, defaults and validates one KubeProxyConfiguration document (already YAML-decoded).
 * Throws KubeProxyConfigError with kube-proxy's message (several field errors aggregated as
 * `[a, b]`).
 */
export function parseKubeProxyConfiguration(doc: Json): KubeProxyConfig {
  if (!isObj(doc)) throw new KubeProxyConfigError('KubeProxyConfiguration must be a mapping');
  if (doc.apiVersion !== KUBE_PROXY_CONFIG_API_VERSION || doc.kind !== KUBE_PROXY_CONFIG_KIND) {
    throw new KubeProxyConfigError(
      `no kind "${String(doc.kind)}" is registered for version "${String(doc.apiVersion)}": expected ${KUBE_PROXY_CONFIG_KIND} in ${KUBE_PROXY_CONFIG_API_VERSION}`,
    );
  }
  const f = readFields(doc);
  const str = (k: string, d = '') => (f.get(k) as string | undefined) ?? d;
  const bool = (k: string, d = false) => (f.get(k) as boolean | undefined) ?? d;
  const int = (k: string, d: number) => (f.get(k) as number | undefined) ?? d;
  /** metav1.Duration: zero (or unset) means "default" where defaults.go says so. */
  const dur = (k: string, d: number) => {
    const v = f.get(k) as number | undefined;
    return v === undefined || v === 0 ? d : v;
  };
  const raw = (k: string) => (f.get(k) as number | undefined) ?? 0;

  const mode = str('mode');
  const iptSync = dur('iptables.syncPeriod', 30 * SECOND);
  const iptMin = dur('iptables.minSyncPeriod', 1 * SECOND);
  const ipvsSync = dur('ipvs.syncPeriod', 30 * SECOND);
  const ipvsMin = raw('ipvs.minSyncPeriod');
  const nftSync = dur('nftables.syncPeriod', 30 * SECOND);
  const nftMin = dur('nftables.minSyncPeriod', 1 * SECOND);
  const config: KubeProxyConfig = {
    mode: mode as KubeProxyMode | '',
    clusterCIDR: str('clusterCIDR'),
    detectLocalMode: str('detectLocalMode') as DetectLocalMode | '',
    detectLocal: {
      bridgeInterface: str('detectLocal.bridgeInterface'),
      interfaceNamePrefix: str('detectLocal.interfaceNamePrefix'),
    },
    nodePortAddresses: (f.get('nodePortAddresses') as string[] | undefined) ?? [],
    iptables: {
      masqueradeAll: bool('iptables.masqueradeAll'),
      masqueradeBit: int('iptables.masqueradeBit', 14),
      localhostNodePorts: bool('iptables.localhostNodePorts', true),
      syncPeriodNs: iptSync,
      minSyncPeriodNs: iptMin,
    },
    nftables: {
      masqueradeAll: bool('nftables.masqueradeAll'),
      masqueradeBit: int('nftables.masqueradeBit', 14),
      syncPeriodNs: nftSync,
      minSyncPeriodNs: nftMin,
    },
    ipvs: {
      scheduler: str('ipvs.scheduler'),
      strictARP: bool('ipvs.strictARP'),
      tcpTimeoutNs: raw('ipvs.tcpTimeout'),
      tcpFinTimeoutNs: raw('ipvs.tcpFinTimeout'),
      udpTimeoutNs: raw('ipvs.udpTimeout'),
      excludeCIDRs: (f.get('ipvs.excludeCIDRs') as string[] | undefined) ?? [],
      syncPeriodNs: ipvsSync,
      minSyncPeriodNs: ipvsMin,
    },
    conntrack: {
      maxPerCore: int('conntrack.maxPerCore', 32 * 1024),
      min: int('conntrack.min', 128 * 1024),
      tcpEstablishedTimeoutNs:
        (f.get('conntrack.tcpEstablishedTimeout') as number | undefined) ?? 24 * 3600 * SECOND,
      tcpCloseWaitTimeoutNs: (f.get('conntrack.tcpCloseWaitTimeout') as number | undefined) ?? 3600 * SECOND,
      tcpBeLiberal: bool('conntrack.tcpBeLiberal'),
      udpTimeoutNs: raw('conntrack.udpTimeout'),
      udpStreamTimeoutNs: raw('conntrack.udpStreamTimeout'),
    },
    healthzBindAddress:
      str('healthzBindAddress') === ''
        ? '0.0.0.0:10256'
        : appendPortIfNeeded(str('healthzBindAddress'), 10256),
    metricsBindAddress:
      str('metricsBindAddress') === ''
        ? '127.0.0.1:10249'
        : appendPortIfNeeded(str('metricsBindAddress'), 10249),
  };
  const errs = validate(config, f);
  if (errs.length > 0) throw new KubeProxyConfigError(aggregateMessage(errs.map(formatFieldError)));
  return config;
}

/** The sync periods of the configured mode (the v1alpha1 → internal conversion picks these). */
export function syncPeriods(config: KubeProxyConfig): { syncPeriodNs: number; minSyncPeriodNs: number } {
  const section =
    config.mode === 'ipvs' ? config.ipvs : config.mode === 'nftables' ? config.nftables : config.iptables;
  return { syncPeriodNs: section.syncPeriodNs, minSyncPeriodNs: section.minSyncPeriodNs };
}

/**
 * The sync periods a proxy in `mode` runs with: the mode's own section of `config` (the
 * command line's --mode may differ from `config.mode`), or kube-proxy's defaults without a
 * configuration (iptables and nftables 30 s / 1 s, IPVS 30 s / 0 s).
 */
export function syncPeriodsForMode(
  config: KubeProxyConfig | undefined,
  mode: 'iptables' | 'nftables' | 'ipvs',
): { syncPeriodNs: number; minSyncPeriodNs: number } {
  const c =
    config ??
    parseKubeProxyConfiguration({ apiVersion: KUBE_PROXY_CONFIG_API_VERSION, kind: KUBE_PROXY_CONFIG_KIND });
  const section = c[mode];
  return { syncPeriodNs: section.syncPeriodNs, minSyncPeriodNs: section.minSyncPeriodNs };
}

function validate(c: KubeProxyConfig, f: Map<string, Json>): FieldError[] {
  const errs: FieldError[] = [];
  const root = 'KubeProxyConfiguration';
  const bit = (section: string, value: number) => {
    if (value < 0 || value > 31)
      errs.push(
        fieldErr.invalid(`${root}.${section}.MasqueradeBit`, value, 'must be within the range [0, 31]'),
      );
  };
  bit('KubeProxyIPTablesConfiguration', c.iptables.masqueradeBit);
  if (c.mode === 'ipvs') {
    const p = `${root}.KubeProxyIPVSConfiguration`;
    for (const [name, ns] of [
      ['TCPTimeout', c.ipvs.tcpTimeoutNs],
      ['TCPFinTimeout', c.ipvs.tcpFinTimeoutNs],
      ['UDPTimeout', c.ipvs.udpTimeoutNs],
    ] as const) {
      if (ns < 0)
        errs.push(fieldErr.invalid(`${p}.${name}`, goDuration(ns), 'must be greater than or equal to 0'));
    }
    c.ipvs.excludeCIDRs.forEach((cidr, i) => {
      if (!VALID_CIDR(cidr))
        errs.push(fieldErr.invalid(`${p}.ExcludeCidrs[${i}]`, cidr, 'must be a valid CIDR'));
    });
  }
  if (c.mode === 'nftables') bit('KubeProxyNFTablesConfiguration', c.nftables.masqueradeBit);
  const ct = `${root}.KubeProxyLinuxConfiguration.KubeProxyConntrackConfiguration`;
  if (c.conntrack.maxPerCore < 0)
    errs.push(
      fieldErr.invalid(`${ct}.MaxPerCore`, c.conntrack.maxPerCore, 'must be greater than or equal to 0'),
    );
  if (c.conntrack.min < 0)
    errs.push(fieldErr.invalid(`${ct}.Min`, c.conntrack.min, 'must be greater than or equal to 0'));
  for (const [name, ns] of [
    ['TCPEstablishedTimeout', c.conntrack.tcpEstablishedTimeoutNs],
    ['TCPCloseWaitTimeout', c.conntrack.tcpCloseWaitTimeoutNs],
    ['UDPTimeout', c.conntrack.udpTimeoutNs],
    ['UDPStreamTimeout', c.conntrack.udpStreamTimeoutNs],
  ] as const) {
    if (ns < 0)
      errs.push(fieldErr.invalid(`${ct}.${name}`, goDuration(ns), 'must be greater than or equal to 0'));
  }
  const oom = f.get('oomScoreAdj') as number | undefined;
  if (oom !== undefined && (oom < -1000 || oom > 1000))
    errs.push(
      fieldErr.invalid(
        `${root}.KubeProxyLinuxConfiguration.OOMScoreAdj`,
        oom,
        'must be within the range [-1000, 1000]',
      ),
    );
  if (c.mode !== '' && !['iptables', 'ipvs', 'nftables'].includes(c.mode)) {
    errs.push(
      fieldErr.invalid(
        `${root}.Mode.ProxyMode`,
        c.mode,
        'must be iptables, ipvs, nftables or blank (blank means the best-available proxy [currently iptables])',
      ),
    );
  }
  const configSync = f.get('configSyncPeriod') as number | undefined;
  if (configSync !== undefined && configSync < 0)
    errs.push(fieldErr.invalid(`${root}.ConfigSyncPeriod`, goDuration(configSync), 'must be greater than 0'));
  const { syncPeriodNs, minSyncPeriodNs } = syncPeriods(c);
  if (syncPeriodNs <= 0)
    errs.push(fieldErr.invalid(`${root}.SyncPeriod`, goDuration(syncPeriodNs), 'must be greater than 0'));
  if (minSyncPeriodNs < 0)
    errs.push(
      fieldErr.invalid(
        `${root}.MinSyncPeriod`,
        goDuration(minSyncPeriodNs),
        'must be greater than or equal to 0',
      ),
    );
  if (minSyncPeriodNs > syncPeriodNs)
    errs.push(
      fieldErr.invalid(
        `${root}.SyncPeriod`,
        goDuration(minSyncPeriodNs),
        `must be greater than or equal to ${root}.MinSyncPeriod`,
      ),
    );
  hostPort(errs, c.healthzBindAddress, `${root}.HealthzBindAddress`);
  hostPort(errs, c.metricsBindAddress, `${root}.MetricsBindAddress`);
  c.nodePortAddresses.forEach((a, i) => {
    const path = `${root}.NodePortAddresses[${i}]`;
    if (a === 'primary') {
      if (i !== 0 || c.nodePortAddresses.length !== 1)
        errs.push(fieldErr.invalid(path, a, "can't use both 'primary' and CIDRs"));
    } else if (!VALID_CIDR(a)) errs.push(fieldErr.invalid(path, a, 'must be a valid CIDR'));
  });
  const modes = ['ClusterCIDR', 'NodeCIDR', 'BridgeInterface', 'InterfaceNamePrefix', ''];
  if (!modes.includes(c.detectLocalMode)) {
    errs.push({
      type: 'Unsupported value',
      field: `${root}.DetectLocalMode`,
      value: c.detectLocalMode,
      detail: `supported values: ${modes.map((m) => JSON.stringify(m)).join(', ')}`,
    });
  }
  const dl = `${root}.DetectLocalConfiguration`;
  if (c.detectLocalMode === 'BridgeInterface' && c.detectLocal.bridgeInterface === '')
    errs.push(fieldErr.invalid(`${dl}.InterfaceName`, '', 'must not be empty'));
  if (c.detectLocalMode === 'InterfaceNamePrefix' && c.detectLocal.interfaceNamePrefix === '')
    errs.push(fieldErr.invalid(`${dl}.InterfacePrefix`, '', 'must not be empty'));
  if (c.clusterCIDR !== '') {
    const cidrs = c.clusterCIDR.split(',');
    if (cidrs.length > 2)
      errs.push(
        fieldErr.invalid(
          `${dl}.ClusterCIDRs`,
          { goSyntax: `[${cidrs.join(' ')}]` },
          'must be a either a single CIDR or dual-stack pair of CIDRs (e.g. [10.100.0.0/16, fde4:8dba:82e1::/48]',
        ),
      );
    else
      cidrs.forEach((cidr, i) => {
        if (!VALID_CIDR(cidr))
          errs.push(
            fieldErr.invalid(
              `${dl}.ClusterCIDRs[${i}]`,
              cidr,
              'must be a valid CIDR block (e.g. 10.100.0.0/16 or fde4:8dba:82e1::/48)',
            ),
          );
      });
  }
  return errs;
}

/** net.SplitHostPort + IP + port checks, with kube-proxy's messages. */
function hostPort(errs: FieldError[], input: string, path: string): void {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):([^:]*)$/.exec(input);
  if (m === null) {
    errs.push(fieldErr.invalid(path, input, 'must be IP:port'));
    return;
  }
  const host = m[1] ?? m[2];
  if (!isIPv4(host) && !(m[1] !== undefined && host.includes(':')))
    errs.push(fieldErr.invalid(path, host, 'must be a valid IP'));
  const port = Number(m[3]);
  if (!/^\d+$/.test(m[3]) || port < 1 || port > 65535)
    errs.push(fieldErr.invalid(path, m[3], 'must be a valid port'));
}
