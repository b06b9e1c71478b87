/**
 * Service defaulting (pkg/apis/core/v1/defaults.go) and validation
 * (pkg/apis/core/validation ValidateService), in upstream order and wording.
 */
import { isIPv6 } from 'node:net';

import type { Service, ServicePort } from 'kubernetes-types/core/v1.js';
import { isIPv4, parseCidr, parseIPv4 } from '../util/ipv4.js';
import { parseIPv6 } from '../util/ipv6.js';
import { type FieldError, fieldErr } from './errors.js';
import {
  isDns1035Label,
  isDns1123Label,
  isDns1123Subdomain,
  isValidPortName,
  isValidPortNum,
} from './names.js';
import { cloneJson } from './writable.js';

export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;
/** core.MaxClientIPServiceAffinitySeconds (one day). */
export const MAX_AFFINITY_TIMEOUT_SECONDS = 86400;
const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const IP_EXAMPLE = 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)';
const CIDR_EXAMPLE = 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)';

export function isHeadless(svc: Service): boolean {
  return svc.spec?.clusterIP === 'None' || svc.spec?.clusterIPs?.[0] === 'None';
}

/** apiservice.ExternallyAccessible. */
export function externallyAccessible(svc: Service): boolean {
  const t = svc.spec?.type;
  return (
    t === 'LoadBalancer' ||
    t === 'NodePort' ||
    (t === 'ClusterIP' && (svc.spec?.externalIPs?.length ?? 0) > 0)
  );
}

/** apiservice.NeedsHealthCheck. */
export function needsHealthCheck(svc: Service): boolean {
  return svc.spec?.type === 'LoadBalancer' && svc.spec?.externalTrafficPolicy === 'Local';
}

/** Whether the apiserver hands out nodePorts for this Service (type NodePort, or LoadBalancer with allocateLoadBalancerNodePorts). */
export function shouldAllocateNodePorts(svc: Service): boolean {
  const t = svc.spec?.type;
  return t === 'NodePort' || (t === 'LoadBalancer' && svc.spec?.allocateLoadBalancerNodePorts !== false);
}

/** Applies v1 defaults to a deep copy; the input is not modified. */
export function defaultService(input: Service): Service {
  const svc: Service = cloneJson(input);
  svc.spec ??= {};
  const spec = svc.spec;
  spec.type ??= 'ClusterIP';
  spec.sessionAffinity ??= 'None';
  if (spec.sessionAffinity === 'ClientIP') {
    spec.sessionAffinityConfig ??= {};
    spec.sessionAffinityConfig.clientIP ??= {};
    spec.sessionAffinityConfig.clientIP.timeoutSeconds ??= DEFAULT_AFFINITY_TIMEOUT_SECONDS;
  }
  for (const p of spec.ports ?? []) {
    p.protocol ??= 'TCP';
    if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
  }
  if (spec.type !== 'ExternalName') {
    if (externallyAccessible(svc)) spec.externalTrafficPolicy ??= 'Cluster';
    spec.internalTrafficPolicy ??= 'Cluster';
  }
  if (spec.type === 'LoadBalancer') spec.allocateLoadBalancerNodePorts ??= true;
  if (spec.clusterIP !== undefined && spec.clusterIP !== '' && spec.clusterIPs === undefined)
    spec.clusterIPs = [spec.clusterIP];
  return svc;
}

/** Go's %#v of the (protocol, port) key the duplicate-port check uses. */
function servicePortKeyGoSyntax(protocol: string, port: number): string {
  return (
    `core.ServicePort{Name:"", Protocol:"${protocol}", AppProtocol:(*string)(nil), Port:${port}, ` +
    'TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'
  );
}

function nonSpecialIPErrors(ip: string, field: string): FieldError[] {
  if (isIPv6(ip)) return nonSpecialIPv6Errors(ip, field);
  const a = parseIPv4(ip);
  if (a === 0) return [fieldErr.invalid(field, ip, 'may not be unspecified (0.0.0.0)')];
  if (a >>> 24 === 127)
    return [fieldErr.invalid(field, ip, 'may not be in the loopback range (127.0.0.0/8, ::1/128)')];
  if (a >>> 16 === 0xa9fe)
    return [fieldErr.invalid(field, ip, 'may not be in the link-local range (169.254.0.0/16, fe80::/10)')];
  if (a >>> 8 === 0xe00000) {
    return [
      fieldErr.invalid(field, ip, 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)'),
    ];
  }
  return [];
}

/** ValidateNonSpecialIP for an IPv6 address: the same ranges' IPv6 halves. */
function nonSpecialIPv6Errors(ip: string, field: string): FieldError[] {
  const v = parseIPv6(ip);
  if (v === 0n) return [fieldErr.invalid(field, ip, 'may not be unspecified (::)')];
  if (v === 1n)
    return [fieldErr.invalid(field, ip, 'may not be in the loopback range (127.0.0.0/8, ::1/128)')];
  if (v >> 118n === 0x3fan)
    return [fieldErr.invalid(field, ip, 'may not be in the link-local range (169.254.0.0/16, fe80::/10)')];
  if (v >> 112n === 0xff02n)
    return [
      fieldErr.invalid(field, ip, 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)'),
    ];
  return [];
}

