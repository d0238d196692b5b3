/**
 * Policy sweeps (docs/policies.md, "Sweeps"): a workload under each policy at each oversubscription
 * level, one fresh simulated machine per configuration, synchronously and deterministically. The CLI
 * (`hmmsim sweep`) spreads configurations over worker threads and shards; this layer runs them.
 */

export type { SweepPoint, SweepRecord, SweepSettings } from '../schema/sweep.js';
export { SWEEP_SCHEMA_VERSION } from '../schema/sweep.js';
export * from '../workload/patterns/index.js';
export * from '../workload/trace/index.js';
export { replayKernel } from './kernel.js';
export { mergeSweepRecords } from './merge.js';
export {
  policyMetrics,
  type RunSweepOptions,
  runSweep,
  runSweepPoint,
  sweepDevicePages,
  sweepRecord,
} from './run.js';
export {
  type CheckedSweepSpec,
  checkSweepSpec,
  DEVICE_PAGES_MAX,
  footprintPages,
  OVERSUBSCRIPTION_MAX,
  SWEEP_DEFAULTS,
  type SweepConfiguration,
  type SweepSpec,
  type SweepTrace,
  shardConfigurations,
  sweepConfigurations,
  sweepSettings,
  sweepWorkload,
} from './spec.js';
