/**
 * The executor: runs threads (generators) one step at a time under a scheduling strategy.
 *
 * One step = one gen.next() of one thread, i.e. the code between two of its yields. The loop
 * collects the runnable threads, asks the strategy only when more than one can run (recording the
 * choice for the replay string), and resumes the chosen one. Blocking primitives mark a thread
 * blocked and yield; whoever wakes it marks it runnable. When nothing can run, virtual time jumps
 * to the earliest timer; with no timer either, the unfinished threads are deadlocked.
 *
 * The hot loop allocates nothing of its own (the generator's iterator result aside): the
 * runnable list and the choice list are reused, and no string is built unless an EventLog is
 * attached or something failed.
 *
 * An Executor is one execution of a scenario. run() may be called again after more spawns (runTask
 * does that); it continues the same execution, so steps, preemptions and replay in a RunResult
 * and the stepsMax budget count from the executor's creation.
 *
 * @see kernel/sched/core.c (__schedule), Documentation/scheduler/
 */

import { KernelBug } from '../core/assert.js';
import { ArgumentError } from '../core/errno.js';
import type { EventLog } from '../core/eventlog.js';
import { sleepInAtomicBug } from './atomic.js';
import { currentRecorder, type FootprintRecorder, setRecorder, touchObject } from './dependency.js';
import { describeHeld, describeHeldLong, describeSite, LockdepBug, LockdepGraph } from './lockdep.js';
import { encodeReplay } from './replay.js';
import { RunToCompletion } from './strategy/runToCompletion.js';
import type { Strategy } from './strategy/strategy.js';
import type { Task } from './task.js';
import { currentOrNull, removeFromList, setCurrent, Thread, wakeObjectName } from './thread.js';

/** How an Executor schedules, logs and checks one execution; every field is optional. */
export interface ExecutorOptions {
  /** Default: RunToCompletion. */
  strategy?: Strategy;
  /** Default 10_000_000; exceeding it = status 'step-limit'. */
  stepsMax?: number;
  /** Every step is recorded (thread name + point), plus 'exit' when a thread returns. */
  log?: EventLog;
  /** Shared across executors of one Simulator so lock orders persist; default a new graph. */
  lockdep?: LockdepGraph;
  /**
   * Called after every step with the thread that took it and the label of that step (the point
   * the thread had yielded before it: what the step touched; '<start>' for a thread's first step).
   * For invariant checkers: if it throws, the run stops with status 'failed', `failure.thread` the
   * thread that took the step and `failure.error` what was thrown; the thread itself is left as it
   * was. Unset, it costs one comparison per step.
   */
  onStep?: StepHook;
}

/** See ExecutorOptions.onStep. */
export type StepHook = (thread: Thread, point: string) => void;

/** Per-thread options for Executor.spawn. */
export interface SpawnOptions {
  /** A kthread that may stay blocked or sleeping forever without counting as a deadlock. */
  daemon?: boolean;
}

/**
 * How a run ended: every non-daemon thread finished, no thread could run ('deadlock'), the stepsMax
 * budget ran out ('step-limit'), or a thread or the onStep hook threw ('failed').
 */
export type RunStatus = 'done' | 'deadlock' | 'step-limit' | 'failed';

/** What run() returns. Counts are since the Executor was created (see the file comment). */
export interface RunResult {
  /** How the run ended; 'done' only when every non-daemon thread returned. */
  status: RunStatus;
  /** Steps taken: gen.next() calls, one per thread step. */
  steps: number;
  /** Decisions that switched away from a thread that could have continued. */
  preemptions: number;
  /** 'hmm1:...'; ReplayStrategy(replay) on the same scenario reproduces the run exactly. */
  replay: string;
  /** For 'failed': the first thread that threw (or broke a rule), its error and message. */
  failure: null | {
    /** Name of the thread that threw or broke a rule. */
    thread: string;
    /** What was thrown (a KernelBug, LockdepBug or any other value). */
    error: unknown;
    /** One line for humans, naming the thread and the error. */
    message: string;
  };
  /** For 'deadlock': every unfinished thread, what it waits for and the locks it holds. */
  deadlock: null | {
    /** The DeadlockError text: every stuck thread with its wait and its held locks. */
    message: string;
    /** One row per unfinished non-daemon thread. */
    threads: Array<{
      /** Thread name as given to spawn(). */
      name: string;
      /** What the thread blocks on (a lock, a completion, a wait queue). */
      waitingFor: string;
      /** Locks the thread holds, outermost first. */
      holds: string[];
    }>;
  };
}

/** No thread can run, no timer is armed, and some thread has not finished. */
export class DeadlockError extends KernelBug {
  constructor(message: string) {
    super(message, 'DEADLOCK');
    this.name = 'DeadlockError';
  }
}

