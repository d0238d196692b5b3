/**
 * dmirror with one broken step, 'ignore-ebusy': treats -EBUSY from hmmRangeFault as success and
 * goes on to lock, check and program.
 * The explorer must catch it (docs/explorer.md, src/drivers/dmirror/variants.ts for what breaks).
 *
 * @see lib/test_hmm.c (Linux v5.8), Documentation/vm/hmm.rst (Linux v5.3)
 */

import { EBUSY } from '../../core/errno.js';
import type { HmmRange } from '../../hmm/seed/types.js';
import type { Task } from '../../sched/index.js';
import { Dmirror } from '../dmirror/dmirror.js';
import type { DriverContext } from '../driver.js';

export class IgnoreEbusy extends Dmirror {
  constructor(ctx: DriverContext) {
    super(ctx, 'ignore-ebusy');
  }

  /** Takes -EBUSY from hmm_range_fault for success. */
  override *rangeFault(range: HmmRange): Task<number> {
    const ret = yield* super.rangeFault(range);
    return ret === -EBUSY ? 0 : ret;
  }
}
