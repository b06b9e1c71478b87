/**
 * When the control plane notices a node that stopped (`dpsim rollout --node-not-ready NODE`):
 * the kubelet renews its Lease every 10 s (a quarter of nodeLeaseDurationSeconds, 40 s); the
 * node lifecycle controller in kube-controller-manager looks every `--node-monitor-period`
 * (5 s) and, once no heartbeat has come for `--node-monitor-grace-period` (50 s since
 * Kubernetes 1.32, kubernetes#126287; 40 s before), sets the node's Ready condition to Unknown,
 * taints it `node.kubernetes.io/unreachable` and marks its pods not ready (MarkPodsNotReady),
 * which takes their endpoints out of every Service. Pods tolerate the NoExecute taint for
 * 300 s (the DefaultTolerationSeconds admission plugin) before the taint manager deletes them.
 *
 * The lease's and the controller's phases are drawn from the seed, so the moment the node is
 * marked varies between `grace` and `grace + 15 s` after it stopped, as on a real cluster.
 */
import type { Rng } from '../util/rng.js';

/** kube-controller-manager --node-monitor-period. */
export const NODE_MONITOR_PERIOD_NS = 5e9;
/** kube-controller-manager --node-monitor-grace-period (Kubernetes ≥ 1.32). */
export const DEFAULT_NODE_MONITOR_GRACE_NS = 50e9;
/** The kubelet's Lease renew interval: 25% of nodeLeaseDurationSeconds (40 s). */
export const LEASE_RENEW_NS = 10e9;
/** DefaultTolerationSeconds: how long pods stay bound to an unreachable node before eviction. */
export const UNREACHABLE_TOLERATION_NS = 300e9;

export interface NodeFailureTimes {
  /** The node's last Lease renewal before it stopped. */
  readonly lastHeartbeatNs: number;
  /** The controller's pass that found the heartbeat older than the grace period. */
  readonly notReadyNs: number;
  /** When the taint manager evicts the node's pods (their toleration ran out). */
  readonly evictNs: number;
}

/** When a node that stops at `downNs` is marked NotReady and its pods are evicted. */
export function nodeFailureTimes(downNs: number, graceNs: number, rng: Rng): NodeFailureTimes {
  const leasePhase = rng.nextInt(LEASE_RENEW_NS / 1e6) * 1e6;
  const monitorPhase = rng.nextInt(NODE_MONITOR_PERIOD_NS / 1e6) * 1e6;
  const beats = Math.floor((downNs - leasePhase) / LEASE_RENEW_NS);
  const lastHeartbeatNs = leasePhase + beats * LEASE_RENEW_NS;
  // The first controller pass strictly after the heartbeat has aged past the grace period.
  const deadline = lastHeartbeatNs + graceNs;
  let notReadyNs =
    monitorPhase + Math.ceil((deadline - monitorPhase) / NODE_MONITOR_PERIOD_NS) * NODE_MONITOR_PERIOD_NS;
  if (notReadyNs <= deadline) notReadyNs += NODE_MONITOR_PERIOD_NS;
  return { lastHeartbeatNs, notReadyNs, evictNs: notReadyNs + UNREACHABLE_TOLERATION_NS };
}
