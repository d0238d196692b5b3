/**
 * A completion: "this has happened", counted.
 *
 * complete() hands one completion to the first waiter (FIFO), or banks it in `done` if nobody
 * waits; completeAll() makes every current and future wait return at once, until reinit().
 * Handing over directly (instead of done++ then the waiter's done--) means a late-coming thread
 * cannot take a completion meant for one already asleep; the kernel allows either order, this
 * keeps the one that is always fair.
 *
 * @see kernel/sched/completion.c, include/linux/completion.h
 */

import { mightSleep } from './atomic.js';
import type { Task } from './task.js';
import { blockOn, current, type Thread, type Waitable, wakeThread } from './thread.js';
import { checkDuration } from './time.js';

/** `done` after completeAll(): UINT_MAX, never decremented. */
export const COMPLETION_DONE_ALL = 0xffffffff;

/**
 * struct completion: one thread waits until another says it is done.
 * @see kernel/sched/completion.c (Linux v5.3)
 */
export class Completion implements Waitable {
  /** The completion's name, for deadlock reports. */
  readonly name: string;
  private count = 0;
  private readonly waiters: Thread[] = [];
  private readonly point: string;

  constructor(name: string) {
    this.name = name;
    this.point = `wait_for_completion ${name}`;
  }

  /** Completions banked and not yet consumed (COMPLETION_DONE_ALL after completeAll). */
  get done(): number {
    return this.count;
  }

  /** Number of sleeping waiters. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** reinit_completion */
  reinit(): void {
    this.count = 0;
  }

  /** completion_done(): true if a wait would not sleep. */
  completionDone(): boolean {
    return this.count > 0;
  }

  /** try_wait_for_completion: consume one if available, never sleeps. */
  tryWaitForCompletion(): boolean {
    if (this.count === 0) return false;
    if (this.count !== COMPLETION_DONE_ALL) this.count--;
    return true;
  }

  /**
   * wait_for_completion(): consumes one completion, sleeping until there is one.
   * @see kernel/sched/completion.c (Linux v5.3)
   */
  *waitForCompletion(): Task {
    mightSleep(this.point);
    if (this.tryWaitForCompletion()) return;
    blockOn(current(), this, this.waiters);
    yield this.point;
    // complete() handed us one
  }

  /** wait_for_completion_timeout: 0 if it timed out, else the remaining ns (>= 1). */
  *waitForCompletionTimeout(ns: number): Task<number> {
    checkDuration('ns', ns);
    mightSleep(this.point);
    if (this.tryWaitForCompletion()) return Math.max(1, ns);
    if (ns === 0) return 0;
    const t = current();
    const deadline = t.executor.nowNs + ns;
    blockOn(t, this, this.waiters);
    t.timerAtNs = deadline;
    t.timedOut = false;
    yield this.point;
    if (t.timedOut) {
      t.timedOut = false;
      return 0;
    }
    return Math.max(1, deadline - t.executor.nowNs);
  }

  /** complete: wake the first waiter with one completion, or bank it. */
  complete(): void {
    const w = this.waiters.shift();
    if (w !== undefined) {
      wakeThread(w);
      return;
    }
    if (this.count !== COMPLETION_DONE_ALL) this.count++;
  }

  /** complete_all */
  completeAll(): void {
    this.count = COMPLETION_DONE_ALL;
    const w = this.waiters;
    for (let i = 0; i < w.length; i++) wakeThread(w[i]!);
    w.length = 0;
  }

  describeWait(_t: Thread): string {
    return `completion ${this.name}`;
  }
}
