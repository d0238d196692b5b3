/**
 * A notifier callback's result: a value (the callback did not sleep) or a generator (it sleeps).
 * Shared by the classic mmu notifiers and the interval notifiers, which both run callbacks that may
 * sleep only when the invalidation is blockable.
 *
 * @see include/linux/mmu_notifier.h (the blockable rule of invalidate_range_start and invalidate)
 */

import type { Task } from '../sched/index.js';
import { nonBlockEnd, nonBlockStart } from '../sched/index.js';

/**
 * A notifier callback's result: a plain value (it did not sleep) or a Task to run (it may sleep; see the
 * file comment).
 */
export type MaybeTask<T> = T | Task<T>;

function isTask<T>(x: MaybeTask<T>): x is Task<T> {
  return typeof x === 'object' && x !== null && typeof (x as Task<T>).next === 'function';
}

/**
 * Runs a callback's result to completion: directly, or as a sleeping generator. A generator run for
 * a non-blockable range runs inside non_block_start/end, so a callback that sleeps there is reported
 * on the spot.
 */
export function* runMaybeTask<T>(x: MaybeTask<T>, blockable: boolean): Task<T> {
  if (!isTask(x)) return x;
  if (blockable) return yield* x;
  nonBlockStart();
  try {
    return yield* x;
  } finally {
    nonBlockEnd();
  }
}
