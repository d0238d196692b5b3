/**
 * today's test_hmm with one broken step, 'test_hmm.exclusive-keep-locked': EXCLUSIVE maps the page
 * make_device_exclusive returned but never unlocks or puts its folio.
 *
 * Follows b3fefbb30a16 "nouveau/svm: fix missing folio unlock + put after
 * make_device_exclusive_range()" (David Hildenbrand, v6.14; Fixes: 8f187163eb89 "nouveau/svm:
 * implement atomic SVM access"): nouveau_atomic_range_fault's retry path went round again with the
 * folio still locked and referenced. test_hmm's dmirror_exclusive has no retry loop, so the variant
 * drops the unlock and put on its one path: the page lock is never released.
 *
 * @see lib/test_hmm.c (Linux v6.19: dmirror_exclusive), drivers/gpu/drm/nouveau/nouveau_svm.c
 */

import type { Task } from '../../sched/index.js';
import { TestHmmDmirror } from '../test_hmm/dmirror.js';
import { dmirrorAtomicMap } from '../test_hmm/exclusive.js';

/** test_hmm whose EXCLUSIVE keeps the page locked and referenced. */
export class ExclusiveKeepLocked extends TestHmmDmirror {
  /** dmirror_atomic_map without the folio_unlock and folio_put after it. */
  override atomicMapAndRelease(addr: number, pfn: number): Task {
    return dmirrorAtomicMap(this, addr, pfn);
  }
}
