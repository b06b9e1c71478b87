/**
 * The subset of Cilium's Helm values (the keys users set for the kube-proxy replacement's
 * load balancer) that configure dpsim's eBPF mode. Read from a plain values.yaml
 * (`--cilium-values FILE`) or from a `dpsim/v1alpha1 CiliumValues` document among the
 * manifests (the same keys at the document's top level).
 *
 * Every key is read or rejected by name: an unknown key, or a value dpsim does not model
 * (loadBalancer.mode dsr/hybrid, serviceTopology, socket-LB in pod namespaces, no
 * kube-proxy replacement), is an error that says so.
 */
import { DEFAULT_MAP_SIZES, type LbMapSizes } from '../proxy/ebpf/lbmaps.js';
import {
  DEFAULT_MAGLEV_HASH_SEED,
  DEFAULT_MAGLEV_TABLE_SIZE,
  MAGLEV_TABLE_SIZES,
} from '../proxy/ebpf/maglev.js';

export const CILIUM_VALUES_KIND = 'CiliumValues';

export interface CiliumConfig {
  readonly algorithm: 'random' | 'maglev';
  readonly maglevTableSize: number;
  readonly maglevHashSeed: string;
  readonly mode: 'snat';
  readonly socketLB: boolean;
  readonly socketLBHostNamespaceOnly: boolean;
  /** nodePort.range "30000,32767" as [min, max]. */
  readonly nodePortRange: readonly [number, number];
  readonly mapSizes: LbMapSizes;
  readonly serviceTopology: boolean;
  readonly lbExternalClusterIP: boolean;
  /** serviceNoBackendResponse: 'reject' (ICMP port unreachable, Cilium's default) or 'drop'. */
  readonly serviceNoBackendResponse: 'reject' | 'drop';
}

export const DEFAULT_CILIUM_CONFIG: CiliumConfig = {
  algorithm: 'random',
  maglevTableSize: DEFAULT_MAGLEV_TABLE_SIZE,
  maglevHashSeed: DEFAULT_MAGLEV_HASH_SEED,
  mode: 'snat',
  socketLB: true,
  // Cilium's own default is false; dpsim applies socket-LB to the host namespace only.
  socketLBHostNamespaceOnly: true,
  nodePortRange: [30000, 32767],
  mapSizes: DEFAULT_MAP_SIZES,
  serviceTopology: false,
  lbExternalClusterIP: false,
  serviceNoBackendResponse: 'reject',
};

export class CiliumValuesError extends Error {
  override name = 'CiliumValuesError';
}

type Leaf =
  | 'kpr'
  | 'algorithm'
  | 'tableSize'
  | 'seed'
  | 'lbMode'
  | 'bool'
  | 'range'
  | 'mapSize'
  | 'noBackendResponse';
type Schema = { readonly [key: string]: Leaf | Schema };

