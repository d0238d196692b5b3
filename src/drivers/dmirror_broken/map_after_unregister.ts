/**
 * dmirror with one broken step, 'map-after-unregister': hmmRangeUnregister as soon as the walk
 * succeeds, then lock, check and program from the range.
 * The explorer must catch it (docs/explorer.md, src/drivers/dmirror/variants.ts for what breaks).
 *
 * @see lib/test_hmm.c (Linux v5.8), Documentation/vm/hmm.rst (Linux v5.3)
 */

import { hmmRangeUnregister } from '../../hmm/seed/range.js';
import type { HmmRange } from '../../hmm/seed/types.js';
import type { Task } from '../../sched/index.js';
import { Dmirror } from '../dmirror/dmirror.js';
import type { DriverContext } from '../driver.js';

export class MapAfterUnregister extends Dmirror {
  constructor(ctx: DriverContext) {
    super(ctx, 'map-after-unregister');
  }

  /** Unregisters the range as soon as the walk succeeded, before the lock and the check... */
  override *beforeUpdateLock(range: HmmRange): Task<boolean> {
    yield* hmmRangeUnregister(range);
    return true;
  }

  /** ...so there is nothing left to unregister after programming. */
  override *rangeDone(_range: HmmRange): Task {}
}
