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
export * from './drivers/dmirror/uapi.js';
export * as dmirror from './drivers/dmirror_namespace.js';
export type {
  Driver,
  DriverContext,
  DriverContextBase,
  DriverFactory,
  DriverView,
  FaultService,
  HmmApi,
  ModernDriverContext,
  ModernDriverFactory,
} from './drivers/driver.js';
export { DriverRegistry } from './drivers/registry.js';
export * as testHmm from './drivers/test_hmm/index.js';
export * from './explore/index.js';
export * as hmm from './hmm/index.js';
export { THP_MODES, type ThpMode } from './mm/huge_memory.js';
export * as mm from './mm/index.js';
export type { KernelVersion } from './mm/kernel.js';
export {
  MADV_COLLAPSE,
  MADV_DONTNEED,
  MADV_FREE,
  MADV_HUGEPAGE,
  MADV_NOHUGEPAGE,
  MADV_NORMAL,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
} from './mm/madvise.js';
export {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_HUGETLB,
  MAP_LOCKED,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from './mm/mmap.js';
// -- modern generation: this export and the next are today's kernel API (mmu interval notifiers,
// mmu_notifier_range events and owner) on the same mm core; the seed (v5.3) API is `hmm` above.
export {
  MmuIntervalNotifier,
  type MmuIntervalNotifierOps,
  mmuIntervalCheckRetry,
  mmuIntervalNotifierInsert,
  mmuIntervalNotifierInsertLocked,
  mmuIntervalNotifierRemove,
  mmuIntervalReadBegin,
  mmuIntervalReadRetry,
  mmuIntervalSetSeq,
} from './mm/mmu_interval_notifier.js';
export {
  MMU_NOTIFY_CLEAR,
  MMU_NOTIFY_EVENT_NAMES,
  MMU_NOTIFY_EXCLUSIVE,
  MMU_NOTIFY_MIGRATE,
  MMU_NOTIFY_PROTECTION_PAGE,
  MMU_NOTIFY_PROTECTION_VMA,
  MMU_NOTIFY_RELEASE,
  MMU_NOTIFY_SOFT_DIRTY,
  MMU_NOTIFY_UNMAP,
  type MmuNotifierRange,
  mmuNotifierRangeInitOwner,
} from './mm/mmu_notifier.js'; // -- end of the modern generation
export { MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE } from './mm/mremap.js';
export { GUP_PIN_COUNTING_BIAS, HPAGE_PMD_NR, HPAGE_PMD_ORDER } from './mm/page.js';
export type { KfdAttributes, KfdLocation, KfdParams, KfdPolicy } from './policy/kfd.js';
export {
  type CpuFaultEvent,
  checkPolicy,
  type DeviceFaultInfo,
  type FaultBatchInfo,
  type MigrationCause,
  type MigrationEvent,
  type MigrationPolicy,
  type MovedPage,
  type PlannedMap,
  type PlannedMigration,
  type PlannedPin,
  type PlannedRemote,
  type PlannedStall,
  type PlannedThrottle,
  POLICY_NONE,
  POLICY_PAGE,
  type PolicyNote,
  type PolicyPlan,
  type PolicyRange,
  parsePolicy,
  policyBlock,
  type VictimCandidate,
  type VictimChoice,
  type VictimRequest,
} from './policy/policy.js';
export { POLICY_STATS_DESCRIPTIONS, type PolicyStats, policyStats } from './policy/stats.js';
export {
  type PolicyDecision,
  type PolicyDecisionKind,
  type PolicyRecording,
  type PolicyTracepoints,
  recordPolicyDecisions,
  whyDidPageMove,
} from './policy/trace.js';
export * from './sched/index.js';
export type { LockInstance, Waitable } from './sched/thread.js';
export type { TimelineEvent, TimelineKind } from './schema/events.js';
export type {
  ViewerChanges,
  ViewerCounters,
  ViewerCpuState,
  ViewerDevice,
  ViewerDeviceState,
  ViewerEventKind,
  ViewerEvents,
  ViewerInterleaving,
  ViewerLegend,
  ViewerPageInfo,
  ViewerRun,
  ViewerVmas,
} from './schema/viewer.js';
export { VIEWER_SCHEMA_VERSION } from './schema/viewer.js';
export { DeviceFile, DeviceFileTasks } from './sim/devicefile.js';
export type { PinnedPages, PinOptions, PteInfo, Rss, VmaInfo } from './sim/process.js';
export { Process, ProcessTasks } from './sim/process.js';
export { SimFile } from './sim/simfile.js';
export type { DeviceOptions, PageInfo, SimTracepoints, SimulatorOptions } from './sim/simulator.js';
export { Simulator } from './sim/simulator.js';
/** Policy sweeps: workload generators, trace readers, and one configuration run at a time (docs/policies.md). */
export * as sweep from './sweep/index.js';
export { VIEWER_EVENTS_MAX } from './viewer/columns.js';
export { StateCursor, undelta } from './viewer/decode.js';
export { type RecordedReplay, recordReplay } from './viewer/explore.js';
export { viewerHtml } from './viewer/page.js';
export {
  deviceFileSource,
  recordSimulator,
  type ViewerDeviceSource,
  type ViewerFinishOptions,
  ViewerRecorder,
  type ViewerRecorderOptions,
} from './viewer/recorder.js';
export {
  type RecordedSweepConfiguration,
  type RecordSweepOptions,
  recordSweepConfiguration,
  SWEEP_DIFF_BUDGET,
  sweepConfigurationByName,
  sweepConfigurationName,
} from './viewer/sweep.js';