/** The run took more than stepsMax steps: a livelock or an endless loop. */
export class StepLimitError extends KernelBug {
  constructor(message: string) {
    super(message, 'LIVELOCK');
    this.name = 'StepLimitError';
  }
}

/** Default step budget of an Executor (gen.next() calls) before it reports 'step-limit'. */
export const STEPS_MAX_DEFAULT = 10_000_000;

/**
 * Runs generator threads one step at a time under a Strategy: the simulator's scheduler (see the file
 * comment).
 * @see kernel/sched/core.c (__schedule), v6.19
 */
export class Executor {
  /** Picks the next thread whenever more than one can run. */
  readonly strategy: Strategy;
  /** Step budget for the whole execution; past it run() returns 'step-limit'. */
  readonly stepsMax: number;
  /** Where every step is recorded, or null when not logging. */
  readonly log: EventLog | null;
  /** Lock-order graph the lock primitives report acquisitions to. */
  readonly lockdep: LockdepGraph;
  /** Invariant check called after every step, or null. */
  readonly onStep: StepHook | null;
  private readonly all: Thread[] = [];
  /** Threads not done or failed, by id. */
  private readonly live: Thread[] = [];
  /** Reused each step. */
  private readonly runnable: Thread[] = [];
  private readonly choices: number[] = [];
  /** Live threads that are not daemons. */
  private pending = 0;
  private now = 0;
  private stepCount = 0;
  private preemptionCount = 0;
  /** The thread that took the last step. */
  private last: Thread | null = null;
  /**
   * @internal bumped whenever a thread becomes runnable (spawn, wake-up, timer): while it stands
   * still, the runnable list changes only by the thread that stepped, so the loop need not rescan.
   */
  wakeups = 0;
  private running = false;
  private begun = false;
  private failure: RunResult['failure'] = null;

  constructor(opts: ExecutorOptions = {}) {
    const stepsMax = opts.stepsMax ?? STEPS_MAX_DEFAULT;
    if (!(stepsMax >= 0)) throw new ArgumentError('stepsMax', `expected >= 0, got ${stepsMax}`);
    this.strategy = opts.strategy ?? new RunToCompletion();
    this.stepsMax = stepsMax;
    this.log = opts.log ?? null;
    this.lockdep = opts.lockdep ?? new LockdepGraph();
    this.onStep = opts.onStep ?? null;
  }

  /** Virtual time in ns. */
  get nowNs(): number {
    return this.now;
  }

  /** Steps taken since the executor was created. */
  get steps(): number {
    return this.stepCount;
  }

  /** Preemptions since creation: switches away from a thread that could have continued. */
  get preemptions(): number {
    return this.preemptionCount;
  }

  /** Every thread spawned, by id. */
  get threads(): readonly Thread[] {
    return this.all;
  }

  /** Creates a runnable thread; allowed before run() and from a running thread. */
  spawn<T>(name: string, body: Task<T>, opts: SpawnOptions = {}): Thread {
    if (body === null || typeof body !== 'object' || typeof (body as Task<T>).next !== 'function') {
      throw new ArgumentError(
        'body',
        'expected a generator object: call the generator function, spawn(name, fn())',
      );
    }
    const t = new Thread(this, this.all.length, name, body, opts.daemon ?? false);
    this.wakeups++;
    if (currentRecorder() !== null) {
      // spawned by a running step: that step orders the new thread's first one
      touchObject(wakeObjectName(t));
      t.woken = true;
    }
    this.all.push(t);
    this.live.push(t);
    if (!t.daemon) this.pending++;
    return t;
  }

  /**
   * Runs until every non-daemon thread is done and no daemon is runnable, or until a deadlock,
   * the step limit or a thread failure. The first failure stops the run; the failed thread's locks
   * stay held (as after an oops), and the other threads stay where they were.
   */
  run(): RunResult {
    if (this.running) throw new KernelBug('BUG: Executor.run() called while it is running');
    if (!this.begun) {
      this.begun = true;
      this.strategy.beginExecution?.();
    }
    const saved = currentOrNull();
    this.running = true;
    this.failure = null;
    let status: RunStatus;
    try {
      status = this.loop();
    } finally {
      this.running = false;
      setCurrent(saved);
    }
    return this.result(status);
  }

  /** spawn + run + unwrap: body's value; rethrows a thread's error; DeadlockError, StepLimitError. */
  runTask<T>(name: string, body: Task<T>): T {
    const t = this.spawn(name, body);
    const r = this.run();
    if (r.status === 'failed') throw r.failure!.error;
    if (r.status === 'deadlock') throw new DeadlockError(r.deadlock!.message);
    if (r.status === 'step-limit') {
      throw new StepLimitError(
        `step limit reached: ${r.steps} steps (stepsMax ${this.stepsMax}) while running ${name}`,
      );
    }
    return t.result as T;
  }

