/**
 * HMM_DMIRROR_SNAPSHOT on the seed API: hmm_range_snapshot in batches, under the same
 * register / valid / update-lock protocol as a fault, encoded one HMM_DMIRROR_PROT_* byte per page.
 *
 * Seed-era encoding (docs/kernel-hmm.md §4.6 adapted): ERROR or SPECIAL → 0xFF; no VALID →
 * NONE; a device-private entry is reported for any device (v5.3 has no owner), LOCAL if it is this
 * device's page and REMOTE otherwise; the zero page → ZERO; then READ or WRITE.
 *
 * @see lib/test_hmm.c (dmirror_snapshot, dmirror_mkentry) (Linux v5.8)
 */

import { PAGE_SHIFT, PAGE_SIZE } from '../../core/addr.js';
import { EBUSY, EINVAL } from '../../core/errno.js';
import { hmmDeviceEntryToPfn, hmmEntryFlags } from '../../hmm/seed/entry.js';
import {
  HMM_RANGE_DEFAULT_TIMEOUT,
  HmmRange,
  hmmRangeRegister,
  hmmRangeSnapshot,
  hmmRangeUnregister,
  hmmRangeValid,
  hmmRangeWaitUntilValid,
} from '../../hmm/seed/range.js';
import { mmput } from '../../mm/mm.js';
import { ZERO_PFN } from '../../mm/page.js';
import type { Task } from '../../sched/index.js';
import type { Dmirror } from './dmirror.js';
import {
  DMIRROR_PFN_FLAGS,
  DMIRROR_PFN_VALUES,
  DPT_DEVICE_PRIVATE,
  DPT_ERROR,
  DPT_PFN_SHIFT,
  DPT_SPECIAL,
  DPT_VALID,
  DPT_WRITE,
} from './pfn.js';
import { DMIRROR_POPULATE_RETRIES_MAX } from './populate.js';
import {
  HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL,
  HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE,
  HMM_DMIRROR_PROT_ERROR,
  HMM_DMIRROR_PROT_NONE,
  HMM_DMIRROR_PROT_READ,
  HMM_DMIRROR_PROT_WRITE,
  HMM_DMIRROR_PROT_ZERO,
} from './uapi.js';

/** Pages snapshotted per hmm_range (test_hmm's 64-entry pfns array on the stack). */
export const DMIRROR_SNAPSHOT_BATCH = 64;

/**
 * dmirror_snapshot: fills `prot` with one HMM_DMIRROR_PROT_* byte per page of [start, end) in
 * DMIRROR_SNAPSHOT_BATCH batches; 0, or -EINVAL if the mm is gone, or the first batch's -errno.
 */
export function* dmirrorSnapshotRange(
  dmirror: Dmirror,
  start: number,
  end: number,
  prot: Uint8Array,
): Task<number> {
  const mm = dmirror.mm;
  if (dmirror.released || !mm.mmgetNotZero()) return -EINVAL;
  let ret = 0;
  for (let addr = start; addr < end && ret >= 0; ) {
    const next = Math.min(end, addr + DMIRROR_SNAPSHOT_BATCH * PAGE_SIZE);
    ret = yield* snapshotBatch(dmirror, addr, next, prot.subarray((addr - start) / PAGE_SIZE));
    addr = next;
  }
  yield* mmput(mm);
  return Math.min(ret, 0);
}

function* snapshotBatch(dmirror: Dmirror, start: number, end: number, out: Uint8Array): Task<number> {
  const mm = dmirror.mm;
  const range = new HmmRange({
    pfns: new Float64Array((end - start) / PAGE_SIZE),
    flags: DMIRROR_PFN_FLAGS,
    values: DMIRROR_PFN_VALUES,
    pfnShift: DPT_PFN_SHIFT,
  });
  let ret = hmmRangeRegister(range, dmirror.mirror, start, end, PAGE_SHIFT);
  if (ret) return ret;
  yield* hmmRangeWaitUntilValid(range, HMM_RANGE_DEFAULT_TIMEOUT);
  for (let tries = 0; tries < DMIRROR_POPULATE_RETRIES_MAX; tries++) {
    yield* mm.mmapSem.downRead();
    ret = yield* hmmRangeSnapshot(range);
    if (ret < 0) {
      mm.mmapSem.upRead();
      if (ret === -EBUSY) {
        yield* hmmRangeWaitUntilValid(range, HMM_RANGE_DEFAULT_TIMEOUT);
        continue;
      }
      break;
    }
    yield* dmirror.mutex.lock();
    if (!hmmRangeValid(range)) {
      dmirror.mutex.unlock();
      mm.mmapSem.upRead();
      continue;
    }
    for (let i = 0; i < range.pfns.length; i++)
      out[i] = dmirrorMkentry(dmirror, range, range.pfns[i] as number);
    yield* hmmRangeUnregister(range);
    dmirror.mutex.unlock();
    mm.mmapSem.upRead();
    return 0;
  }
  yield* hmmRangeUnregister(range);
  return ret < 0 ? ret : -EBUSY;
}

/** dmirror_mkentry for a seed-era entry. */
export function dmirrorMkentry(dmirror: Dmirror, range: HmmRange, entry: number): number {
  if (entry === DPT_ERROR || entry === DPT_SPECIAL) return HMM_DMIRROR_PROT_ERROR;
  const f = hmmEntryFlags(range, entry);
  if (!(f & DPT_VALID)) return HMM_DMIRROR_PROT_NONE;
  const pfn = hmmDeviceEntryToPfn(range, entry);
  let b = 0;
  if (f & DPT_DEVICE_PRIVATE) {
    b = dmirror.mdevice.owns(pfn) ? HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL : HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE;
  } else if (pfn === ZERO_PFN) {
    b = HMM_DMIRROR_PROT_ZERO;
  }
  return b | (f & DPT_WRITE ? HMM_DMIRROR_PROT_WRITE : HMM_DMIRROR_PROT_READ);
}
