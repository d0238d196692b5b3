/**
 * today's test_hmm with one broken step, 'test_hmm.ignore-ebusy': takes -EBUSY from
 * hmm_range_fault for success and goes on to lock, check read_retry and program.
 *
 * @see lib/test_hmm.c (Linux v6.19: dmirror_range_fault), mm/hmm.c (hmm_range_fault's -EBUSY)
 */

import { EBUSY } from '../../core/errno.js';
import type { HmmRange } from '../../hmm/modern/index.js';
import type { Task } from '../../sched/index.js';
import { TestHmmDmirror } from '../test_hmm/dmirror.js';

export class IgnoreEbusy extends TestHmmDmirror {
  /** Takes -EBUSY from the walk for success. */
  override *rangeWalk(range: HmmRange): Task<number> {
    const ret = yield* super.rangeWalk(range);
    return ret === -EBUSY ? 0 : ret;
  }
}