  private loop(): RunStatus {
    const runnable = this.runnable;
    const strategy = this.strategy;
    const onStep = this.onStep;
    const recorder = strategy.recorder ?? null;
    // the runnable list as of `seen` wake-ups, and where in it the last step's thread was
    let seen = -1;
    let at = -1;
    for (;;) {
      let n: number;
      if (seen === this.wakeups && at >= 0) n = this.dropIfStopped(at);
      else {
        seen = this.wakeups;
        n = this.refill();
      }
      if (n === 0) {
        if (this.pending === 0) return 'done';
        if (this.fireTimers()) continue;
        return 'deadlock';
      }
      if (this.stepCount >= this.stepsMax) return 'step-limit';
      let t: Thread;
      if (n === 1) {
        t = runnable[0]!;
        at = 0;
      } else {
        const idx = strategy.pick(runnable, this.last);
        if (!(idx >= 0 && idx < n) || !Number.isInteger(idx)) {
          throw new Error(`strategy returned ${idx}, not an index into ${n} runnable threads`);
        }
        this.choices.push(idx);
        t = runnable[idx]!;
        at = idx;
        const last = this.last;
        if (last !== null && last !== t && last.state === 'runnable') this.preemptionCount++;
      }
      this.last = t;
      if (recorder !== null) {
        if (!this.recordedStep(recorder, t, runnable, onStep)) return 'failed';
        continue;
      }
      if (onStep === null) {
        if (!this.step(t)) return 'failed';
      } else {
        const label = t.lastPoint;
        if (!this.step(t) || !this.observe(onStep, t, label)) return 'failed';
      }
    }
  }

  /** Collects the runnable threads in id order, in place; returns how many. */
  private refill(): number {
    const runnable = this.runnable;
    const live = this.live;
    let n = 0;
    for (let i = 0; i < live.length; i++) {
      const t = live[i]!;
      if (t.state === 'runnable') runnable[n++] = t;
    }
    // the length is assigned only when it changes (assigning it is slow in V8)
    if (runnable.length !== n) runnable.length = n;
    return n;
  }

  /**
   * With no wake-up since the last refill, only the thread that just stepped (at `at`) can have
   * stopped being runnable (blocked, slept, finished: each only ever done by the running thread to
   * itself); drops it if so. Returns how many are runnable.
   */
  private dropIfStopped(at: number): number {
    const runnable = this.runnable;
    if (runnable[at]!.state === 'runnable') return runnable.length;
    if (at === 0) runnable.shift();
    else {
      runnable.copyWithin(at, at + 1);
      runnable.length--;
    }
    return runnable.length;
  }

  /**
   * One step with its footprint recorded (a strategy with a recorder: dpor); the strategy sees it
   * even when the step or the step hook failed (the last event of the execution).
   */
  private recordedStep(
    recorder: FootprintRecorder,
    t: Thread,
    runnable: readonly Thread[],
    onStep: StepHook | null,
  ): boolean {
    const label = t.lastPoint;
    recorder.begin(this.strategy.replaying?.() === true);
    setRecorder(recorder);
    let ok: boolean;
    try {
      if (t.woken) {
        t.woken = false;
        touchObject(wakeObjectName(t));
      }
      ok = this.step(t);
    } finally {
      recorder.disarm();
      setRecorder(null);
    }
    // the checkers read after the step, outside its footprint: a step that touched no memory
    // leaves them the state they judged before it
    ok = ok && (onStep === null || this.observe(onStep, t, label));
    this.strategy.stepped?.(t, runnable, recorder.end());
    return ok;
  }

  /** Runs the step hook; false (and the run's failure set) if it threw. */
  private observe(onStep: StepHook, t: Thread, label: string): boolean {
    try {
      onStep(t, label);
      return true;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.failure = { thread: t.name, error: e, message };
      if (this.log !== null) this.log.record(this.now, t.name, `check failed: ${message}`);
      return false;
    }
  }

  /** One gen.next() of t; false if t failed. */
  private step(t: Thread): boolean {
    setCurrent(t);
    t.lastStep = ++this.stepCount;
    t.steps++;
    let r: IteratorResult<string, unknown>;
    try {
      r = t.gen.next();
    } catch (e) {
      return this.fail(t, e);
    }
    if (r.done === true) return this.finish(t, r.value);
    const point = r.value;
    t.lastPoint = point;
    if (this.log !== null) this.log.record(this.now, t.name, point);
    if (t.spinDepth !== 0 || t.nonBlockDepth !== 0) return this.atomicYield(t, point);
    return true;
  }

