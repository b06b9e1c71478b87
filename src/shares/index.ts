export { ebpfFrontendShares, randomSlotShare } from './ebpf.js';
export { formatShares } from './format.js';
export * from './fraction.js';
export { iptablesChainShares } from './iptables.js';
export { ipvsShares } from './ipvs.js';
export { nftChainShares, numgenIndexShare } from './nftables.js';
export { nodeShares, type ShareSource, shareProblem } from './node-shares.js';
export type { RuleShares, ServiceShares } from './types.js';