const SCHEMA: Schema = {
  kubeProxyReplacement: 'kpr',
  loadBalancer: { algorithm: 'algorithm', mode: 'lbMode', serviceTopology: 'bool' },
  maglev: { tableSize: 'tableSize', hashSeed: 'seed' },
  socketLB: { enabled: 'bool', hostNamespaceOnly: 'bool' },
  nodePort: { range: 'range' },
  serviceNoBackendResponse: 'noBackendResponse',
  bpf: { lbMapMax: 'mapSize', ctTcpMax: 'mapSize', ctAnyMax: 'mapSize', lbExternalClusterIP: 'bool' },
};

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** Parses values (a Helm values tree); throws CiliumValuesError naming the key. */
export function parseCiliumValues(values: unknown, source = 'values'): CiliumConfig {
  if (!isObj(values)) throw new CiliumValuesError(`${source}: Cilium values must be a mapping`);
  const sizes: { -readonly [K in keyof LbMapSizes]: LbMapSizes[K] } = { ...DEFAULT_CILIUM_CONFIG.mapSizes };
  const out: { -readonly [K in keyof CiliumConfig]: CiliumConfig[K] } = {
    ...DEFAULT_CILIUM_CONFIG,
    mapSizes: sizes,
  };
  const fail = (key: string, why: string): never => {
    throw new CiliumValuesError(`${source}: ${key}: ${why}`);
  };
  const walk = (o: Record<string, unknown>, schema: Schema, prefix: string) => {
    for (const [k, v] of Object.entries(o)) {
      const key = prefix + k;
      const kind = schema[k];
      if (kind === undefined)
        fail(key, 'unknown or unmodelled Cilium value (dpsim reads: ' + listKeys(SCHEMA).join(', ') + ')');
      if (v === null) continue;
      if (typeof kind === 'object') {
        if (!isObj(v)) fail(key, 'must be a mapping');
        walk(v as Record<string, unknown>, kind, `${key}.`);
        continue;
      }
      apply(key, kind as Leaf, v);
    }
  };
  const apply = (key: string, kind: Leaf, v: unknown) => {
    switch (kind) {
      case 'kpr':
        if (v === true || v === 'true' || v === 'strict') return;
        return fail(
          key,
          `${JSON.stringify(v)}: without kube-proxy replacement kube-proxy handles Services; use --mode iptables, nftables or ipvs`,
        );
      case 'algorithm':
        if (v !== 'random' && v !== 'maglev')
          return fail(key, `${JSON.stringify(v)} is not one of random, maglev`);
        out.algorithm = v;
        return;
      case 'tableSize':
        if (!(MAGLEV_TABLE_SIZES as readonly unknown[]).includes(v))
          return fail(key, `${JSON.stringify(v)} is not one of ${MAGLEV_TABLE_SIZES.join(', ')}`);
        out.maglevTableSize = v as number;
        return;
      case 'seed':
        if (typeof v !== 'string' || !/^[A-Za-z0-9+/]{16}$/.test(v))
          return fail(key, `${JSON.stringify(v)} must be 12 bytes in base64 (16 characters)`);
        out.maglevHashSeed = v;
        return;
      case 'lbMode':
        if (v === 'snat') return;
        if (v === 'dsr' || v === 'hybrid')
          return fail(key, `"${v}" (direct server return) is not modelled by dpsim; only "snat" is`);
        return fail(key, `${JSON.stringify(v)} is not one of snat, dsr, hybrid`);
      case 'bool': {
        if (typeof v !== 'boolean') return fail(key, `${JSON.stringify(v)} must be true or false`);
        if (key === 'socketLB.enabled') out.socketLB = v;
        else if (key === 'socketLB.hostNamespaceOnly') {
          if (!v)
            return fail(
              key,
              'false (socket-LB inside pods) is not modelled by dpsim; pods use the per-packet tc path',
            );
          out.socketLBHostNamespaceOnly = v;
        } else if (key === 'loadBalancer.serviceTopology') {
          if (v) return fail(key, 'true is not modelled by dpsim (no zones or topology hints)');
        } else if (key === 'bpf.lbExternalClusterIP') out.lbExternalClusterIP = v;
        return;
      }
      case 'noBackendResponse':
        if (v !== 'reject' && v !== 'drop')
          return fail(key, `${JSON.stringify(v)} is not one of reject, drop`);
        out.serviceNoBackendResponse = v;
        return;
      case 'range': {
        const m = typeof v === 'string' ? /^(\d+)[,-](\d+)$/.exec(v.trim()) : null;
        const lo = Number(m?.[1]);
        const hi = Number(m?.[2]);
        if (m === null || lo < 1 || hi > 65535 || lo > hi)
          return fail(key, `${JSON.stringify(v)} must be "MIN,MAX" ports (e.g. "30000,32767")`);
        out.nodePortRange = [lo, hi];
        return;
      }
      case 'mapSize': {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
          return fail(key, `${JSON.stringify(v)} must be a positive integer`);
        const field = key.slice('bpf.'.length) as 'lbMapMax' | 'ctTcpMax' | 'ctAnyMax';
        sizes[field] = v;
        return;
      }
    }
  };
  walk(values, SCHEMA, '');
  return out;
}

function listKeys(schema: Schema, prefix = ''): string[] {
  return Object.entries(schema).flatMap(([k, v]) =>
    typeof v === 'object' ? listKeys(v, `${prefix}${k}.`) : [`${prefix}${k}`],
  );
}
