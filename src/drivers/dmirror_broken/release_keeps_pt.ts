/**
 * dmirror with one broken step, 'release-keeps-pt': the mirror's release() (the mm is being torn
 * down) marks the context released but keeps the device page table.
 * The explorer must catch it (docs/explorer.md, src/drivers/dmirror/variants.ts for what breaks).
 *
 * Follows: the release contract of include/linux/hmm.h (v5.3, hmm_mirror_ops.release: the device
 * must stop every access to the address space); no single fixed commit is cited (none found in the
 * stored trees). exit_mmap then frees every page the device may still map.
 */

import type { Task } from '../../sched/index.js';
import { Dmirror } from '../dmirror/dmirror.js';
import type { DriverContext } from '../driver.js';

export class ReleaseKeepsPt extends Dmirror {
  constructor(ctx: DriverContext) {
    super(ctx, 'release-keeps-pt');
  }

  /** Stops new faults but keeps every device entry of the dying address space. */
  protected override *mirrorRelease(): Task {
    yield* this.mutex.lock();
    this.released = true;
    this.mutex.unlock();
  }
}
