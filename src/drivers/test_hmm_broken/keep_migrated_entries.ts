/**
 * today's test_hmm with one broken step, 'test_hmm.keep-migrated-entries': it skips the
 * MMU_NOTIFY_MIGRATE invalidations its own migrations issue (as the correct driver does) but does
 * not erase its entries of the pages it then moves back to system memory.
 *
 * @see lib/test_hmm.c (Linux v6.19: dmirror_interval_invalidate, dmirror_devmem_fault_alloc_and_copy)
 */

import type { Task } from '../../sched/index.js';
import { TestHmmDmirror } from '../test_hmm/dmirror.js';

export class KeepMigratedEntries extends TestHmmDmirror {
  /** Leaves the device page table mapping the device pages being migrated away. */
  override *eraseMigrated(_start: number, _dst: Float64Array, _npages: number): Task {
    yield 'dmirror: keeps its entries';
  }
}
