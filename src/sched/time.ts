/**
 * Virtual time and bare scheduling points.
 *
 * Time is virtual: it only moves when no thread can run and a timer is armed, and then jumps to
 * the earliest timer. So a timeout fires only once nobody else can make progress - a sleep is an
 * ordering constraint, not a duration, and runs stay deterministic and fast.
 *
 * @see kernel/time/timer.c (msleep, schedule_timeout), include/linux/sched.h (cond_resched)
 */

import { ArgumentError } from '../core/errno.js';
import type { Task } from './task.js';
import { current } from './thread.js';

/** Nanoseconds in a microsecond: virtual time counts in ns. */
export const NSEC_PER_USEC = 1_000;
/** Nanoseconds in a millisecond. */
export const NSEC_PER_MSEC = 1_000_000;
/** Nanoseconds in a second. */
export const NSEC_PER_SEC = 1_000_000_000;

/** A bare preemption point (cond_resched): lets the strategy run someone else. */
export function* schedule(point = 'schedule'): Task {
  yield point;
}

/** Sleep `ns` of virtual time; other runnable threads run first (see the file comment). */
export function* sleepNs(ns: number): Task {
  checkDuration('ns', ns);
  const t = current();
  t.state = 'sleeping';
  t.timerAtNs = t.executor.nowNs + ns;
  yield 'sleep';
}

/**
 * msleep(): sleeps `ms` milliseconds of virtual time.
 * @see kernel/time/timer.c (Linux v5.3)
 */
export function msleep(ms: number): Task {
  checkDuration('ms', ms);
  return sleepNs(ms * NSEC_PER_MSEC);
}

/** @internal a timeout or duration must be a finite number >= 0. */
export function checkDuration(name: string, v: number): void {
  if (!(v >= 0) || !Number.isFinite(v))
    throw new ArgumentError(name, `expected a finite duration >= 0, got ${v}`);
}
