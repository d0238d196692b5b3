/**
 * today's test_hmm with one broken step, 'test_hmm.skip-foreign-migrate': its interval invalidate
 * skips every MMU_NOTIFY_MIGRATE invalidation, not only those its own device's migrations issue.
 *
 * Follows 7d17e83abec1 "mm/hmm/test: use the new migration invalidation" (Ralph Campbell, v5.9;
 * with "nouveau/svm: use the new migration invalidation" in the same series): the skip is only
 * sound for an invalidation whose migrate_pgmap_owner is this device, because only then does the
 * migration update this device's page table itself. Another device's migration moves the pages
 * this one maps and frees the old ones.
 *
 * @see lib/test_hmm.c (Linux v6.19: dmirror_interval_invalidate)
 */

import type { MmuIntervalNotifier } from '../../mm/mmu_interval_notifier.js';
import { MMU_NOTIFY_MIGRATE, type MmuNotifierRange } from '../../mm/mmu_notifier.js';
import type { Task } from '../../sched/index.js';
import { TestHmmDmirror } from '../test_hmm/dmirror.js';

/** test_hmm whose invalidate skips every migration, its own device's or not. */
export class SkipForeignMigrate extends TestHmmDmirror {
  /** Returns true for any migration, whoever's, leaving its entries in place. */
  override intervalInvalidate(
    sub: MmuIntervalNotifier,
    range: MmuNotifierRange,
    curSeq: number,
  ): boolean | Task<boolean> {
    if (range.event === MMU_NOTIFY_MIGRATE) return true;
    return super.intervalInvalidate(sub, range, curSeq);
  }
}
