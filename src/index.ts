/**
 * hmmsim's public API. The names below are the test-facing contract of DESIGN.md; the layers
 * (core, sched, mm) are exported too for driver authors and tools.
 */

export * as check from './check/index.js';
export * from './core/index.js';
export {
  COST_PROFILES,
  type CostProfile,
  costModelTerms,
  type TraceEvent,
  type TraceKind,
} from './device/cost.js';
export type { DeviceCounters } from './device/device.js';
export * as device from './device/index.js';
export {
  type DeviceKernel,
  type DeviceKernelContext,
  DeviceKernelFault,
  type LaunchOptions,
} from './device/kernel.js';
export * as dmirror from './drivers/dmirror/index.js';
export {
  checkPolicy,
  type DeviceFaultInfo,
  type MigrationPolicy,
  POLICY_NONE,
  POLICY_PAGE,
  parsePolicy,
  policyBlock,
} from './drivers/dmirror/policy.js';
export * from './drivers/dmirror/uapi.js';
export type { Driver, DriverContext, DriverView } from './drivers/driver.js';
export { DriverRegistry } from './drivers/registry.js';
export * from './explore/index.js';
export * as hmm from './hmm/index.js';
export * as mm from './mm/index.js';
export { MADV_DONTNEED, MADV_NORMAL, MADV_POPULATE_READ, MADV_POPULATE_WRITE } from './mm/madvise.js';
export {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_LOCKED,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from './mm/mmap.js';
export * from './sched/index.js';
export { DeviceFile, DeviceFileTasks } from './sim/devicefile.js';
export type { PteInfo, Rss, VmaInfo } from './sim/process.js';
export { Process, ProcessTasks } from './sim/process.js';
export { SimFile } from './sim/simfile.js';
export type { PageInfo, SimTracepoints, SimulatorOptions } from './sim/simulator.js';
export { Simulator } from './sim/simulator.js';