function validCidr(text: string): boolean {
  try {
    parseCidr(text);
    return text.includes('/');
  } catch {
    return false;
  }
}

function validatePort(sp: ServicePort, requireName: boolean, names: Set<string>, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const name = sp.name ?? '';
  if (requireName && name === '') errs.push(fieldErr.required(`${path}.name`));
  else if (name !== '') {
    for (const m of isDns1123Label(name)) errs.push(fieldErr.invalid(`${path}.name`, name, m));
    if (names.has(name)) errs.push(fieldErr.duplicate(`${path}.name`, name));
    else names.add(name);
  }
  for (const m of isValidPortNum(sp.port)) errs.push(fieldErr.invalid(`${path}.port`, sp.port, m));
  const protocol = sp.protocol ?? '';
  if (protocol === '') errs.push(fieldErr.required(`${path}.protocol`));
  else if (!PROTOCOLS.includes(protocol))
    errs.push(fieldErr.notSupported(`${path}.protocol`, protocol, PROTOCOLS));
  const tp = sp.targetPort;
  if (typeof tp === 'number') {
    for (const m of isValidPortNum(tp)) errs.push(fieldErr.invalid(`${path}.targetPort`, tp, m));
  } else if (typeof tp === 'string') {
    for (const m of isValidPortName(tp)) errs.push(fieldErr.invalid(`${path}.targetPort`, tp, m));
  }
  return errs;
}

