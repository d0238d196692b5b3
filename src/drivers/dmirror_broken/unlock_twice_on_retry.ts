/**
 * dmirror with one broken step, 'unlock-twice-on-retry': when the locked hmm_range_valid check
 * fails, the check drops the update lock itself, and populate's retry path drops it again.
 * The explorer must catch it (docs/explorer.md, src/drivers/dmirror/variants.ts for what breaks).
 *
 * Follows: "nouveau: unlock mmap_sem on all errors from nouveau_range_fault" (Christoph Hellwig,
 * <20190722094426.18563-5-hch@lst.de>, merged for v5.4): nouveau's error paths around
 * hmm_range_fault unlocked a lock a callee had already dropped, or never took.
 */

import type { HmmRange } from '../../hmm/seed/types.js';
import { Dmirror } from '../dmirror/dmirror.js';
import type { DriverContext } from '../driver.js';

export class UnlockTwiceOnRetry extends Dmirror {
  constructor(ctx: DriverContext) {
    super(ctx, 'unlock-twice-on-retry');
  }

  /** On an invalid range, unlocks here too: the caller's unlock is then the second. */
  override checkValid(range: HmmRange): boolean {
    const valid = super.checkValid(range);
    if (!valid) this.mutex.unlock();
    return valid;
  }
}
