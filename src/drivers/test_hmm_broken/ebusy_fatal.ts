/**
 * today's test_hmm with one broken step, 'test_hmm.ebusy-fatal': a walk that returns -EBUSY (an
 * invalidation moved the notifier's sequence count under it) fails the device access instead of
 * being walked again.
 *
 * Follows "drm/amdkfd: retry after EBUSY is returned from hmm_ranges_get_pages" (Alex Sierra,
 * drm-fixes for v6.6; the stored shortlogs show it under several hashes, one per tree that carries
 * it, e.g. 2270cf1cd91b): svm_range_validate_and_map gave up on the GPU fault when
 * amdgpu_hmm_range_get_pages returned -EBUSY; the fix retries, as hmm.rst's loop and test_hmm's
 * dmirror_range_fault do.
 *
 * @see lib/test_hmm.c (Linux v6.19: dmirror_range_fault), drivers/gpu/drm/amd/amdkfd/kfd_svm.c
 */

import { EBUSY, EFAULT } from '../../core/errno.js';
import type { HmmRange } from '../../hmm/modern/index.js';
import type { Task } from '../../sched/index.js';
import { TestHmmDmirror } from '../test_hmm/dmirror.js';

/** test_hmm that fails a device access on the walk's -EBUSY. */
export class EbusyFatal extends TestHmmDmirror {
  /** Turns the walk's -EBUSY into a failure of the command. */
  override *rangeWalk(range: HmmRange): Task<number> {
    const ret = yield* super.rangeWalk(range);
    return ret === -EBUSY ? -EFAULT : ret;
  }
}