/** ValidateService on a defaulted (and, for NodePorts/ClusterIPs, allocated) Service. */
export function validateService(svc: Service): FieldError[] {
  const errs: FieldError[] = [];
  const name = svc.metadata?.name ?? '';
  if (name === '') errs.push(fieldErr.required('metadata.name', 'name or generateName is required'));
  else for (const m of isDns1035Label(name)) errs.push(fieldErr.invalid('metadata.name', name, m));

  const spec = svc.spec ?? {};
  const ports = spec.ports ?? [];
  const headless = isHeadless(svc);
  if (ports.length === 0 && !headless && spec.type !== 'ExternalName')
    errs.push(fieldErr.required('spec.ports'));
  switch (spec.type) {
    case 'LoadBalancer':
    case 'NodePort':
      if (headless) {
        errs.push(
          fieldErr.invalid(
            'spec.clusterIPs[0]',
            'None',
            `may not be set to 'None' for ${spec.type} services`,
          ),
        );
      }
      break;
    case 'ExternalName': {
      if ((spec.clusterIPs?.length ?? 0) > 0) {
        errs.push(fieldErr.forbidden('spec.clusterIPs', 'may not be set for ExternalName services'));
      }
      if ((spec.ipFamilies?.length ?? 0) > 0) {
        errs.push(fieldErr.forbidden('spec.ipFamilies', 'may not be set for ExternalName services'));
      }
      if (spec.ipFamilyPolicy !== undefined) {
        errs.push(fieldErr.forbidden('spec.ipFamilyPolicy', 'may not be set for ExternalName services'));
      }
      // A trailing dot marks the CNAME as fully qualified.
      const cname = (spec.externalName ?? '').replace(/\.$/, '');
      if (cname.length > 0) {
        for (const m of isDns1123Subdomain(cname)) errs.push(fieldErr.invalid('spec.externalName', cname, m));
      } else errs.push(fieldErr.required('spec.externalName'));
      break;
    }
  }

  const names = new Set<string>();
  ports.forEach((p, i) => {
    errs.push(...validatePort(p, ports.length > 1, names, `spec.ports[${i}]`));
  });

  const affinity = spec.sessionAffinity ?? '';
  if (affinity === '') errs.push(fieldErr.required('spec.sessionAffinity'));
  else if (affinity !== 'ClientIP' && affinity !== 'None') {
    errs.push(fieldErr.notSupported('spec.sessionAffinity', affinity, ['ClientIP', 'None']));
  }
  if (affinity === 'ClientIP') {
    const cfg = spec.sessionAffinityConfig;
    const base = 'spec.sessionAffinityConfig';
    const when = 'when session affinity type is ClientIP';
    if (cfg === undefined) errs.push(fieldErr.required(base, when));
    else if (cfg.clientIP === undefined) errs.push(fieldErr.required(`${base}.clientIP`, when));
    else if (cfg.clientIP.timeoutSeconds === undefined)
      errs.push(fieldErr.required(`${base}.clientIP.timeoutSeconds`, when));
    else {
      const t = cfg.clientIP.timeoutSeconds;
      if (t <= 0 || t > MAX_AFFINITY_TIMEOUT_SECONDS) {
        errs.push(
          fieldErr.invalid(
            `${base}.clientIP.timeoutSeconds`,
            t,
            `must be greater than 0 and less than ${MAX_AFFINITY_TIMEOUT_SECONDS}`,
          ),
        );
      }
    }
  } else if (affinity === 'None' && spec.sessionAffinityConfig !== undefined) {
    errs.push(
      fieldErr.forbidden('spec.sessionAffinityConfig', 'must not be set when session affinity is None'),
    );
  }

  (spec.clusterIPs ?? []).forEach((ip, i) => {
    if (ip === 'None' && i === 0) return;
    // IPv6 is a valid IP here; whether the cluster has that family was checked before allocation.
    if (!isIPv4(ip) && !isIPv6(ip)) errs.push(fieldErr.invalid(`spec.clusterIPs[${i}]`, ip, IP_EXAMPLE));
  });

  (spec.externalIPs ?? []).forEach((ip, i) => {
    const f = `spec.externalIPs[${i}]`;
    if (!isIPv4(ip) && !isIPv6(ip)) errs.push(fieldErr.invalid(f, ip, IP_EXAMPLE));
    else errs.push(...nonSpecialIPErrors(ip, f));
  });

  const type = spec.type ?? '';
  if (type === '') errs.push(fieldErr.required('spec.type'));
  else if (!SERVICE_TYPES.includes(type)) errs.push(fieldErr.notSupported('spec.type', type, SERVICE_TYPES));

  if (type === 'ClusterIP') {
    ports.forEach((p, i) => {
      if ((p.nodePort ?? 0) !== 0) {
        errs.push(
          fieldErr.forbidden(`spec.ports[${i}].nodePort`, "may not be used when `type` is 'ClusterIP'"),
        );
      }
    });
  }

  const nodePorts = new Set<string>();
  ports.forEach((p, i) => {
    if ((p.nodePort ?? 0) === 0) return;
    const key = `${p.protocol}/${p.nodePort}`;
    if (nodePorts.has(key)) errs.push(fieldErr.duplicate(`spec.ports[${i}].nodePort`, p.nodePort as number));
    nodePorts.add(key);
  });
  const portKeys = new Set<string>();
  ports.forEach((p, i) => {
    const key = `${p.protocol}/${p.port}`;
    if (portKeys.has(key)) {
      errs.push(
        fieldErr.duplicate(`spec.ports[${i}]`, {
          goSyntax: servicePortKeyGoSyntax(p.protocol ?? '', p.port),
        }),
      );
    }
    portKeys.add(key);
  });

  const ranges = spec.loadBalancerSourceRanges ?? [];
  if (ranges.length > 0) {
    // Upstream builds this path with a capital L ("LoadBalancerSourceRanges").
    const f = 'spec.LoadBalancerSourceRanges';
    if (type !== 'LoadBalancer')
      errs.push(fieldErr.forbidden(f, "may only be used when `type` is 'LoadBalancer'"));
    ranges.forEach((r, i) => {
      const v = r.trim();
      if (!validCidr(v)) errs.push(fieldErr.invalid(`${f}[${i}]`, v, CIDR_EXAMPLE));
    });
  }
  if (spec.allocateLoadBalancerNodePorts !== undefined && type !== 'LoadBalancer') {
    errs.push(
      fieldErr.forbidden(
        'spec.allocateLoadBalancerNodePorts',
        "may only be used when `type` is 'LoadBalancer'",
      ),
    );
  }

  const etp = spec.externalTrafficPolicy ?? '';
  if (!externallyAccessible(svc)) {
    if (etp !== '') {
      errs.push(
        fieldErr.invalid(
          'spec.externalTrafficPolicy',
          etp,
          'may only be set for externally-accessible services',
        ),
      );
    }
  } else if (etp === '') errs.push(fieldErr.required('spec.externalTrafficPolicy'));
  else if (etp !== 'Cluster' && etp !== 'Local') {
    errs.push(fieldErr.notSupported('spec.externalTrafficPolicy', etp, ['Cluster', 'Local']));
  }
  const hc = spec.healthCheckNodePort ?? 0;
  if (!needsHealthCheck(svc)) {
    if (hc !== 0) {
      errs.push(
        fieldErr.invalid(
          'spec.healthCheckNodePort',
          hc,
          "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ),
      );
    }
  } else if (hc === 0) errs.push(fieldErr.required('spec.healthCheckNodePort'));
  else for (const m of isValidPortNum(hc)) errs.push(fieldErr.invalid('spec.healthCheckNodePort', hc, m));

  const itp = spec.internalTrafficPolicy;
  if (itp === undefined) {
    if (type === 'NodePort' || type === 'LoadBalancer' || type === 'ClusterIP') {
      errs.push(fieldErr.required('spec.internalTrafficPolicy'));
    }
  } else if (itp !== 'Cluster' && itp !== 'Local') {
    errs.push(fieldErr.notSupported('spec.internalTrafficPolicy', itp, ['Cluster', 'Local']));
  }
  return errs;
}
