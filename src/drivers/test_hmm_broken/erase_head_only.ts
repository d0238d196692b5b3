/**
 * today's test_hmm with one broken step, 'test_hmm.erase-head-only': when pages move back to
 * system memory it erases one device entry per migrate entry, as a driver written for 4 KiB pages
 * does, so a THP that moves back whole (one COMPOUND entry for 512 pages) loses only its head's
 * entry. v6.19's dmirror_devmem_fault_alloc_and_copy erases each of the folio's pages.
 *
 * @see lib/test_hmm.c (Linux v6.19: dmirror_devmem_fault_alloc_and_copy, its xa_erase per page of the order)
 */

import { PAGE_SIZE } from '../../core/addr.js';
import { migratePfnToPage } from '../../mm/migrate.js';
import type { Task } from '../../sched/index.js';
import { TestHmmDmirror } from '../test_hmm/dmirror.js';

export class EraseHeadOnly extends TestHmmDmirror {
  /** Erases the page of each entry that got a destination, and no more. */
  override *eraseMigrated(start: number, dst: Float64Array, npages: number): Task {
    yield* this.mutex.lock();
    for (let i = 0; i < npages; i++) {
      if (migratePfnToPage(dst[i] as number) < 0) continue;
      this.doUpdate(start + i * PAGE_SIZE, start + (i + 1) * PAGE_SIZE);
    }
    this.mutex.unlock();
  }
}
