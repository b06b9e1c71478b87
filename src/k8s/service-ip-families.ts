/**
 * The apiserver's IP-family defaulting and checks for a Service (initIPFamilyFields in
 * pkg/registry/core/service/storage/alloc.go, with ValidateServiceClusterIPsRelatedFields'
 * stand-alone family checks). `clusterFamilies` are the families the cluster's
 * --service-cluster-ip-range covers, primary first: ['IPv4'] on a single-stack cluster, where a
 * Service that asks for IPv6 or RequireDualStack is rejected with the apiserver's words, and
 * ['IPv4', 'IPv6'] on a dual-stack one, where PreferDualStack and RequireDualStack get the
 * missing family appended. Runs before any allocation, as upstream does.
 */
import { isIP, isIPv6 } from 'node:net';
import type { Service } from 'kubernetes-types/core/v1.js';
import { type FieldError, fieldErr, goQuote, InvalidObjectError } from './errors.js';

/** A single-stack IPv4 cluster's families. */
export const IPV4_ONLY: readonly string[] = ['IPv4'];
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
export function initIPFamilyFields(
  svc: Service,
  old?: Service,
  clusterFamilies: readonly string[] = IPV4_ONLY,
): void {
  const CLUSTER_FAMILIES = clusterFamilies;
  const DEFAULT_FAMILY = clusterFamilies[0];
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
  pre.push(...clusterIPsFamilyErrors(spec.clusterIPs ?? [], spec.ipFamilies ?? []));
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
  // Dual-stack asked for on a dual-stack cluster: append the other family.
  if (policy !== 'SingleStack' && families.length === 1 && CLUSTER_FAMILIES.length > 1)
    families.push(families[0] === CLUSTER_FAMILIES[0] ? CLUSTER_FAMILIES[1] : CLUSTER_FAMILIES[0]);
  spec.ipFamilies = families;
}

/**
 * ValidateServiceClusterIPsRelatedFields' checks of spec.clusterIPs against itself and against
 * spec.ipFamilies (run only when every entry is an IP address; malformed ones are left to
 * validation, which names them): at most two, one per family, each of the family its
 * ipFamilies entry names.
 */
function clusterIPsFamilyErrors(clusterIPs: readonly string[], families: readonly string[]): FieldError[] {
  const errs: FieldError[] = [];
  if (clusterIPs.length === 0 || clusterIPs[0] === 'None') return errs;
  if (!clusterIPs.every((ip) => isIP(ip) !== 0)) return errs;
  if (clusterIPs.length > 2)
    errs.push(fieldErr.invalid('spec.clusterIPs', goStrings(clusterIPs), 'may only hold up to 2 values'));
  if (clusterIPs.length === 2 && familyOf(clusterIPs[0]) === familyOf(clusterIPs[1]))
    errs.push(
      fieldErr.invalid(
        'spec.clusterIPs',
        goStrings(clusterIPs),
        'may specify no more than one IP for each IP family',
      ),
    );
  clusterIPs.forEach((ip, i) => {
    if (i >= families.length) return;
    if (families[i] === 'IPv4' && familyOf(ip) === 'IPv6')
      errs.push(
        fieldErr.invalid(
          `spec.clusterIPs[${i}]`,
          ip,
          `expected an IPv4 value as indicated by \`ipFamilies[${i}]\``,
        ),
      );
    if (families[i] === 'IPv6' && familyOf(ip) !== 'IPv6')
      errs.push(
        fieldErr.invalid(
          `spec.clusterIPs[${i}]`,
          ip,
          `expected an IPv6 value as indicated by \`ipFamilies[${i}]\``,
        ),
      );
  });
  return errs;
}
