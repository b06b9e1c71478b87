/** eBPF-style maps over typed arrays and the flow hash. */
export { BpfArrayMap } from './array-map.js';
export {
  BPF_ANY,
  BPF_EXIST,
  BPF_NOEXIST,
  E2BIG,
  EEXIST,
  EINVAL,
  ENOENT,
  ENOSPC,
  errnoName,
  MapConfigError,
} from './errno.js';
export {
  FLOW_HASH_SEED,
  fastHash4,
  flowHashSymmetric,
  fmix32,
  hashWords,
  hashWords4,
  packPorts,
} from './flow-hash.js';
export { BpfHashMap, BpfLruHashMap, type HashMapOptions } from './hash-map.js';
export { BpfInlineHashMap, type InlineHashMapOptions, LOOKUP_SKIP } from './inline-hash-map.js';
export { BpfLpmTrie } from './lpm-trie.js';
