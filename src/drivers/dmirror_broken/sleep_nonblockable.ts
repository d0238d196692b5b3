/**
 * dmirror with one broken step, 'sleep-nonblockable': syncCpuDevicePagetables takes the update lock
 * with a sleeping mutex_lock even when !blockable.
 * The explorer must catch it (docs/explorer.md, src/drivers/dmirror/variants.ts for what breaks).
 *
 * @see lib/test_hmm.c (Linux v5.8), Documentation/vm/hmm.rst (Linux v5.3)
 */

import type { HmmUpdate } from '../../hmm/seed/types.js';
import type { Task } from '../../sched/index.js';
import { Dmirror } from '../dmirror/dmirror.js';
import type { DriverContext } from '../driver.js';

export class SleepNonblockable extends Dmirror {
  constructor(ctx: DriverContext) {
    super(ctx, 'sleep-nonblockable');
  }

  /** Takes the update lock with a sleeping mutex_lock even when the update may not block. */
  override syncCpuDevicePagetables(update: HmmUpdate): Task<number> {
    return this.syncBlocking(update);
  }
}
