/**
 * The Service REST storage: defaulting, allocation of ClusterIPs / NodePorts / health-check
 * NodePorts / LoadBalancer VIPs, validation, update semantics and release on delete
 * (pkg/registry/core/service/storage). As upstream, allocation (BeginCreate) runs before
 * validation, and a failed create or update gives every allocation back.
 */

import { isIPv6 } from 'node:net';
import type { Service } from 'kubernetes-types/core/v1.js';
import { formatIPv4, isIPv4, parseIPv4 } from '../util/ipv4.js';
import type { ClusterIPAllocator, LoadBalancerIPPool, NodePortAllocator } from './allocators.js';
import type { ClusterIP6Allocator } from './allocators-ipv6.js';
import { type FieldError, fieldErr, InternalApiError, InvalidObjectError } from './errors.js';
import { IPV4_ONLY, initIPFamilyFields } from './service-ip-families.js';
import {
  defaultService,
  isHeadless,
  needsHealthCheck,
  shouldAllocateNodePorts,
  validateService,
} from './service-validation.js';
import { writable } from './writable.js';

type Undo = () => void;

const DUAL_STACK: readonly string[] = ['IPv4', 'IPv6'];

export class ServiceRegistry {
  constructor(
    readonly clusterIPs: ClusterIPAllocator,
    readonly nodePorts: NodePortAllocator,
    readonly lbPool: LoadBalancerIPPool,
    /** The IPv6 (secondary) Service range of a dual-stack cluster, or null. */
    readonly clusterIPs6: ClusterIP6Allocator | null = null,
  ) {}

  /** The families --service-cluster-ip-range covers, primary first. */
  get families(): readonly string[] {
    return this.clusterIPs6 === null ? IPV4_ONLY : DUAL_STACK;
  }

  /** Creates a Service: returns the stored spec/status, or throws an ApiError worded as kubectl shows it. */
  create(input: Service, source: string): Service {
    const svc = defaultService(input);
    initIPFamilyFields(svc, undefined, this.families);
    const undo: Undo[] = [];
    try {
      this.allocateClusterIP(svc, undo, source);
      if (svc.spec!.type === 'NodePort' || svc.spec!.type === 'LoadBalancer')
        this.allocateNodePorts(svc, undo, source, []);
      if (needsHealthCheck(svc)) this.allocateHealthCheck(svc, undo, source);
      const errs = validateService(svc);
      if (errs.length > 0) throw new InvalidObjectError('Service', svc.metadata?.name ?? '', errs);
      this.finish(svc, undo, false, givenIngress(input));
      return svc;
    } catch (e) {
      for (const u of undo.reverse()) u();
      throw e;
    }
  }

