/**
 * today's test_hmm with one broken step, 'test_hmm.sleep-nonblockable': its interval invalidate
 * takes dmirror->mutex with a sleeping mutex_lock even when the range is not blockable.
 *
 * @see lib/test_hmm.c (Linux v6.19: dmirror_interval_invalidate), mm/oom_kill.c (the OOM reaper)
 */

import type { MmuIntervalNotifier } from '../../mm/mmu_interval_notifier.js';
import type { MmuNotifierRange } from '../../mm/mmu_notifier.js';
import type { Task } from '../../sched/index.js';
import { TestHmmDmirror } from '../test_hmm/dmirror.js';

export class SleepNonblockable extends TestHmmDmirror {
  /** Always mutex_lock: never the trylock a non-blockable range requires. */
  override intervalInvalidate(
    sub: MmuIntervalNotifier,
    range: MmuNotifierRange,
    curSeq: number,
  ): Task<boolean> {
    return this.invalidateBlocking(sub, range, curSeq);
  }
}
