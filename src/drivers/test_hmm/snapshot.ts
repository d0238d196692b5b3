/**
 * HMM_DMIRROR_SNAPSHOT of today's test_hmm: hmm_range_fault with nothing requested, 32 pages at a
 * time, each batch under a temporary interval notifier of its own (its invalidate only records the
 * sequence, so any invalidation of the batch retries it), encoded one HMM_DMIRROR_PROT_* byte per
 * page by dmirror_mkentry:
 *
 *   ERROR → 0xFF; not VALID → NONE; else the page kind (this device's private or coherent page:
 *   *_LOCAL, another device's: *_REMOTE, the zero page: ZERO, else 0) | WRITE or READ | PMD (map
 *   order 9) or PUD (order 18)
 *
 * Another device's private pages are not VALID (hmm_range_fault reports only the owner's), so
 * DEV_PRIVATE_REMOTE cannot appear; coherent pages are mapped by ordinary PTEs and show up as
 * LOCAL or REMOTE. No PUD mapping exists in the mm core, so PUD never appears either.
 *
 * @see lib/test_hmm.c (Linux v6.19: dmirror_snapshot, dmirror_range_snapshot,
 *      dmirror_snapshot_invalidate, dmirror_mkentry)
 */

import { PAGE_SHIFT, PAGE_SIZE, PMD_SHIFT, PUD_SHIFT } from '../../core/addr.js';
import { EBUSY, EINVAL } from '../../core/errno.js';
import {
  HMM_PFN_ERROR,
  HMM_PFN_VALID,
  HMM_PFN_WRITE,
  type HmmRange,
  hmmPfnTest,
  hmmPfnToMapOrder,
  hmmPfnToPage,
  hmmRangeFault,
} from '../../hmm/modern/index.js';
import { mmput } from '../../mm/mm.js';
import {
  MmuIntervalNotifier,
  mmuIntervalNotifierInsert,
  mmuIntervalNotifierRemove,
  mmuIntervalReadBegin,
  mmuIntervalReadRetry,
  mmuIntervalSetSeq,
} from '../../mm/mmu_interval_notifier.js';
import type { MmuNotifierRange } from '../../mm/mmu_notifier.js';
import { ZERO_PFN } from '../../mm/page.js';
import type { Task } from '../../sched/index.js';
import type { DmirrorSnapshotResult } from '../dmirror/uapi.js';
import type { TestHmmDmirror } from './dmirror.js';
import { DMIRROR_RANGE_BATCH, DMIRROR_RANGE_RETRIES_MAX, dmirrorCheckCmd } from './fault.js';
import {
  HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL,
  HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE,
  HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL,
  HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE,
  HMM_DMIRROR_PROT_ERROR,
  HMM_DMIRROR_PROT_NONE,
  HMM_DMIRROR_PROT_PMD,
  HMM_DMIRROR_PROT_PUD,
  HMM_DMIRROR_PROT_READ,
  HMM_DMIRROR_PROT_WRITE,
  HMM_DMIRROR_PROT_ZERO,
} from './uapi.js';

/** dmirror_snapshot (HMM_DMIRROR_SNAPSHOT): one HMM_DMIRROR_PROT_* byte per page, nothing faulted. */
export function* dmirrorSnapshot(
  dmirror: TestHmmDmirror,
  addr: number,
  npages: number,
): Task<DmirrorSnapshotResult | number> {
  const bad = dmirrorCheckCmd(addr, npages);
  if (bad) return bad;
  const mm = dmirror.mm;
  if (!mm.mmgetNotZero()) return -EINVAL;
  const prot = new Uint8Array(npages);
  const end = addr + npages * PAGE_SIZE;
  const range: HmmRange = {
    notifier: new MmuIntervalNotifier(),
    notifierSeq: 0,
    start: addr,
    end: addr,
    // on dmirror_snapshot's stack in the kernel; here the machine's arrays (core/host_arrays.ts)
    hmmPfns: dmirror.mdevice.kernel.mem.arrays.f64(DMIRROR_RANGE_BATCH),
    defaultFlags: 0,
    pfnFlagsMask: 0,
    devPrivateOwner: dmirror.mdevice,
  };
  let ret = 0;
  let cpages = 0;
  for (let a = addr; a < end; a = range.end) {
    range.start = a;
    range.end = Math.min(a + DMIRROR_RANGE_BATCH * PAGE_SIZE, end);
    ret = yield* dmirrorRangeSnapshot(dmirror, range, prot.subarray(cpages));
    if (ret !== 0) break;
    cpages += (range.end - range.start) / PAGE_SIZE;
  }
  yield* mmput(mm);
  return ret !== 0 ? ret : { prot, cpages };
}

