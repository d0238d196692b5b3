/**
 * today's test_hmm with one broken step, 'test_hmm.unlocked-read-retry': checks
 * mmu_interval_read_retry before taking dmirror->mutex, then takes the mutex to program.
 *
 * @see lib/test_hmm.c (Linux v6.19: dmirror_range_fault), Documentation/mm/hmm.rst
 */

import type { HmmRange } from '../../hmm/modern/index.js';
import { mmuIntervalReadRetry } from '../../mm/mmu_interval_notifier.js';
import type { Task } from '../../sched/index.js';
import { TestHmmDmirror } from '../test_hmm/dmirror.js';

export class UnlockedReadRetry extends TestHmmDmirror {
  /** read_retry first, mutex_lock after: an invalidation can run between the two. */
  override *lockIfCurrent(range: HmmRange): Task<boolean> {
    const stale = mmuIntervalReadRetry(range.notifier, range.notifierSeq);
    yield* this.mutex.lock();
    if (!stale) return true;
    this.mutex.unlock();
    return false;
  }
}
