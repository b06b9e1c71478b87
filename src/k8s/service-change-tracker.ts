/**
 * The one record of which Services changed since a proxy last synced, as kube-proxy's
 * ServiceChangeTracker / EndpointsChangeTracker accumulate informer events between syncs
 * (pkg/proxy/servicechangetracker.go). The control plane records every Service whose spec or
 * endpoints its controllers touched; a proxy drains the record when it syncs and re-plans just
 * those Services. Anything beyond Services (a node joining) asks for a full sync.
 */

/** What changed since the last drain. */
export interface PendingServiceChanges {
  /** Keys (`ns/name`) of Services whose spec or endpoints changed. */
  readonly services: ReadonlySet<string>;
  /** Something outside the Services changed (nodes): only a full sync is correct. */
  readonly full: boolean;
}

export class ServiceChangeTracker {
  private services = new Set<string>();
  private full = false;

  /** A Service was created, updated or deleted, or its endpoints changed. */
  recordService(key: string): void {
    this.services.add(key);
  }

  /** The cluster's shape changed (a node registered): the next sync must be a full one. */
  recordTopology(): void {
    this.full = true;
  }

  /** Everything recorded since the last drain; the record starts empty again. */
  drain(): PendingServiceChanges {
    const out = { services: this.services, full: this.full };
    this.services = new Set();
    this.full = false;
    return out;
  }
}
