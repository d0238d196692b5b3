/**
 * Liveness at the end of a schedule, once every thread has finished: no invalidation may still be
 * in flight (an invalidate_range_start whose _end never came leaves the seed HMM's ranges invalid
 * forever, and today's interval notifiers' sequence odd, so every later device fault retries
 * without end). The other two liveness failures are reported where they happen: a lock held at
 * thread exit by the executor (lockdep), and a fault that never completes by the explorer's step
 * bound (a 'kernel' livelock, rendered as a window around its end).
 *
 * @see mm/mmu_notifier.c (v6.19: mn_itree_inv_end; v5.3 hmm_invalidate_range_end)
 */

import { mmHmm } from '../hmm/seed/hmm.js';
import type { MmStruct } from '../mm/mm.js';
import { mmItreeSubscriptions } from '../mm/mmu_interval_notifier.js';

/** One line per mm that still has an invalidation in flight; empty if none. */
export function livenessViolations(mms: readonly MmStruct[]): string[] {
  const out: string[] = [];
  for (const mm of mms) {
    const seed = mmHmm(mm)?.inflight.length ?? 0;
    const interval = mmItreeSubscriptions(mm)?.activeInvalidateRanges ?? 0;
    const n = seed + interval;
    if (n > 0)
      out.push(
        `liveness: ${n} invalidation(s) of mm ${mm.id} started and never ended once every thread finished`,
      );
  }
  return out;
}
