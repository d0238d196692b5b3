/**
 * Policy sweeps (docs/policies.md, "Sweeps"): a workload under each policy at each oversubscription
 * level, one fresh simulated machine per configuration, synchronously and deterministically. The CLI
 * (`hmmsim sweep`) spreads configurations over worker threads and shards; this layer runs them.
 */

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