  /**
   * Applies a changed manifest to an existing Service as `kubectl apply` does: fields the user
   * does not set (clusterIP, nodePorts, healthCheckNodePort) are kept from the live object, then
   * `dropTypeDependentFields` clears those that no longer apply if the user did not change them.
   */
  update(old: Service, input: Service, source: string): Service {
    const svc = defaultService(input);
    // Before the live values are carried over, so the spec's keys keep create()'s order and an
    // unchanged re-apply compares equal.
    initIPFamilyFields(svc, old, this.families);
    const spec = svc.spec!;
    const oldSpec = old.spec ?? {};
    const name = svc.metadata?.name ?? '';
    const movingToExternalName = spec.type === 'ExternalName' && oldSpec.type !== 'ExternalName';
    if (
      !movingToExternalName &&
      spec.clusterIP === undefined &&
      spec.clusterIPs === undefined &&
      oldSpec.clusterIP
    ) {
      spec.clusterIP = oldSpec.clusterIP;
      spec.clusterIPs = oldSpec.clusterIPs ? [...oldSpec.clusterIPs] : [oldSpec.clusterIP];
    }
    for (const p of spec.ports ?? []) {
      if (p.nodePort === undefined) {
        const prev = (oldSpec.ports ?? []).find(
          (o) => o.port === p.port && (o.protocol ?? 'TCP') === p.protocol,
        );
        if (prev?.nodePort) p.nodePort = prev.nodePort;
      }
    }
    if (spec.healthCheckNodePort === undefined && oldSpec.healthCheckNodePort)
      spec.healthCheckNodePort = oldSpec.healthCheckNodePort;

    // dropTypeDependentFields: clear what the new type does not use, when it is unchanged from the old object.
    const oldNodePorts = new Set((oldSpec.ports ?? []).map((p) => p.nodePort ?? 0).filter((n) => n !== 0));
    if (!shouldAllocateNodePorts(svc) && spec.type !== 'LoadBalancer') {
      const unchanged = (spec.ports ?? []).every(
        (p) => (p.nodePort ?? 0) === 0 || oldNodePorts.has(p.nodePort!),
      );
      if (unchanged) for (const p of spec.ports ?? []) delete p.nodePort;
    }
    if (!needsHealthCheck(svc) && spec.healthCheckNodePort === oldSpec.healthCheckNodePort)
      delete spec.healthCheckNodePort;
    if (
      spec.type !== 'LoadBalancer' &&
      spec.allocateLoadBalancerNodePorts === oldSpec.allocateLoadBalancerNodePorts
    ) {
      delete spec.allocateLoadBalancerNodePorts;
    }
    if (movingToExternalName && (spec.clusterIP === oldSpec.clusterIP || spec.clusterIP === undefined)) {
      delete spec.clusterIP;
      delete spec.clusterIPs;
      delete spec.ipFamilies;
      delete spec.ipFamilyPolicy;
    }

    const errs: FieldError[] = [];
    const oldIP = oldSpec.clusterIPs?.[0] ?? oldSpec.clusterIP;
    const newIP = spec.clusterIPs?.[0] ?? spec.clusterIP;
    if (
      oldIP &&
      newIP &&
      oldIP !== newIP &&
      oldSpec.type !== 'ExternalName' &&
      spec.type !== 'ExternalName'
    ) {
      errs.push(fieldErr.invalid('spec.clusterIPs[0]', newIP, 'may not change once set'));
    }
    if (errs.length > 0) throw new InvalidObjectError('Service', name, errs);

    // Work out which allocations change: release the old ones the new object no longer holds,
    // allocate what is new. Everything is undone on failure.
    const undo: Undo[] = [];
    try {
      if (oldIP && oldIP !== 'None' && newIP !== oldIP)
        for (const ip of oldSpec.clusterIPs ?? [oldIP]) this.releaseOne(ip, undo);
      if (newIP === undefined || newIP === '' || newIP !== oldIP) this.allocateClusterIP(svc, undo, source);
      else this.reconcileSecondaryClusterIP(svc, oldSpec.clusterIPs ?? [], undo, source);
      const keptNodePorts = (spec.ports ?? []).map((p) => p.nodePort ?? 0).filter((n) => oldNodePorts.has(n));
      for (const np of oldNodePorts) {
        if (!keptNodePorts.includes(np)) {
          this.nodePorts.release(np);
          undo.push(() => this.nodePorts.allocate(np));
        }
      }
      if (spec.type === 'NodePort' || spec.type === 'LoadBalancer')
        this.allocateNodePorts(svc, undo, source, keptNodePorts);
      const oldHc = oldSpec.healthCheckNodePort ?? 0;
      if (oldHc !== 0 && spec.healthCheckNodePort !== oldHc) {
        this.nodePorts.release(oldHc);
        undo.push(() => this.nodePorts.allocate(oldHc));
      }
      if (needsHealthCheck(svc) && (spec.healthCheckNodePort ?? 0) !== oldHc)
        this.allocateHealthCheck(svc, undo, source);
      else if (needsHealthCheck(svc) && oldHc === 0) this.allocateHealthCheck(svc, undo, source);
      const verrs = validateService(svc);
      if (verrs.length > 0) throw new InvalidObjectError('Service', name, verrs);
      // The load-balancer controller keeps an existing VIP while the Service stays a LoadBalancer.
      const oldVip = old.status?.loadBalancer?.ingress?.[0]?.ip;
      if (oldVip && spec.type === 'LoadBalancer') {
        writable(svc).status = { loadBalancer: { ingress: [{ ip: oldVip, ipMode: 'VIP' }] } };
        this.finish(svc, undo, true);
      } else {
        if (oldVip) {
          this.lbPool.release(parseIPv4(oldVip));
          undo.push(() => this.lbPool.allocate(parseIPv4(oldVip)));
        }
        this.finish(svc, undo);
      }
      return svc;
    } catch (e) {
      for (const u of undo.reverse()) u();
      throw e;
    }
  }

