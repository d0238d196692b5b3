/**
 * A wait queue: sleep until a condition holds.
 *
 * waitEvent(cond) re-checks cond every time it is woken, so spurious and early wakeups are
 * harmless, exactly as the wait_event() loop is. Every waiter here is non-exclusive, so wakeUp()
 * wakes them all, as the kernel's wake_up() does for non-exclusive waiters (it only limits
 * exclusive ones, which this model does not have); wakeUpAll() is the same, for readability at call
 * sites that mean it. A waker need not be a simulated thread.
 *
 * Timeouts are virtual (see time.ts): a waitEventTimeout fires only when no thread can run.
 *
 * @see include/linux/wait.h (wait_event, wait_event_timeout, wake_up), kernel/sched/wait.c
 */

import { mightSleep } from './atomic.js';
import type { Task } from './task.js';
import { blockOn, current, type Thread, type Waitable, wakeThread } from './thread.js';
import { checkDuration } from './time.js';

/**
 * wait_queue_head_t: threads sleep on a condition until a wake_up finds it true.
 * @see include/linux/wait.h (Linux v5.3)
 */
export class WaitQueue implements Waitable {
  /** The queue's name, for deadlock reports. */
  readonly name: string;
  private readonly waiters: Thread[] = [];
  private readonly point: string;

  constructor(name: string) {
    this.name = name;
    this.point = `wait_event ${name}`;
  }

  /** Number of sleeping waiters. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** wait_event: returns at once if cond() holds, else sleeps until a wakeup finds it true. */
  *waitEvent(cond: () => boolean): Task {
    mightSleep(this.point);
    while (!cond()) {
      blockOn(current(), this, this.waiters);
      yield this.point;
    }
  }

  /**
   * The sleep of an open-coded wait_event loop (prepare_to_wait, then schedule): puts current() on
   * this queue and returns the point to yield; once resumed the caller re-checks its condition and
   * sleeps again while it is false, as waitEvent does. For a hot path that waits once per
   * operation, where a generator and a condition closure per wait cost more than the wait.
   */
  sleep(): string {
    mightSleep(this.point);
    blockOn(current(), this, this.waiters);
    return this.point;
  }

  /**
   * wait_event_timeout: 0 if cond() is still false when the timeout elapses, 1 if it became true
   * just as it elapsed, else the remaining ns (>= 1).
   */
  *waitEventTimeout(cond: () => boolean, timeoutNs: number): Task<number> {
    checkDuration('timeoutNs', timeoutNs);
    mightSleep(this.point);
    const t = current();
    const ex = t.executor;
    const deadline = ex.nowNs + timeoutNs;
    for (;;) {
      if (cond()) return Math.max(1, deadline - ex.nowNs);
      if (ex.nowNs >= deadline) return 0;
      blockOn(t, this, this.waiters);
      t.timerAtNs = deadline;
      t.timedOut = false;
      yield this.point;
      if (t.timedOut) {
        t.timedOut = false;
        return cond() ? 1 : 0;
      }
    }
  }

  /** wake_up: wakes every (non-exclusive) waiter; each re-checks its condition. */
  wakeUp(): void {
    this.wakeUpAll();
  }

  /** wake_up_all */
  wakeUpAll(): void {
    const w = this.waiters;
    for (let i = 0; i < w.length; i++) wakeThread(w[i]!);
    w.length = 0;
  }

  describeWait(_t: Thread): string {
    return `waitqueue ${this.name}`;
  }
}
