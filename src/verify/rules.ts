/**
 * dpsim's rules for one node, as text a real kernel loads: the `iptables-save` dump of the
 * tables kube-proxy leaves after its first full sync (restored with `iptables-restore`), or
 * the `table ip kube-proxy` that `nft -f` loads.
 */
import type { ProxyModel } from '../proxy/common/model.js';
import { compileIptables, renderIptablesSave } from '../proxy/iptables/index.js';
import { compileNftables, renderTable } from '../proxy/nftables/index.js';
import type { KernelMode } from './prerequisites.js';

/** A post-processing hook on the rendered text (tests use it to plant a deliberate bug). */
export type RuleTransform = (nodeName: string, text: string) => string;

export function renderNodeRules(model: ProxyModel, nodeName: string, mode: KernelMode): string {
  if (mode === 'iptables') return renderIptablesSave(compileIptables(model, nodeName).ruleset);
  return renderTable(compileNftables(model, nodeName));
}
