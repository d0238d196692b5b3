/**
 * dmirror with one broken step, 'ebusy-fatal': treats -EBUSY from hmm_range_fault as a failure of
 * the device access (-EFAULT) instead of waiting and walking again.
 * The explorer must catch it (docs/explorer.md, src/drivers/dmirror/variants.ts for what breaks).
 *
 * Follows: "nouveau: return -EBUSY when hmm_range_wait_until_valid fails" (Christoph Hellwig,
 * <20190722094426.18563-6-hch@lst.de>, v5.4): -EBUSY is "try again", and a caller that turns it
 * into a hard error fails a fault that a retry would have served.
 */

import { EBUSY, EFAULT } from '../../core/errno.js';
import type { HmmRange } from '../../hmm/seed/types.js';
import type { Task } from '../../sched/index.js';
import { Dmirror } from '../dmirror/dmirror.js';
import type { DriverContext } from '../driver.js';

export class EbusyFatal extends Dmirror {
  constructor(ctx: DriverContext) {
    super(ctx, 'ebusy-fatal');
  }

  /** -EBUSY becomes -EFAULT: the device command fails although the pages stay mapped. */
  override *rangeFault(range: HmmRange): Task<number> {
    const ret = yield* super.rangeFault(range);
    return ret === -EBUSY ? -EFAULT : ret;
  }
}
