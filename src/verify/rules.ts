/**
 * dpsim's rules for one node, as text a real kernel loads: the `iptables-save` dump of the
 * tables kube-proxy leaves after its first full sync (restored with `iptables-restore`), or
 * the `table ip kube-proxy` that `nft -f` loads — and for the IPv6 proxier of a dual-stack
 * node, its `ip6tables-save` dump (`ip6tables-restore`) or its `table ip6 kube-proxy`.
 */
import type { ProxyModel } from '../proxy/common/model.js';
import { compileIptables, renderIptablesSave } from '../proxy/iptables/index.js';
import { compileNftables, renderTable } from '../proxy/nftables/index.js';
import type { VerifyFamily } from './family.js';
import type { KernelMode } from './prerequisites.js';

/** A post-processing hook on the rendered text (tests use it to plant a deliberate bug). */
export type RuleTransform = (nodeName: string, text: string) => string;

/** `model` is the family's own (the IPv6 model for 'ipv6'), as the IPv6 proxier compiles it. */
export function renderNodeRules(
  model: ProxyModel,
  nodeName: string,
  mode: KernelMode,
  family: VerifyFamily = 'ipv4',
): string {
  const ipv6 = family === 'ipv6';
  if (mode === 'iptables')
    return renderIptablesSave(compileIptables(model, nodeName, ipv6 ? { ipv6 } : {}).ruleset, { ipv6 });
  return renderTable(compileNftables(model, nodeName, ipv6 ? { family: 'ip6' } : {}));
}