  /** A yield in atomic context: throw the BUG into the thread at that yield, then fail it. */
  private atomicYield(t: Thread, point: string): boolean {
    const bug = sleepInAtomicBug(t, point);
    try {
      t.gen.throw(bug);
    } catch {
      // expected: the thread does not catch it; either way the run fails with the BUG
    }
    return this.fail(t, bug);
  }

  private finish(t: Thread, value: unknown): boolean {
    if (t.heldLocks.length > 0) {
      return this.fail(
        t,
        new LockdepBug(
          `BUG: lock held when returning to user space!\n` +
            `${t.name} is exiting at ${describeSite(t.lastPoint, this.stepCount)} with locks still held:\n` +
            describeHeldLong(t),
        ),
      );
    }
    if (t.nonBlockDepth !== 0) {
      return this.fail(
        t,
        new KernelBug(`BUG: ${t.name} exits inside non_block_start() (depth ${t.nonBlockDepth})`),
      );
    }
    t.state = 'done';
    t.result = value;
    this.retire(t);
    if (this.log !== null) this.log.record(this.now, t.name, 'exit');
    return true;
  }

  private fail(t: Thread, e: unknown): false {
    t.state = 'failed';
    t.error = e;
    this.retire(t);
    const message = e instanceof Error ? e.message : String(e);
    this.failure = { thread: t.name, error: e, message };
    if (this.log !== null) this.log.record(this.now, t.name, `failed: ${message}`);
    return false;
  }

  private retire(t: Thread): void {
    removeFromList(this.live, t);
    if (!t.daemon) this.pending--;
    if (t.waitList !== null) removeFromList(t.waitList, t);
    t.waitList = null;
    t.timerAtNs = -1;
  }

  /** Advances virtual time to the earliest timer and wakes every thread due then; false if none. */
  private fireTimers(): boolean {
    let min = Number.POSITIVE_INFINITY;
    for (const t of this.live) if (t.timerAtNs >= 0 && t.timerAtNs < min) min = t.timerAtNs;
    if (min === Number.POSITIVE_INFINITY) return false;
    if (min > this.now) this.now = min;
    for (const t of this.live) {
      if (t.timerAtNs !== min) continue;
      if (t.waitList !== null) removeFromList(t.waitList, t);
      t.waitList = null;
      t.waitingOn = null;
      t.timerAtNs = -1;
      t.timedOut = true;
      t.state = 'runnable';
    }
    this.wakeups++;
    return true;
  }

  private result(status: RunStatus): RunResult {
    return new ExecutorResult(
      status,
      this.stepCount,
      this.preemptionCount,
      this.choices,
      status === 'failed' ? this.failure : null,
      status === 'deadlock' ? this.deadlockReport() : null,
    );
  }

  private deadlockReport(): NonNullable<RunResult['deadlock']> {
    const threads: Array<{ name: string; waitingFor: string; holds: string[] }> = [];
    const lines: string[] = [];
    for (const t of this.live) {
      const waitingFor = t.waitingOn !== null ? t.waitingOn.describeWait(t) : t.state;
      const holds = describeHeld(t);
      threads.push({ name: t.name, waitingFor, holds });
      lines.push(
        `  ${t.name} is blocked at ${describeSite(t.lastPoint, t.lastStep)} waiting for ${waitingFor}`,
      );
      lines.push(`  ${t.name} holds:\n  ${describeHeldLong(t).replace(/\n/g, '\n  ')}`);
    }
    const message =
      `deadlock: no thread can run and no timer is armed; ${threads.length} thread(s) blocked forever ` +
      `at virtual time ${this.now} ns after ${this.stepCount} steps:\n${lines.join('\n')}`;
    return { message, threads };
  }
}

/**
 * A RunResult whose replay string is encoded on first read: the explorer reads it only for failing
 * runs. A class, not a literal with a getter: the literal's getter closure would get a fresh hidden
 * class per run, allocated old, which keeps each run's executor alive through every minor GC. The
 * getter is on the prototype, so a spread or JSON copy has no `replay`: read it.
 */
class ExecutorResult implements RunResult {
  readonly #choices: number[];
  readonly #count: number;
  #replay: string | null = null;

  constructor(
    readonly status: RunStatus,
    readonly steps: number,
    readonly preemptions: number,
    choices: number[],
    readonly failure: RunResult['failure'],
    readonly deadlock: RunResult['deadlock'],
  ) {
    this.#choices = choices;
    this.#count = choices.length;
  }

  get replay(): string {
    if (this.#replay === null) this.#replay = encodeReplay(this.#choices, this.#count);
    return this.#replay;
  }
}
