/**
 * dmirror with one broken step, 'close-unregister-first': release() unregisters the mirror before it
 * clears the device page table, the order the reference dmirror had until issue 16.
 * The explorer must catch it (docs/explorer.md, src/drivers/dmirror/variants.ts for what breaks).
 *
 * Follows: this repository's dmirror close-order fix (issue 16); the kernel rule it breaks is
 * hmm.rst's "the device must stop using the address space before the mirror goes" (nouveau
 * nouveau_svmm_fini stops the channel first). @see lib/test_hmm.c (Linux v5.8)
 */

import { hmmMirrorUnregister } from '../../hmm/seed/mirror.js';
import type { Task } from '../../sched/index.js';
import { Dmirror } from '../dmirror/dmirror.js';
import type { DriverContext } from '../driver.js';

export class CloseUnregisterFirst extends Dmirror {
  constructor(ctx: DriverContext) {
    super(ctx, 'close-unregister-first');
  }

  /** Unregisters first: a CPU fault in between frees a device page the device still maps. */
  override *close(): Task {
    this.closed = true;
    yield* hmmMirrorUnregister(this.mirror);
    yield* this.mutex.lock();
    this.pt.clear();
    this.mmu.flush();
    this.mutex.unlock();
  }
}
