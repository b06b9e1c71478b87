/** kube-proxy's iptables mode: compiler, iptables-save renderer and parser, netfilter-style evaluator. */
export {
  base32Std,
  endpointChainName,
  hash16,
  portProtoHash,
  type ServiceChainNames,
  serviceChainNames,
} from './chain-names.js';
export {
  compileIptables,
  compileIptablesRestore,
  compileIptablesRuleset,
  IptablesCompileError,
  type IptablesCompileOptions,
  type IptablesCompileResult,
  type IptablesRestoreResult,
  isLargeClusterMode,
  isServiceChainName,
} from './compile.js';
export {
  IptablesEvaluator,
  type IptablesEvaluatorOptions,
  IptablesLoadError,
  type IptablesResult,
  type IptablesTraceEvent,
  type IptablesTraceSink,
  NatFlag,
  NfTable,
  newIptablesResult,
  tableId,
} from './evaluate.js';
export {
  ctime,
  formatFixed,
  formatKernelProbability,
  kubeProxyProbability,
  probabilityToKernel,
} from './format.js';
export {
  applyIptablesRestoreNoflush,
  IptablesParseError,
  type ParseResult,
  type ParseWarning,
  parseIptables,
  parseRuleSpec,
  type RuleContext,
  tokenize,
} from './parse.js';
export { RecentEntry, RecentTable } from './recent.js';
export {
  chainsInSaveOrder,
  formatRule,
  IPTABLES_SAVE_VERSION,
  type RuleCounterLookup,
  renderIptablesSave,
  renderTable,
  ruleSpecText,
  type SaveOptions,
  saveString,
} from './render.js';
export {
  IptablesSyncer,
  type IptablesSyncerOptions,
  type IptablesSyncKind,
  type IptablesSyncRecord,
} from './sync.js';
export * from './types.js';