  /** Gives back everything a deleted Service held. */
  release(svc: Service): void {
    const spec = svc.spec ?? {};
    for (const ip of spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : [])) this.releaseOne(ip);
    for (const p of spec.ports ?? []) if (p.nodePort) this.nodePorts.release(p.nodePort);
    if (spec.healthCheckNodePort) this.nodePorts.release(spec.healthCheckNodePort);
    for (const ing of svc.status?.loadBalancer?.ingress ?? [])
      if (ing.ip && isIPv4(ing.ip)) this.lbPool.release(parseIPv4(ing.ip));
  }

  /**
   * One ClusterIP per entry of spec.ipFamilies, from that family's range, in that order (so
   * clusterIPs[i] is of family ipFamilies[i]): the address the user put in clusterIPs[i], or
   * the next free one. An address that does not parse is left to validation, which names it.
   */
  private allocateClusterIP(svc: Service, undo: Undo[], source: string): void {
    const spec = svc.spec!;
    if (spec.type === 'ExternalName' || isHeadless(svc)) return;
    const families = spec.ipFamilies ?? ['IPv4'];
    const given = spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : []);
    const out: string[] = [];
    for (let i = 0; i < families.length; i++) {
      const ip = this.allocateOne(svc, families[i], given[i], undo, source);
      if (ip === undefined) return;
      out.push(ip);
    }
    spec.clusterIP = out[0];
    spec.clusterIPs = out;
  }

  /** Allocates `requested` (or the next free address) in `family`'s range; undefined when `requested` is not an address of it. */
  private allocateOne(
    svc: Service,
    family: string,
    requested: string | undefined,
    undo: Undo[],
    source: string,
  ): string | undefined {
    const spec = svc.spec!;
    const v6 = family === 'IPv6';
    const pool6 = this.clusterIPs6;
    if (v6 && pool6 === null) return undefined; // initIPFamilyFields refused it already
    if (requested !== undefined && requested !== '') {
      if (v6 ? !isIPv6(requested) : !isIPv4(requested)) return undefined;
      let r: { ok: boolean; error?: string };
      if (v6) {
        r = pool6!.allocate(requested);
        if (r.ok) undo.push(() => pool6!.release(requested));
      } else {
        const addr = parseIPv4(requested);
        r = this.clusterIPs.allocate(addr);
        if (r.ok) undo.push(() => this.clusterIPs.release(addr));
      }
      if (!r.ok) {
        const all = spec.clusterIPs ?? [requested];
        throw new InvalidObjectError('Service', svc.metadata?.name ?? '', [
          fieldErr.invalid(
            'spec.clusterIPs',
            { goSyntax: `[]string{${all.map((s) => JSON.stringify(s)).join(', ')}}` },
            `failed to allocate IP ${requested}: ${r.error}`,
          ),
        ]);
      }
      return requested;
    }
    if (v6) {
      const r = pool6!.allocateNext();
      if (!r.ok) throw new InternalApiError(`failed to allocate a serviceIP: ${r.error}`, source);
      undo.push(() => pool6!.release(r.value));
      return r.value;
    }
    const r = this.clusterIPs.allocateNext();
    if (!r.ok) throw new InternalApiError(`failed to allocate a serviceIP: ${r.error}`, source);
    undo.push(() => this.clusterIPs.release(r.value));
    return formatIPv4(r.value);
  }

  /** Gives an allocated ClusterIP of either family back (no-op for anything else). */
  private releaseOne(ip: string | undefined, undo?: Undo[]): void {
    if (ip === undefined) return;
    if (isIPv4(ip)) {
      this.clusterIPs.release(parseIPv4(ip));
      undo?.push(() => this.clusterIPs.allocate(parseIPv4(ip)));
    } else if (isIPv6(ip) && this.clusterIPs6 !== null) {
      const pool = this.clusterIPs6;
      pool.release(ip);
      undo?.push(() => pool.allocate(ip));
    }
  }

  /**
   * An update that keeps the primary ClusterIP may add the secondary (SingleStack →
   * PreferDualStack/RequireDualStack) or give it back (→ SingleStack).
   */
  private reconcileSecondaryClusterIP(
    svc: Service,
    oldIPs: readonly string[],
    undo: Undo[],
    source: string,
  ): void {
    const spec = svc.spec!;
    if (spec.type === 'ExternalName' || isHeadless(svc)) return;
    const ips = spec.clusterIPs ?? [];
    const families = spec.ipFamilies ?? [];
    if (families.length < 2 && ips.length === 2 && oldIPs[1] === ips[1]) {
      spec.clusterIPs = [ips[0]];
      this.releaseOne(ips[1], undo);
    } else if (families.length === 2 && oldIPs.length === 2 && ips.length === 1 && ips[0] === oldIPs[0]) {
      // A manifest naming only the primary (clusterIP) keeps the live secondary, as apply's merge does.
      spec.clusterIPs = [ips[0], oldIPs[1]];
    } else if (families.length === 2 && oldIPs.length < 2 && ips.length > 0) {
      const ip = this.allocateOne(svc, families[1], ips[1], undo, source);
      if (ip !== undefined) spec.clusterIPs = [ips[0], ip];
    }
  }

  /** initNodePorts: ports sharing a `port` number (different protocols) share one nodePort. */
  private allocateNodePorts(
    svc: Service,
    undo: Undo[],
    source: string,
    alreadyHeld: readonly number[],
  ): void {
    const ports = svc.spec!.ports ?? [];
    const allocate = shouldAllocateNodePorts(svc);
    const byServicePort = new Map<number, number>();
    const held = new Set(alreadyHeld);
    const name = svc.metadata?.name ?? '';
    const take = (np: number, i: number): void => {
      if (held.has(np)) return;
      const r = this.nodePorts.allocate(np);
      if (!r.ok) {
        throw new InvalidObjectError('Service', name, [
          fieldErr.invalid(`spec.ports[${i}].nodePort`, np, r.error),
        ]);
      }
      held.add(np);
      undo.push(() => this.nodePorts.release(np));
    };
    ports.forEach((p, i) => {
      const requested = p.nodePort ?? 0;
      if (requested !== 0 && !Number.isInteger(requested)) return; // left to validation
      if (requested === 0 && !allocate) return;
      const shared = byServicePort.get(p.port) ?? 0;
      if (shared === 0) {
        const np = ports.find((o) => o.port === p.port && (o.nodePort ?? 0) !== 0)?.nodePort ?? 0;
        if (np !== 0) {
          take(np, i);
          p.nodePort = np;
          byServicePort.set(p.port, np);
        } else {
          const r = this.nodePorts.allocateNext();
          if (!r.ok) throw new InternalApiError(`failed to allocate a nodePort: ${r.error}`, source);
          undo.push(() => this.nodePorts.release(r.value));
          held.add(r.value);
          p.nodePort = r.value;
          byServicePort.set(p.port, r.value);
        }
      } else if (requested !== shared) {
        if (requested === 0) p.nodePort = shared;
        else take(requested, i);
      }
    });
  }

  private allocateHealthCheck(svc: Service, undo: Undo[], source: string): void {
    const spec = svc.spec!;
    const requested = spec.healthCheckNodePort ?? 0;
    if (requested !== 0) {
      const r = this.nodePorts.allocate(requested);
      if (!r.ok)
        throw new InternalApiError(
          `failed to allocate requested HealthCheck NodePort ${requested}: ${r.error}`,
          source,
        );
      undo.push(() => this.nodePorts.release(requested));
      return;
    }
    const r = this.nodePorts.allocateNext();
    if (!r.ok) throw new InternalApiError(`failed to allocate a HealthCheck NodePort 0: ${r.error}`, source);
    undo.push(() => this.nodePorts.release(r.value));
    spec.healthCheckNodePort = r.value;
  }

  /** Fills what the apiserver and the load-balancer controller add after a successful write. */
  private finish(svc: Service, undo: Undo[], keepStatus = false, given: readonly IngressIP[] = []): void {
    const spec = svc.spec!;
    if (spec.type !== 'ExternalName') {
      if (isHeadless(svc)) {
        spec.clusterIP = 'None';
        spec.clusterIPs = ['None'];
      }
      spec.ipFamilies ??= ['IPv4'];
      spec.ipFamilyPolicy ??= 'SingleStack';
    }
    if (keepStatus) return;
    writable(svc).status = { loadBalancer: {} };
    if (spec.type === 'LoadBalancer' && given.length > 0) {
      // A cloud controller's answer given in the manifest: used as is, and its addresses
      // taken out of dpsim's own pool so no other Service gets them.
      for (const g of given) {
        const vip = this.lbPool.allocate(parseIPv4(g.ip));
        if (vip === parseIPv4(g.ip)) undo.push(() => this.lbPool.release(vip));
      }
      writable(svc).status = {
        loadBalancer: { ingress: given.map((g) => ({ ip: g.ip, ipMode: g.ipMode ?? 'VIP' })) },
      };
      return;
    }
    if (spec.type === 'LoadBalancer') {
      const wanted =
        spec.loadBalancerIP && isIPv4(spec.loadBalancerIP) ? parseIPv4(spec.loadBalancerIP) : undefined;
      const vip = this.lbPool.allocate(wanted);
      if (vip >= 0) {
        undo.push(() => this.lbPool.release(vip));
        writable(svc).status = { loadBalancer: { ingress: [{ ip: formatIPv4(vip), ipMode: 'VIP' }] } };
      }
    }
  }
}

