/**
 * dmirror with one broken step, 'no-valid-check': driver_populate_range programs the device page
 * table without checking hmmRangeValid().
 * The explorer must catch it (docs/explorer.md, src/drivers/dmirror/variants.ts for what breaks).
 *
 * @see lib/test_hmm.c (Linux v5.8), Documentation/vm/hmm.rst (Linux v5.3)
 */

import type { HmmRange } from '../../hmm/seed/types.js';
import { Dmirror } from '../dmirror/dmirror.js';
import type { DriverContext } from '../driver.js';

export class NoValidCheck extends Dmirror {
  constructor(ctx: DriverContext) {
    super(ctx, 'no-valid-check');
  }

  /** Programs the device without asking hmm_range_valid(). */
  override checkValid(_range: HmmRange): boolean {
    return true;
  }
}
