/** The eBPF-like (Cilium/Katran-style) proxy mode: Maglev, LB maps, compiler, datapath, renderers. */
export { renderCiliumCtList, renderCiliumServiceList } from './cilium-views.js';
export {
  compileEbpf,
  EbpfCompileError,
  EbpfLoadBalancer,
  type EbpfOptions,
  type FrontendKind,
  type FrontendPlan,
  type InstalledFrontend,
  type LbAlgorithmName,
  planServicePort,
  type SyncStats,
} from './compile.js';
export {
  CT_CLOSE_TIMEOUT,
  CT_CONNECTION_LIFETIME_NONTCP,
  CT_CONNECTION_LIFETIME_TCP,
  CT_SERVICE_LIFETIME_NONTCP,
  CT_SERVICE_LIFETIME_TCP,
  CT_SYN_TIMEOUT,
  CtLookupResult,
  CtValue,
} from './ct.js';
export { type DatapathCounters, type DatapathOptions, EbpfDatapath } from './datapath.js';
export { DROP_REASONS, DropReason, dropReasonName, dropReasonText } from './drop.js';
export {
  ciliumMaglevHashV4,
  ciliumMaglevHashV6,
  jhash2words,
  jhash3words,
  jhashBytes,
  murmur3x64x128,
  rawBe16,
  rawBe32,
} from './hash.js';
export { BackendState, CtEntryFlag, LbAlgorithm, LbScope, SvcFlag, SvcFlag2, TupleFlag } from './layouts.js';
export {
  CILIUM_DEFAULT_MAP_SIZES,
  type CtMapKind,
  DEFAULT_MAP_SIZES,
  type LbMapSizes,
  LbMaps,
} from './lbmaps.js';
export {
  ciliumBackendKey,
  DEFAULT_MAGLEV_HASH_SEED,
  DEFAULT_MAGLEV_TABLE_SIZE,
  MAGLEV_TABLE_SIZES,
  MaglevError,
  type MaglevSeeds,
  maglevLookupTable,
  maglevOffsetSkip,
  parseMaglevSeed,
  populateMaglev,
} from './maglev.js';
export { NatValue, SNAT_COLLISION_RETRIES, SNAT_PORT_MAX, SNAT_PORT_MIN } from './nat.js';
export {
  dumpMaps,
  formatBpftoolJson,
  formatBpftoolPlain,
  type MapDump,
  renderBpftoolDump,
  renderBpftoolJson,
  renderCiliumLbList,
  serviceFlagsString,
} from './render.js';
