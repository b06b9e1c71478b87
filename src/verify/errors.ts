/** Errors of the real-kernel differential verification. */

/** Something the kernel harness needs is missing (root, a tool); `missing` lists each reason. */
export class PrerequisiteError extends Error {
  override name = 'PrerequisiteError';
  constructor(readonly missing: readonly string[]) {
    super(`cannot run the kernel verification: ${missing.join('; ')}`);
  }
}

/** A step of building, loading or probing the throw-away topology failed. */
export class NetnsError extends Error {
  override name = 'NetnsError';
}

/** The real kernel rejected dpsim's rules (`iptables-restore --test`, `iptables-restore`, `nft -c -f`, `nft -f`). */
export class RuleLoadError extends Error {
  override name = 'RuleLoadError';
  constructor(
    readonly node: string,
    readonly step: string,
    readonly stderr: string,
  ) {
    super(`node ${node}: ${step} rejected dpsim's rules: ${stderr.trim()}`);
  }
}

/** The dpsim side could not be run (the simulation module is missing or failed). */
export class SimulationUnavailableError extends Error {
  override name = 'SimulationUnavailableError';
}

/** The scenario cannot be verified (bad manifests, nothing to probe, too large). */
export class ScenarioError extends Error {
  override name = 'ScenarioError';
}
