/** Synthetic traffic through a simulated cluster: the load generator behind `dpsim load`. */
export {
  type AppliedChurn,
  applyChurn,
  CHURN_KINDS,
  type ChurnEvent,
  type ChurnKind,
  ChurnSpecError,
  parseChurnSpec,
} from './churn.js';
export { type FairnessSummary, fairness, jainIndex } from './fairness.js';
export {
  type BackendShare,
  type ConntrackOccupancy,
  LOAD_PORT_MAX,
  LOAD_PORT_MIN,
  LoadError,
  LoadGenerator,
  type LoadOptions,
  type LoadReport,
  runLoad,
  type ServiceDistribution,
} from './generator.js';
export {
  DEFAULT_ZIPF_EXPONENT,
  type FlowSampler,
  flowSampler,
  POPULARITY_LAWS,
  PopularityError,
  type PopularityLaw,
} from './popularity.js';
export { runSctpLoad, SctpLoadGenerator } from './sctp-generator.js';
export {
  SYNTHETIC_NODES,
  SYNTHETIC_SERVICE_PORT,
  SYNTHETIC_TARGET_PORT,
  SyntheticModelError,
  type SyntheticModelOptions,
  syntheticClusterIP,
  syntheticModel,
  withOneEndpointChanged,
} from './synthetic-model.js';
export { runUdpLoad, UdpLoadGenerator, type UdpLoadReport } from './udp-generator.js';
