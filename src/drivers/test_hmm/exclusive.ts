/**
 * HMM_DMIRROR_EXCLUSIVE and HMM_DMIRROR_CHECK_EXCLUSIVE of today's test_hmm: the device takes
 * pages for atomics and the test checks that CPU accesses took them back.
 *
 * EXCLUSIVE takes one page at a time (v6.15+): make_device_exclusive returns it locked and
 * referenced, dmirror_atomic_map stores it with the ATOMIC tag under dmirror->mutex, and only then
 * is the page unlocked and put, so a CPU fault on it waits until the device mapping is in place and
 * then revokes it (its CLEAR invalidation erases the entry). The range is then read back through
 * the device page table into the caller's buffer. As in the kernel, the EXCLUSIVE invalidation
 * carries no owner (test_hmm passes NULL), so the device's own older entry for the page is erased
 * before the atomic one is stored, and no interval sequence is checked: the page lock is the only
 * thing between make_device_exclusive and the store (docs/fidelity.md says what that leaves open).
 *
 * CHECK_EXCLUSIVE reads the table without the mutex, as dmirror_check_atomic does.
 *
 * @see lib/test_hmm.c (dmirror_exclusive, dmirror_atomic_map, dmirror_check_atomic, dmirror_do_read;
 * Linux v6.19, torvalds/linux as indexed: the single-page form of ≈v6.15)
 */

import { PAGE_SIZE } from '../../core/addr.js';
import { EINVAL, ENOMEM, EPERM } from '../../core/errno.js';
import { makeDeviceExclusive } from '../../mm/device_exclusive.js';
import { mmput } from '../../mm/mm.js';
import type { Task } from '../../sched/index.js';
import type { DmirrorReadResult } from '../dmirror/uapi.js';
import type { TestHmmDmirror } from './dmirror.js';
import { dmirrorBounceInit, dmirrorCheckCmd, dmirrorDoRead } from './fault.js';
import type { DmirrorCmdResult } from './uapi.js';

/**
 * dmirror_exclusive: -EINVAL for a bad range or an mm going away, else what the first failing page
 * returned, else the read-back (-ENOENT if the CPU took a page back before it).
 */
export function* dmirrorExclusive(
  dmirror: TestHmmDmirror,
  addr: number,
  npages: number,
): Task<DmirrorReadResult | number> {
  const bad = dmirrorCheckCmd(addr, npages);
  if (bad) return bad;
  const end = addr + npages * PAGE_SIZE;
  const mm = dmirror.mm;
  if (!mm.mmgetNotZero()) return -EINVAL;
  yield* mm.mmapSem.downRead();
  let ret = 0;
  for (let a = addr; ret === 0 && a < end; a += PAGE_SIZE) ret = yield* exclusiveOne(dmirror, a);
  mm.mmapSem.upRead();
  yield* mmput(mm);
  if (ret !== 0) return ret;
  const bounce = dmirrorBounceInit(dmirror, addr, npages);
  if (bounce === null) return -ENOMEM;
  yield* dmirror.mutex.lock();
  ret = dmirrorDoRead(dmirror, addr, end, bounce);
  dmirror.mutex.unlock();
  return ret !== 0 ? ret : { data: bounce.ptr, cpages: bounce.cpages, faults: 0 };
}

/** One page: make it exclusive, then the driver's step that maps it and lets it go. */
function* exclusiveOne(dmirror: TestHmmDmirror, addr: number): Task<number> {
  const pfn = yield* makeDeviceExclusive(dmirror.mm, addr, null);
  if (pfn < 0) return pfn;
  yield* dmirror.atomicMapAndRelease(addr, pfn);
  return 0;
}

/**
 * dmirror_atomic_map, then folio_unlock and folio_put: the page lock is held until the ATOMIC entry
 * is in place, so a CPU fault (which sleeps on it) revokes the entry rather than racing its store.
 */
export function* dmirrorAtomicMapAndRelease(dmirror: TestHmmDmirror, addr: number, pfn: number): Task {
  yield* dmirrorAtomicMap(dmirror, addr, pfn);
  folioUnlockPut(dmirror, pfn);
}

/** folio_unlock(folio); folio_put(folio) for the page make_device_exclusive returned. */
export function folioUnlockPut(dmirror: TestHmmDmirror, pfn: number): void {
  const mem = dmirror.mm.kernel.mem;
  mem.unlockPage(mem.store.compoundHead(pfn));
  mem.putPage(pfn);
}

/** dmirror_atomic_map: the page goes into the device page table tagged ATOMIC, under the mutex. */
export function* dmirrorAtomicMap(dmirror: TestHmmDmirror, addr: number, pfn: number): Task {
  yield* dmirror.mutex.lock();
  dmirror.pt.storeAtomic(Math.floor(addr / PAGE_SIZE), pfn);
  dmirror.mutex.unlock();
}

/** dmirror_check_atomic (after the ioctl's range check): -EPERM while any page of the range still has an ATOMIC entry. */
// biome-ignore lint/correctness/useYield: a table lookup, with no scheduling point
export function* dmirrorCheckExclusive(
  dmirror: TestHmmDmirror,
  addr: number,
  npages: number,
): Task<DmirrorCmdResult | number> {
  const bad = dmirrorCheckCmd(addr, npages);
  if (bad) return bad;
  const first = addr / PAGE_SIZE;
  for (let vpn = first; vpn < first + npages; vpn++) if (dmirror.pt.isAtomic(vpn)) return -EPERM;
  return { cpages: 0, faults: 0 };
}
