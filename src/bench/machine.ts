/** The machine a benchmark ran on, recorded with every result so figures can be compared. */
import { cpus } from 'node:os';

export interface MachineInfo {
  /** Logical CPUs the OS reports. */
  readonly cpus: number;
  readonly model: string;
  /** Node.js version (`process.version`). */
  readonly node: string;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return { cpus: list.length, model: list[0]?.model.trim() ?? 'unknown', node: process.version };
}
