/** The race explorer: scenarios, drivers, explore() and replay(). See docs/explorer.md. */

export {
  type AllowRule,
  type DistinctViolation,
  parseAllow,
  SEED_RACE_ALLOW,
  ViolationLog,
  violationShape,
} from './allow.js';
export {
  DPOR_SPLIT_DEPTH,
  DPOR_SPLIT_DEPTH_UNBOUNDED,
  type DporSplitReport,
  SplitDpor,
} from './dpor_shard.js';
export {
  correctDmirror,
  dmirrorDevice,
  dmirrorVariant,
  ExploreDrivers,
} from './drivers.js';
export {
  EXPLORE_PREEMPTIONS_MAX,
  EXPLORE_SCHEDULES_MAX,
  EXPLORE_SECTION_PAGES,
  EXPLORE_STEPS_MAX,
  type ExploreObserver,
  type ExploreOptions,
  type ExploreReplayOptions,
  type ExploreReplayResult,
  type ExploreResult,
  type ExploreViolation,
  explore,
  replay,
  type StrategyName,
  violationOfResult,
} from './explore.js';
export { GENERATE_MAX, generatedByName, generateScenario, generateScenarios } from './generate.js';
export {
  EXPLORE_REPLAY_PREFIX,
  EXPLORE_REPLAY_PREFIX_V1,
  EXPLORE_REPLAY_PREFIX_V2,
  EXPLORE_REPLAY_V2_SEED,
  formatReplay,
  parseReplay,
  ReplayError,
  type ReplayOutcome,
  type ReplayParts,
} from './replaystring.js';
export {
  CpuAccess,
  DevAccess,
  type DriverFactory,
  type ExploreDevice,
  type MachineOptions,
  type Scenario,
  ScenarioContext,
  type ScenarioDriverFactory,
  type ThreadSpec,
} from './scenario.js';
export * from './scenarios.js';
export * from './scenarios_lifecycle.js';
export * from './scenarios_multi.js';
export {
  checkShard,
  mergeShards,
  parseShard,
  SHARD_DEPTH,
  ShardFilter,
  type ShardReport,
  type ShardSpec,
} from './shard.js';
export { terminalStateHash } from './terminal.js';
export { TRACE_WINDOW_ROWS } from './tracewindow.js';