/**
 * dmirror_range_snapshot: one batch under its own interval notifier; the bytes are made under the
 * mutex once read_retry says no invalidation ran since read_begin.
 */
function* dmirrorRangeSnapshot(dmirror: TestHmmDmirror, range: HmmRange, perm: Uint8Array): Task<number> {
  const mm = dmirror.mm;
  const sub = new MmuIntervalNotifier();
  range.notifier = sub;
  let ret = yield* mmuIntervalNotifierInsert(sub, mm, range.start, range.end - range.start, {
    invalidate: (s, r, curSeq) => dmirrorSnapshotInvalidate(dmirror, s, r, curSeq),
  });
  if (ret !== 0) return ret;
  ret = -EBUSY;
  for (let tries = 0; tries < DMIRROR_RANGE_RETRIES_MAX; tries++) {
    range.notifierSeq = yield* mmuIntervalReadBegin(sub);
    yield* mm.mmapSem.downRead();
    ret = yield* hmmRangeFault(range);
    mm.mmapSem.upRead();
    if (ret === -EBUSY) continue;
    if (ret !== 0) break;
    yield* dmirror.mutex.lock();
    if (mmuIntervalReadRetry(sub, range.notifierSeq)) {
      dmirror.mutex.unlock();
      ret = -EBUSY;
      continue;
    }
    const n = (range.end - range.start) / PAGE_SIZE;
    for (let i = 0; i < n; i++) perm[i] = dmirrorMkentry(dmirror, range.hmmPfns[i] as number);
    dmirror.mutex.unlock();
    break;
  }
  yield* mmuIntervalNotifierRemove(sub);
  return ret;
}

/** dmirror_snapshot_invalidate: any invalidation of the batch retries it; only the sequence is set. */
function dmirrorSnapshotInvalidate(
  dmirror: TestHmmDmirror,
  sub: MmuIntervalNotifier,
  range: MmuNotifierRange,
  curSeq: number,
): boolean | Task<boolean> {
  if (range.blockable) return setSeqLocked(dmirror, sub, curSeq);
  if (!dmirror.mutex.trylock()) return false;
  mmuIntervalSetSeq(sub, curSeq);
  dmirror.mutex.unlock();
  return true;
}

function* setSeqLocked(dmirror: TestHmmDmirror, sub: MmuIntervalNotifier, curSeq: number): Task<boolean> {
  yield* dmirror.mutex.lock();
  mmuIntervalSetSeq(sub, curSeq);
  dmirror.mutex.unlock();
  return true;
}

/** dmirror_mkentry: the HMM_DMIRROR_PROT_* byte of one hmm_pfns entry. */
export function dmirrorMkentry(dmirror: TestHmmDmirror, entry: number): number {
  if (hmmPfnTest(entry, HMM_PFN_ERROR)) return HMM_DMIRROR_PROT_ERROR;
  if (!hmmPfnTest(entry, HMM_PFN_VALID)) return HMM_DMIRROR_PROT_NONE;
  const page = hmmPfnToPage(entry);
  const store = dmirror.mm.kernel.mem.store;
  // dmirror_page_to_device(page) == dmirror->mdevice: the chunk's pgmap owner is its mdevice.
  const local = store.pgmapOf(page)?.owner === dmirror.mdevice;
  let perm: number;
  if (store.isDevicePrivate(page))
    perm = local ? HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL : HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE;
  else if (store.isDeviceCoherent(page))
    perm = local ? HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL : HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE;
  else perm = page === ZERO_PFN ? HMM_DMIRROR_PROT_ZERO : HMM_DMIRROR_PROT_NONE;
  perm |= hmmPfnTest(entry, HMM_PFN_WRITE) ? HMM_DMIRROR_PROT_WRITE : HMM_DMIRROR_PROT_READ;
  const order = hmmPfnToMapOrder(entry);
  if (order + PAGE_SHIFT === PMD_SHIFT) perm |= HMM_DMIRROR_PROT_PMD;
  else if (order + PAGE_SHIFT === PUD_SHIFT) perm |= HMM_DMIRROR_PROT_PUD;
  return perm;
}
