export { mightSleep, nonBlockEnd, nonBlockStart, sleepInAtomicBug } from './atomic.js';
export { COMPLETION_DONE_ALL, Completion } from './completion.js';
export {
  declareStep,
  dependent,
  describeFootprint,
  type Footprint,
  FootprintError,
  FootprintRecorder,
  MemKind,
  memAdd,
  memObject,
  memRead,
  memWrite,
  namedAdd,
  namedRead,
  namedWrite,
  nameForFootprints,
  noteMemory,
  objectId,
  objectName,
  recordingMemory,
  type StepWatch,
  touchObject,
  whyDependent,
} from './dependency.js';
export {
  DeadlockError,
  Executor,
  type ExecutorOptions,
  type RunResult,
  type RunStatus,
  type SpawnOptions,
  STEPS_MAX_DEFAULT,
  type StepHook,
  StepLimitError,
} from './executor.js';
export {
  LockdepBug,
  LockdepGraph,
  type LockEdge,
  type LockTraceEvent,
  type LockTracepoints,
} from './lockdep.js';
export { type LockOptions, Mutex } from './mutex.js';
export { decodeReplay, encodeReplay, REPLAY_PREFIX } from './replay.js';
export { RwSem } from './rwsem.js';
export { type ShrinkResult, sameFailure, shrink } from './shrink.js';
export { SpinLock } from './spinlock.js';
export { DfsStrategy } from './strategy/dfs.js';
export { type DporOptions, DporStrategy, isPreemption, sleepAfterStep } from './strategy/dpor.js';
export { PctStrategy } from './strategy/pct.js';
export { RandomStrategy } from './strategy/random.js';
export { type ReplayOptions, ReplayStrategy } from './strategy/replay.js';
export { RunToCompletion } from './strategy/runToCompletion.js';
export { continueChoice, indexOfThread, type Strategy } from './strategy/strategy.js';
export type { Task } from './task.js';
export { current, currentOrNull, Thread, type ThreadState } from './thread.js';
export { msleep, NSEC_PER_MSEC, NSEC_PER_SEC, NSEC_PER_USEC, schedule, sleepNs } from './time.js';
export { WaitQueue } from './waitqueue.js';
export { Workqueue, WorkStruct } from './workqueue.js';
