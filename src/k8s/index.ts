/** Public API of dpsim's simulated Kubernetes control plane. */

export {
  type AllocResult,
  BitmapAllocator,
  ClusterIPAllocator,
  clusterIPStaticBand,
  ERR_FULL,
  ERR_IP_ALLOCATED,
  ERR_PORT_ALLOCATED,
  LoadBalancerIPPool,
  NodePortAllocator,
  nodePortStaticBand,
  parsePortRange,
} from './allocators.js';
export {
  type ApplyOutcome,
  type ApplyStatus,
  BOOTSTRAP_LEAD_SECONDS,
  Cluster,
  type ClusterCreateOptions,
  type ClusterEvent,
  DEFAULT_TERMINATION_GRACE_SECONDS,
  type EventResult,
  type KubeObject,
  resourceRef,
} from './cluster.js';
export {
  type ClusterConfig,
  type ClusterDocumentSpec,
  type ClusterOptions,
  type NodeConfig,
  ORIGIN_CLUSTER_DEFAULTS,
  PROXY_MODES,
  type ProxyMode,
  resolveClusterConfig,
} from './cluster-config.js';
export { type DnsAnswer, resolveDns } from './cluster-dns.js';
export {
  LABEL_HEADLESS,
  LABEL_MANAGED_BY,
  LABEL_SERVICE_NAME,
  MAX_ENDPOINTS_PER_SLICE,
  resolveTargetPort,
} from './controllers/endpointslice.js';
export {
  ApiError,
  ClusterConfigError,
  type FieldError,
  formatFieldError,
  InternalApiError,
  InvalidObjectError,
  ManifestError,
  NotFoundError,
} from './errors.js';
export {
  type ClusterLoadRequest,
  clusterOptionsFromFlags,
  loadClusterFromFiles,
  ManifestFileError,
} from './load-files.js';
export {
  applyManifests,
  type DocumentOutcome,
  DPSIM_API_VERSION,
  type LoadOptions,
  type LoadResult,
  loadManifests,
  type ManifestSource,
  parseManifests,
} from './manifests.js';
export { generateName, RAND_ALPHABET } from './names.js';
export {
  findResourceType,
  type GetRequest,
  type GetResult,
  humanDuration,
  type OutputFormat,
  RESOURCE_TYPES,
  renderTable,
  runGet,
} from './printers.js';
export { servicePortsOf, toProxyModel } from './proxy-model.js';
export { originDeploymentYaml, originNodePort31313Yaml, originScenarioYaml } from './scenarios/origin.js';
export { defaultService, validateService } from './service-validation.js';
