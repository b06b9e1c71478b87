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
  IptablesCompileError,
  type IptablesCompileOptions,
  type IptablesCompileResult,
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
export * from './types.js';
