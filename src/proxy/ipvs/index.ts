/** kube-proxy's IPVS mode: compiler, kernel IPVS model (schedulers, connection table, datapath) and renderers. */
export * from './compile.js';
export * from './conn-table.js';
export * from './datapath.js';
export * from './hash.js';
export * from './ip-vs.js';
export * from './ipsets.js';
export * from './iptables-rules.js';
export * from './node.js';
export * from './proto-states.js';
export * from './render.js';
export * from './schedulers.js';
export * from './service-table.js';
