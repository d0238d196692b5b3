/**
 * dmirror's device fault: the document's driver_populate_range pattern, line for line —
 * register the range, wait until it is valid, take mmap_sem, fault, take the driver's update
 * lock, check hmm_range_valid, program the device page table, unregister, unlock.
 *
 * Two things the pattern leaves to the driver, done as docs/kernel-hmm.md §4.7 says:
 * - success is a page count >= 0 (the document's `if (ret)` would treat it as an error);
 * - v5.3 reports any device's private page as VALID|DEVICE_PRIVATE and faults it only if the
 *   request says DEVICE_PRIVATE, so pages on another device are re-requested with that flag,
 *   which migrates them back to system memory through their owner's fault callback.
 *
 * @see Documentation/vm/hmm.rst (v5.3) "Address space mirroring implementation and API"
 */

import { PAGE_SHIFT, PAGE_SIZE } from '../../core/addr.js';
import { EBUSY, EFAULT } from '../../core/errno.js';
import { hmmDeviceEntryToPfn, hmmEntryFlags } from '../../hmm/seed/entry.js';
import {
  HMM_RANGE_DEFAULT_TIMEOUT,
  HmmRange,
  hmmRangeRegister,
  hmmRangeUnregister,
  hmmRangeWaitUntilValid,
} from '../../hmm/seed/range.js';
import { mmput } from '../../mm/mm.js';
import { runMaybeTask } from '../../mm/mmu_notifier.js';
import type { Task } from '../../sched/index.js';
import type { Dmirror } from './dmirror.js';
import {
  DMIRROR_PFN_FLAGS,
  DMIRROR_PFN_VALUES,
  DPT_DEVICE_PRIVATE,
  DPT_PFN_SHIFT,
  DPT_VALID,
  DPT_WRITE,
} from './pfn.js';

/** Pages per hmm_range (test_hmm's 64-entry pfns array). */
export const DMIRROR_FAULT_BATCH = 64;
/** A populate that keeps finding its range invalidated gives up with -EBUSY (test_hmm: 1000 ms). */
export const DMIRROR_POPULATE_RETRIES_MAX = 1000;

/** dmirror_fault: populate [start, end) for reading or writing, in batches. */
export function* dmirrorFault(dmirror: Dmirror, start: number, end: number, write: boolean): Task<number> {
  const mm = dmirror.mm;
  // test_hmm returns 0 here and its READ loop would spin; a gone mm is a fault for the device.
  if (dmirror.released || !mm.mmgetNotZero()) return -EFAULT;
  let ret = 0;
  for (let addr = start; addr < end && ret >= 0; ) {
    const next = Math.min(end, addr + DMIRROR_FAULT_BATCH * PAGE_SIZE);
    ret = yield* driverPopulateRange(dmirror, addr, next, write);
    addr = next;
  }
  yield* mmput(mm);
  return Math.min(ret, 0);
}

/** driver_populate_range, from hmm.rst. */
export function* driverPopulateRange(
  dmirror: Dmirror,
  start: number,
  end: number,
  write: boolean,
): Task<number> {
  const mm = dmirror.mm;
  const want = DPT_VALID | (write ? DPT_WRITE : 0);
  const range = new HmmRange({
    pfns: new Float64Array((end - start) / PAGE_SIZE),
    flags: DMIRROR_PFN_FLAGS,
    values: DMIRROR_PFN_VALUES,
    pfnShift: DPT_PFN_SHIFT,
    defaultFlags: want,
    pfnFlagsMask: 0,
  });
  let ret = hmmRangeRegister(range, dmirror.mirror, start, end, PAGE_SHIFT);
  if (ret) return ret;
  yield* hmmRangeWaitUntilValid(range, HMM_RANGE_DEFAULT_TIMEOUT);
  for (let tries = 0; ; tries++) {
    if (tries === DMIRROR_POPULATE_RETRIES_MAX) {
      yield* hmmRangeUnregister(range);
      return -EBUSY;
    }
    yield* mm.mmapSem.downRead();
    ret = yield* dmirror.rangeFault(range);
    if (ret < 0) {
      mm.mmapSem.upRead();
      if (ret === -EBUSY) {
        yield* hmmRangeWaitUntilValid(range, HMM_RANGE_DEFAULT_TIMEOUT);
        continue;
      }
      yield* hmmRangeUnregister(range);
      return ret;
    }
    if (requestDevicePages(dmirror, range, write)) {
      mm.mmapSem.upRead();
      continue;
    }
    if (!(yield* runMaybeTask(dmirror.beforeUpdateLock(range), true))) {
      mm.mmapSem.upRead();
      continue;
    }
    yield* dmirror.mutex.lock();
    if (!dmirror.checkValid(range)) {
      dmirror.mutex.unlock();
      mm.mmapSem.upRead();
      continue;
    }
    ret = dmirrorUpdatePt(dmirror, range, write);
    yield* dmirror.rangeDone(range);
    dmirror.mutex.unlock();
    mm.mmapSem.upRead();
    return ret;
  }
}

/**
 * Device-private pages this device cannot use as reported — another device's, or its own but
 * read-only when writing — are re-requested with DEVICE_PRIVATE so the next fault moves them back
 * to system memory. Returns true if any were.
 */
function requestDevicePages(dmirror: Dmirror, range: HmmRange, write: boolean): boolean {
  const pfns = range.pfns;
  const unusable = (e: number): boolean => {
    const f = hmmEntryFlags(range, e);
    if (!(f & DPT_DEVICE_PRIVATE)) return false;
    return !dmirror.mdevice.owns(hmmDeviceEntryToPfn(range, e)) || (write && !(f & DPT_WRITE));
  };
  if (!pfns.some(unusable)) return false;
  for (let i = 0; i < pfns.length; i++) {
    pfns[i] = unusable(pfns[i] as number) ? DPT_VALID | DPT_DEVICE_PRIVATE | (write ? DPT_WRITE : 0) : 0;
  }
  range.pfnFlagsMask = DPT_VALID | DPT_WRITE | DPT_DEVICE_PRIVATE;
  return true;
}

/** Programs the device page table from the range (under the update lock, after hmm_range_valid). */
function dmirrorUpdatePt(dmirror: Dmirror, range: HmmRange, write: boolean): number {
  dmirror.mutex.assertHeld();
  const base = range.start / PAGE_SIZE;
  for (let i = 0; i < range.pfns.length; i++) {
    const e = range.pfns[i] as number;
    const pfn = hmmDeviceEntryToPfn(range, e);
    const w = (hmmEntryFlags(range, e) & DPT_WRITE) !== 0;
    if (pfn < 0 || (write && !w)) return -EFAULT;
    dmirror.mmu.map(base + i, pfn, w);
  }
  return 0;
}
