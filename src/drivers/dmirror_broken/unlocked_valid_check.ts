/**
 * dmirror with one broken step, 'unlocked-valid-check': checks hmmRangeValid() before taking the
 * update lock, then takes the lock to program.
 * The explorer must catch it (docs/explorer.md, src/drivers/dmirror/variants.ts for what breaks).
 *
 * @see lib/test_hmm.c (Linux v5.8), Documentation/vm/hmm.rst (Linux v5.3)
 */

import { hmmRangeValid } from '../../hmm/seed/range.js';
import type { HmmRange } from '../../hmm/seed/types.js';
import { Dmirror } from '../dmirror/dmirror.js';
import type { DriverContext } from '../driver.js';

export class UnlockedValidCheck extends Dmirror {
  constructor(ctx: DriverContext) {
    super(ctx, 'unlocked-valid-check');
  }

  /** Asks hmm_range_valid() before taking the update lock... */
  override beforeUpdateLock(range: HmmRange): boolean {
    return hmmRangeValid(range);
  }

  /** ...and not again under it. */
  override checkValid(_range: HmmRange): boolean {
    return true;
  }
}
