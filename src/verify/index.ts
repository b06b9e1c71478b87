/** Real-kernel differential testing: dpsim's rules in real netfilter vs dpsim's own dataplane. */
export {
  type Check,
  type CheckName,
  type CompareOptions,
  compareSides,
  DEFAULT_ALPHA,
  type GoodnessOfFit,
  homogeneity,
  outcomeSummary,
  type ProbeComparison,
  uniformFit,
  type VerifyReport,
} from './compare.js';
export {
  type ConntrackEntry,
  type NatShape,
  natShapeKey,
  natShapesFor,
  parseConntrack,
} from './conntrack-text.js';
export {
  type BuildSimulation,
  type BuildSimulationOptions,
  type CurlOutcome,
  classifyCurl,
  type DpsimSimulation,
  loadBuildSimulation,
  runDpsimSide,
} from './dpsim-side.js';
export {
  NetnsError,
  PrerequisiteError,
  RuleLoadError,
  ScenarioError,
  SimulationUnavailableError,
} from './errors.js';
export { type FamilyView, familyView, hostPort, VERIFY_FAMILIES, type VerifyFamily } from './family.js';
export { type KernelSideOptions, runKernelSide } from './kernel-side.js';
export { cleanupStaleNamespaces, listOwnNamespaces, NAMESPACE_PREFIX } from './lifecycle.js';
export { NetnsTopology, type TopologyNode, type TopologyPod, type TopologySpec } from './netns.js';
export {
  ObservationBuilder,
  OUTCOME_CLASSES,
  type OutcomeClass,
  type ProbeObservation,
  type SideName,
  type SideResult,
} from './observation.js';
export { type PlanOptions, type Probe, type ProbeKind, type ProbePlan, planProbes } from './plan.js';
export {
  chiSquareCritical,
  connectionsForPower,
  noncentralChiSquareSurvival,
  shareTestPower,
} from './power.js';
export { findTool, type KernelMode, missingKernelPrerequisites, requiredTools } from './prerequisites.js';
export { formatReport } from './report-text.js';
export { type RuleTransform, renderNodeRules } from './rules.js';
export {
  clusterFromManifests,
  connectTimeoutFor,
  MAX_CONNECTIONS,
  runKernelOnly,
  sampleSize,
  type VerifyOptions,
  verifyScenario,
} from './run.js';
