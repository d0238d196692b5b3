/**
 * today's test_hmm with one broken step, 'test_hmm.exclusive-unlock-early': in HMM_DMIRROR_EXCLUSIVE
 * it unlocks and puts the page make_device_exclusive returned before storing the ATOMIC entry.
 *
 * @see lib/test_hmm.c (Linux v6.19: dmirror_exclusive, dmirror_atomic_map), mm/rmap.c
 *      (make_device_exclusive: "Once programming is complete it should drop the folio lock")
 */

import type { Task } from '../../sched/index.js';
import { TestHmmDmirror } from '../test_hmm/dmirror.js';
import { dmirrorAtomicMap, folioUnlockPut } from '../test_hmm/exclusive.js';

export class ExclusiveUnlockEarly extends TestHmmDmirror {
  /** Lets the page go, then maps it: a CPU fault in between restores the PTE before the store. */
  override *atomicMapAndRelease(addr: number, pfn: number): Task {
    folioUnlockPut(this, pfn);
    yield 'dmirror: atomic map after folio_unlock';
    yield* dmirrorAtomicMap(this, addr, pfn);
  }
}
