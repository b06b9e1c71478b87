/**
 * The apiserver's IP-family defaulting and checks for a Service (initIPFamilyFields in
 * pkg/registry/core/service/storage/alloc.go, with ValidateServiceClusterIPsRelatedFields'
 * stand-alone family checks), for dpsim's single-stack IPv4 cluster: a Service that asks for
 * IPv6 or for dual-stack is rejected with the apiserver's words instead of silently getting
 * an IPv4 ClusterIP. Runs before any allocation, as upstream does.
 */
import { isIPv6 } from 'node:net';
import type { Service } from 'kubernetes-types/core/v1.js';
import { type FieldError, fieldErr, goQuote, InvalidObjectError } from './errors.js';

/** The families the cluster's --service-cluster-ip-range covers. */
const CLUSTER_FAMILIES: readonly string[] = ['IPv4'];
const DEFAULT_FAMILY = 'IPv4';
const SUPPORTED_FAMILIES = ['IPv4', 'IPv6'];
const SUPPORTED_POLICIES = ['SingleStack', 'PreferDualStack', 'RequireDualStack'];

function familyOf(ip: string): string {
  return isIPv6(ip) ? 'IPv6' : 'IPv4';
}

/** Go's %#v of a []string: `[]string{"a", "b"}`. */
function goStrings(values: readonly string[]): { goSyntax: string } {
  return { goSyntax: `[]string{${values.map(goQuote).join(', ')}}` };
}

/**
 * Defaults spec.ipFamilyPolicy and spec.ipFamilies in place, or throws the 422 the apiserver
 * returns. `old` is the stored Service on update.
 */
export function initIPFamilyFields(svc: Service, old?: Service): void {
  const spec = svc.spec;
  if (spec === undefined || spec.type === 'ExternalName') return;
  const name = svc.metadata?.name ?? '';
  const selectorless = Object.keys(spec.selector ?? {}).length === 0;
  const headlessSelectorless = spec.clusterIP === 'None' && selectorless;

  if (spec.ipFamilyPolicy === undefined) {
    if (old?.spec?.ipFamilyPolicy !== undefined) spec.ipFamilyPolicy = old.spec.ipFamilyPolicy;
    // Headless and selectorless defaults to dual (its endpoints may be of either family).
    else spec.ipFamilyPolicy = headlessSelectorless ? 'RequireDualStack' : 'SingleStack';
  }
  const policy = spec.ipFamilyPolicy;

  // The loose pre-validation of the family fields.
  const pre: FieldError[] = [];
  const seen = new Set<string>();
  (spec.ipFamilies ?? []).forEach((family, i) => {
    if (!SUPPORTED_FAMILIES.includes(family))
      pre.push(fieldErr.notSupported(`spec.ipFamilies[${i}]`, family, SUPPORTED_FAMILIES));
    if (seen.has(family)) pre.push(fieldErr.duplicate(`spec.ipFamilies[${i}]`, family));
    seen.add(family);
  });
  if (!SUPPORTED_POLICIES.includes(policy))
    pre.push(fieldErr.notSupported('spec.ipFamilyPolicy', policy, SUPPORTED_POLICIES));
  if (pre.length > 0) throw new InvalidObjectError('Service', name, pre);

  const errs: FieldError[] = [];
  const families = spec.ipFamilies ? [...spec.ipFamilies] : [];
  const clusterIPs = spec.clusterIPs ?? [];
  if (old !== undefined && policy === 'SingleStack' && families.length > 1) {
    // Setting SingleStack on an update is clear intent to drop the secondary family.
    const same = JSON.stringify(old.spec?.ipFamilies ?? []) === JSON.stringify(families);
    if (same) families.length = 1;
  }
  if (policy === 'SingleStack') {
    if (clusterIPs.length === 2)
      errs.push(
        fieldErr.invalid(
          'spec.ipFamilyPolicy',
          policy,
          "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified",
        ),
      );
    if (families.length === 2)
      errs.push(
        fieldErr.invalid(
          'spec.ipFamilyPolicy',
          policy,
          "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified",
        ),
      );
  }
  // Families inferred from the cluster IPs the user gave.
  for (let i = 0; i < clusterIPs.length; i++) {
    const ip = clusterIPs[i];
    if (ip === 'None') break;
    if (i < families.length) continue;
    const family = familyOf(ip);
    if (!CLUSTER_FAMILIES.includes(family))
      errs.push(
        fieldErr.invalid(
          `spec.clusterIPs[${i}]`,
          goStrings(clusterIPs),
          `${family} is not configured on this cluster`,
        ),
      );
    else families.push(family);
  }
  if (errs.length > 0) throw new InvalidObjectError('Service', name, errs);

  if (headlessSelectorless) {
    // A single-stack cluster still lets a headless selectorless Service hold both families.
    if (families.length === 0) families.push(DEFAULT_FAMILY);
    if (families.length < 2 && policy !== 'SingleStack')
      families.push(families[0] === 'IPv4' ? 'IPv6' : 'IPv4');
    spec.ipFamilies = families;
    return;
  }
  if (policy === 'RequireDualStack' && CLUSTER_FAMILIES.length < 2)
    errs.push(
      fieldErr.invalid(
        'spec.ipFamilyPolicy',
        policy,
        'this cluster is not configured for dual-stack services',
      ),
    );
  families.forEach((family, i) => {
    if (!CLUSTER_FAMILIES.includes(family))
      errs.push(fieldErr.invalid(`spec.ipFamilies[${i}]`, family, 'not configured on this cluster'));
  });
  if (errs.length > 0) throw new InvalidObjectError('Service', name, errs);
  if (families.length === 0) families.push(DEFAULT_FAMILY);
  spec.ipFamilies = families;
}
