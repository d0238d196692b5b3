import { ArgumentError } from '../../core/errno.js';
import type { Thread } from '../thread.js';
import { indexOfThread, type Strategy } from './strategy.js';

/**
 * Exhaustive, stateless search of every schedule with at most `preemptionsMax` preemptions
 * (iterative context bounding, Musuvathi & Qadeer, PLDI'07, as in CHESS).
 *
 * Nothing of the program state is saved: each execution re-runs the scenario from scratch and
 * replays the recorded prefix of decisions, then takes the non-preempting choice at every new
 * decision. nextExecution() backtracks to the deepest decision with an untried alternative within
 * the preemption budget. The scenario must be deterministic: if a replayed decision sees a different
 * runnable set (or the run ends before the prefix does) an Error says so.
 *
 *   const dfs = new DfsStrategy(2);
 *   while (dfs.nextExecution()) { build a fresh scenario; new Executor({ strategy: dfs }).run(); }
 *
 * Decisions are kept as parallel number arrays so a decision allocates nothing.
 */
export class DfsStrategy implements Strategy {
  /** Preemption bound: schedules with more preemptions are not explored. */
  readonly preemptionsMax: number;
  private started = false;
  private execs = 0;
  /** Next decision of the current execution. */
  private pos = 0;
  private readonly choice: number[] = [];
  /** Index of the thread that just ran if it is runnable (choosing another is a preemption), else -1. */
  private readonly curIdx: number[] = [];
  private readonly count: number[] = [];
  private readonly preBefore: number[] = [];
  private readonly idsStart: number[] = [];
  private readonly ids: number[] = [];

  constructor(preemptionsMax: number) {
    if (!(preemptionsMax >= 0))
      throw new ArgumentError('preemptionsMax', `expected >= 0, got ${preemptionsMax}`);
    this.preemptionsMax = preemptionsMax;
  }

  /** Executions started so far (including the current one). */
  get executions(): number {
    return this.execs;
  }

  /** Decisions in the current schedule. */
  get depth(): number {
    return this.choice.length;
  }

  /** The choice (an index into the runnable threads) of decision i of the current schedule. */
  choiceAt(i: number): number {
    return this.choice[i] ?? -1;
  }

  /**
   * Skips every schedule that shares the current schedule's first `depth` decisions and is not yet
   * run: the next execution backtracks above that depth (sharding gives such a subtree to another
   * process).
   */
  skipSubtree(depth: number): void {
    if (depth < this.choice.length) this.truncate(depth);
  }

  /** Starts the next execution; false once every schedule within the bound has been run. */
  nextExecution(): boolean {
    if (!this.started) {
      this.started = true;
      this.execs = 1;
      this.pos = 0;
      return true;
    }
    if (this.pos < this.choice.length) {
      throw new Error(
        `DfsStrategy: the scenario is nondeterministic: the last execution made ${this.pos} decisions ` +
          `but the same schedule made ${this.choice.length} before`,
      );
    }
    for (let i = this.choice.length - 1; i >= 0; i--) {
      const alt = this.alternative(i);
      if (alt >= 0) {
        this.choice[i] = alt;
        this.truncate(i + 1);
        this.pos = 0;
        this.execs++;
        return true;
      }
    }
    this.truncate(0);
    return false;
  }

  pick(runnable: readonly Thread[], current: Thread | null): number {
    if (!this.started) {
      this.started = true;
      this.execs = 1;
    }
    const i = this.pos++;
    const cur = indexOfThread(runnable, current);
    if (i < this.choice.length) {
      this.checkSame(i, runnable, cur);
      return this.choice[i]!;
    }
    const first = Math.max(cur, 0);
    let pre = 0;
    if (i > 0) {
      const p = i - 1;
      pre = this.preBefore[p]! + (this.curIdx[p]! >= 0 && this.choice[p] !== this.curIdx[p] ? 1 : 0);
    }
    this.choice.push(first);
    this.curIdx.push(cur);
    this.count.push(runnable.length);
    this.preBefore.push(pre);
    this.idsStart.push(this.ids.length);
    for (let k = 0; k < runnable.length; k++) this.ids.push(runnable[k]!.id);
    return first;
  }

  /**
   * The next untried choice at decision i, or -1. Order: the non-preempting choice first, then the
   * others by index; the others are preemptions when the current thread was runnable.
   */
  private alternative(i: number): number {
    const cur = this.curIdx[i]!;
    if (cur >= 0 && this.preBefore[i]! + 1 > this.preemptionsMax) return -1;
    const first = Math.max(cur, 0);
    const c = this.choice[i]!;
    let next = c === first ? 0 : c + 1;
    if (next === first) next++;
    return next < this.count[i]! ? next : -1;
  }

  private checkSame(i: number, runnable: readonly Thread[], cur: number): void {
    const start = this.idsStart[i]!;
    let same = runnable.length === this.count[i] && cur === this.curIdx[i];
    for (let k = 0; same && k < runnable.length; k++) same = this.ids[start + k] === runnable[k]!.id;
    if (same) return;
    const before = this.ids.slice(start, start + this.count[i]!).join(', ');
    throw new Error(
      `DfsStrategy: the scenario is nondeterministic: at decision ${i} of execution ${this.execs} the ` +
        `runnable thread ids are [${runnable.map((t) => t.id).join(', ')}] (current index ${cur}) but an ` +
        `earlier execution with the same schedule had [${before}] (current index ${this.curIdx[i]})`,
    );
  }

  private truncate(n: number): void {
    const idsLen = n < this.choice.length ? this.idsStart[n]! : this.ids.length;
    this.choice.length = n;
    this.curIdx.length = n;
    this.count.length = n;
    this.preBefore.length = n;
    this.idsStart.length = n;
    this.ids.length = idsLen;
  }
}
