/**
 * Drop reasons of the eBPF-like datapath (its programs answer with the shared TcAction). Drop reason numbers and texts are
 * Cilium's (`bpf/lib/common.h` DROP_* = −reason, texts from `pkg/monitor/api/drop.go`), so a
 * `cilium-dbg monitor`-style trace reads the same.
 */

export const enum DropReason {
  NONE = 0,
  INVALID = 134,
  CT_INVALID_HDR = 135,
  CT_UNKNOWN_PROTO = 137,
  UNKNOWN_L4 = 142,
  CT_CREATE_FAILED = 155,
  FRAG_NOSUPPORT = 157,
  NO_SERVICE = 158,
  NAT_NO_MAPPING = 167,
  IS_CLUSTER_IP = 174,
  NOT_IN_SRC_RANGE = 177,
}

/** Cilium's names and monitor texts, for traces and counters dumps. */
export const DROP_REASONS: Readonly<Record<number, { readonly name: string; readonly text: string }>> = {
  134: { name: 'DROP_INVALID', text: 'Invalid packet' },
  135: { name: 'DROP_CT_INVALID_HDR', text: 'CT: Truncated or invalid header' },
  137: { name: 'DROP_CT_UNKNOWN_PROTO', text: 'CT: Unknown L4 protocol' },
  142: { name: 'DROP_UNKNOWN_L4', text: 'Unknown L4 protocol' },
  155: { name: 'DROP_CT_CREATE_FAILED', text: 'CT: Map insertion failed' },
  157: { name: 'DROP_FRAG_NOSUPPORT', text: 'IP fragmentation not supported' },
  158: { name: 'DROP_NO_SERVICE', text: 'Service backend not found' },
  167: { name: 'DROP_NAT_NO_MAPPING', text: 'No mapping for NAT masquerade' },
  174: { name: 'DROP_IS_CLUSTER_IP', text: 'Is a ClusterIP' },
  177: { name: 'DROP_NOT_IN_SRC_RANGE', text: 'Denied by LB src range check' },
};

export function dropReasonName(reason: number): string {
  return DROP_REASONS[reason]?.name ?? `DROP_${reason}`;
}

export function dropReasonText(reason: number): string {
  return DROP_REASONS[reason]?.text ?? String(reason);
}
