/**
 * today's test_hmm with one broken step, 'test_hmm.program-after-unlock': checks
 * mmu_interval_read_retry under dmirror->mutex but drops the mutex before programming the device
 * page table from the walk.
 *
 * @see lib/test_hmm.c (Linux v6.19: dmirror_range_fault, dmirror_do_fault)
 */

import type { HmmRange } from '../../hmm/modern/index.js';
import type { Task } from '../../sched/index.js';
import { TestHmmDmirror } from '../test_hmm/dmirror.js';
import { dmirrorDoFault } from '../test_hmm/fault.js';

export class ProgramAfterUnlock extends TestHmmDmirror {
  /** Unlocks, then stores the walk's entries: an invalidation may erase the range in between. */
  override *programAndUnlock(range: HmmRange): Task<number> {
    this.mutex.unlock();
    yield 'dmirror: program after unlock';
    return dmirrorDoFault(this, range);
  }
}
