/**
 * dmirror with one broken step, 'no-lock-in-sync': syncCpuDevicePagetables erases device entries
 * without taking the update lock.
 * The explorer must catch it (docs/explorer.md, src/drivers/dmirror/variants.ts for what breaks).
 *
 * @see lib/test_hmm.c (Linux v5.8), Documentation/vm/hmm.rst (Linux v5.3)
 */

import type { HmmUpdate } from '../../hmm/seed/types.js';
import { Dmirror } from '../dmirror/dmirror.js';
import type { DriverContext } from '../driver.js';

export class NoLockInSync extends Dmirror {
  constructor(ctx: DriverContext) {
    super(ctx, 'no-lock-in-sync');
  }

  /** Erases without taking the update lock (the erase's lockdep assertion reports it). */
  override syncCpuDevicePagetables(update: HmmUpdate): number {
    this.erase(update.start, update.end);
    return 0;
  }
}
