/**
 * dmirror with one broken step, 'free-mapped-page': finalize_and_map maps every device page it
 * allocated, without checking that the page migrated (MIGRATE_PFN_MIGRATE still set in src).
 * The explorer must catch it (docs/explorer.md, src/drivers/dmirror/variants.ts for what breaks).
 *
 * @see lib/test_hmm.c (Linux v5.8), Documentation/vm/hmm.rst (Linux v5.3)
 */

import { Dmirror } from '../dmirror/dmirror.js';
import type { DriverContext } from '../driver.js';

export class FreeMappedPage extends Dmirror {
  constructor(ctx: DriverContext) {
    super(ctx, 'free-mapped-page');
  }

  /** Maps every device page it allocated, whether or not the source page migrated. */
  override mapsDestination(_migrated: boolean): boolean {
    return true;
  }
}
