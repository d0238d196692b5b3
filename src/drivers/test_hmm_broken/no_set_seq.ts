/**
 * today's test_hmm with one broken step, 'test_hmm.no-set-seq': its interval invalidate erases the
 * device page table but never calls mmu_interval_set_seq.
 *
 * @see lib/test_hmm.c (Linux v6.19: dmirror_interval_invalidate), include/linux/mmu_notifier.h
 */

import type { MmuIntervalNotifier } from '../../mm/mmu_interval_notifier.js';
import type { MmuNotifierRange } from '../../mm/mmu_notifier.js';
import { TestHmmDmirror } from '../test_hmm/dmirror.js';

export class NoSetSeq extends TestHmmDmirror {
  /** Erases and unlocks, leaving the subscription's sequence count as it was. */
  protected override setSeqAndUpdate(
    _sub: MmuIntervalNotifier,
    range: MmuNotifierRange,
    _curSeq: number,
  ): void {
    this.doUpdate(range.start, range.end);
    this.mutex.unlock();
  }
}
