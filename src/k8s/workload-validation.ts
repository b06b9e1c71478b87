/**
 * Validation of the workload objects dpsim runs (Pod, ReplicaSet, Deployment) and of
 * user-supplied EndpointSlices: the subset of upstream checks that matter for the dataplane,
 * worded as the apiserver words them.
 */
import type { DaemonSet, Deployment, ReplicaSet, StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { Container, Pod, PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import { isIPv4 } from '../util/ipv4.js';
import { type FieldError, fieldErr } from './errors.js';
import { goMapSyntax, matchesLabelSelector } from './labels.js';
import { isDns1123Label, isDns1123Subdomain, isValidPortName, isValidPortNum } from './names.js';

const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];

export function validateObjectName(name: string | undefined, rule: 'subdomain' | 'label'): FieldError[] {
  if (name === undefined || name === '')
    return [fieldErr.required('metadata.name', 'name or generateName is required')];
  const msgs = rule === 'subdomain' ? isDns1123Subdomain(name) : isDns1123Label(name);
  return msgs.map((m) => fieldErr.invalid('metadata.name', name, m));
}

function validateContainers(containers: Container[] | undefined, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (containers === undefined || containers.length === 0) return [fieldErr.required(path)];
  const names = new Set<string>();
  containers.forEach((c, i) => {
    const cp = `${path}[${i}]`;
    if (!c.name) errs.push(fieldErr.required(`${cp}.name`));
    else {
      for (const m of isDns1123Label(c.name)) errs.push(fieldErr.invalid(`${cp}.name`, c.name, m));
      if (names.has(c.name)) errs.push(fieldErr.duplicate(`${cp}.name`, c.name));
      names.add(c.name);
    }
    if (!c.image) errs.push(fieldErr.required(`${cp}.image`));
    (c.ports ?? []).forEach((p, j) => {
      const pp = `${cp}.ports[${j}]`;
      if (p.name)
        for (const m of isValidPortName(p.name)) errs.push(fieldErr.invalid(`${pp}.name`, p.name, m));
      for (const m of isValidPortNum(p.containerPort))
        errs.push(fieldErr.invalid(`${pp}.containerPort`, p.containerPort ?? 0, m));
      const proto = p.protocol ?? 'TCP';
      if (!PROTOCOLS.includes(proto)) errs.push(fieldErr.notSupported(`${pp}.protocol`, proto, PROTOCOLS));
    });
  });
  return errs;
}

export function validatePod(pod: Pod): FieldError[] {
  return [
    ...validateObjectName(pod.metadata?.name, 'subdomain'),
    ...validateContainers(pod.spec?.containers, 'spec.containers'),
  ];
}

function validateTemplated(
  name: string | undefined,
  replicas: number | undefined,
  selector: LabelSelector | undefined,
  template: PodTemplateSpec | undefined,
): FieldError[] {
  const errs = validateObjectName(name, 'subdomain');
  if (replicas !== undefined && (!Number.isInteger(replicas) || replicas < 0)) {
    errs.push(fieldErr.invalid('spec.replicas', replicas, 'must be greater than or equal to 0'));
  }
  const emptySelector =
    selector === undefined ||
    (Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0);
  if (emptySelector) errs.push(fieldErr.required('spec.selector'));
  else if (!matchesLabelSelector(selector, template?.metadata?.labels)) {
    errs.push(
      fieldErr.invalid(
        'spec.template.metadata.labels',
        { goSyntax: goMapSyntax(template?.metadata?.labels) },
        '`selector` does not match template `labels`',
      ),
    );
  }
  errs.push(...validateContainers(template?.spec?.containers, 'spec.template.spec.containers'));
  return errs;
}

export function validateReplicaSet(rs: ReplicaSet): FieldError[] {
  return validateTemplated(rs.metadata?.name, rs.spec?.replicas, rs.spec?.selector, rs.spec?.template);
}

export function validateDaemonSet(ds: DaemonSet): FieldError[] {
  return validateTemplated(ds.metadata?.name, undefined, ds.spec?.selector, ds.spec?.template);
}

export function validateStatefulSet(sts: StatefulSet): FieldError[] {
  return validateTemplated(sts.metadata?.name, sts.spec?.replicas, sts.spec?.selector, sts.spec?.template);
}

export function validateDeployment(d: Deployment): FieldError[] {
  return validateTemplated(d.metadata?.name, d.spec?.replicas, d.spec?.selector, d.spec?.template);
}

export function validateEndpointSlice(s: EndpointSlice): FieldError[] {
  const errs = validateObjectName(s.metadata?.name, 'subdomain');
  if (!s.addressType) errs.push(fieldErr.required('addressType'));
  else if (!['FQDN', 'IPv4', 'IPv6'].includes(s.addressType)) {
    errs.push(fieldErr.notSupported('addressType', s.addressType, ['FQDN', 'IPv4', 'IPv6']));
  }
  (s.endpoints ?? []).forEach((e, i) => {
    if (!e.addresses || e.addresses.length === 0)
      errs.push(fieldErr.required(`endpoints[${i}].addresses`, 'must contain at least 1 address'));
    (e.addresses ?? []).forEach((a, j) => {
      if (s.addressType === 'IPv4' && !isIPv4(a)) {
        errs.push(fieldErr.invalid(`endpoints[${i}].addresses[${j}]`, a, 'must be a valid IPv4 address'));
      }
    });
  });
  (s.ports ?? []).forEach((p, i) => {
    if (p.port !== undefined)
      for (const m of isValidPortNum(p.port)) errs.push(fieldErr.invalid(`ports[${i}].port`, p.port, m));
    const proto = p.protocol ?? 'TCP';
    if (!PROTOCOLS.includes(proto))
      errs.push(fieldErr.notSupported(`ports[${i}].protocol`, proto, PROTOCOLS));
  });
  return errs;
}