interface IngressIP {
  readonly ip: string;
  readonly ipMode?: 'VIP' | 'Proxy';
}

/**
 * `status.loadBalancer.ingress` as the manifest gives it (the output of a cloud controller,
 * which dpsim plays): checked as the apiserver's status validation checks it.
 */
function givenIngress(input: Service): IngressIP[] {
  const ingress = input.status?.loadBalancer?.ingress ?? [];
  const errs: FieldError[] = [];
  const out: IngressIP[] = [];
  ingress.forEach((g, i) => {
    const field = `status.loadBalancer.ingress[${i}]`;
    if (g.ip === undefined || g.ip === '') {
      if (g.hostname === undefined)
        errs.push(fieldErr.required(`${field}.ip`, 'dpsim needs an IPv4 address'));
      else
        errs.push(
          fieldErr.invalid(`${field}.hostname`, g.hostname, 'dpsim routes addresses, not names: give ip'),
        );
      return;
    }
    if (!isIPv4(g.ip)) {
      errs.push(fieldErr.invalid(`${field}.ip`, g.ip, 'must be a valid IP address'));
      return;
    }
    if (g.ipMode !== undefined && g.ipMode !== 'VIP' && g.ipMode !== 'Proxy') {
      errs.push(fieldErr.notSupported(`${field}.ipMode`, g.ipMode, ['Proxy', 'VIP']));
      return;
    }
    out.push({ ip: g.ip, ...(g.ipMode !== undefined ? { ipMode: g.ipMode as 'VIP' | 'Proxy' } : {}) });
  });
  if (errs.length > 0) throw new InvalidObjectError('Service', input.metadata?.name ?? '', errs);
  return out;
}
