/**
 * dmirror with one broken step, 'close-without-clear': release() unregisters the mirror and never
 * clears the device page table.
 * The explorer must catch it (docs/explorer.md, src/drivers/dmirror/variants.ts for what breaks).
 *
 * Follows: test_hmm's dmirror_fops_release, which must xa_destroy(&dmirror->pt) after removing
 * the notifier (lib/test_hmm.c, v5.8 onwards); a release that forgets the device's table leaves
 * the hardware mapping pages the mm will free. No single fixed commit is cited.
 */

import { hmmMirrorUnregister } from '../../hmm/seed/mirror.js';
import type { Task } from '../../sched/index.js';
import { Dmirror } from '../dmirror/dmirror.js';
import type { DriverContext } from '../driver.js';

export class CloseWithoutClear extends Dmirror {
  constructor(ctx: DriverContext) {
    super(ctx, 'close-without-clear');
  }

  /** Unregisters and stops there: every device entry outlives the file. */
  override *close(): Task {
    this.closed = true;
    yield* hmmMirrorUnregister(this.mirror);
  }
}
