/** kube-proxy's nftables mode: compiler, `nft list` renderer and datapath evaluator. */

export { applyNftTransaction, NftTransactionError } from './apply.js';
export {
  CHAIN,
  compileNftables,
  NFT_LAYOUT_VERSION,
  NftCompileError,
  type NftCompileOptions,
  SET,
} from './compile.js';
export {
  NftDatapath,
  type NftDatapathOptions,
  NftEvaluateError,
  NftHookResult,
  type NftTraceSink,
  REJECT_ICMP_CODE,
  REJECT_ICMP_TYPE,
} from './evaluate.js';
export { NOT_FOUND, PairMap, TimeoutAddrSet } from './lookup-tables.js';
export {
  type EndpointNames,
  endpointChainNameBase,
  endpointNames,
  hashAndTruncate,
  type ServicePortChainNames,
  servicePortChainNameBase,
  servicePortChainNames,
} from './names.js';
export { renderDuration, renderPriority, renderRule, renderTable, renderVerdict } from './render.js';
export {
  NftablesSyncer,
  type NftablesSyncerOptions,
  type NftablesSyncKind,
  type NftablesSyncRecord,
  STALE_CHAIN_DELETE_DELAY_NS,
  serviceOfObject,
} from './sync.js';
export type * from './table.js';
