/**
 * dmirror with one broken step, 'release-unlocked': the mirror's release() clears the device page
 * table without the update lock, racing a fault's check-and-program.
 * The explorer must catch it (docs/explorer.md, src/drivers/dmirror/variants.ts for what breaks).
 *
 * Follows: the locking rule of hmm.rst (every device page-table update under driver->update,
 * Documentation/vm/hmm.rst v5.3); no single fixed commit is cited.
 */

import type { Task } from '../../sched/index.js';
import { Dmirror } from '../dmirror/dmirror.js';
import type { DriverContext } from '../driver.js';

export class ReleaseUnlocked extends Dmirror {
  constructor(ctx: DriverContext) {
    super(ctx, 'release-unlocked');
  }

  /** Clears the table without taking the update lock (the rules checker sees the write). */
  // biome-ignore lint/correctness/useYield: release() may sleep in the kernel; this one does not.
  protected override *mirrorRelease(): Task {
    this.released = true;
    this.pt.clear();
    this.mmu.flush();
  }
}
