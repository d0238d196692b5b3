/**
 * HMM_DMIRROR_READ and HMM_DMIRROR_WRITE of today's test_hmm: the device reads (writes) the range
 * through its page table into (from) a bounce buffer, and each time it meets a page it does not
 * map (may not write) it faults the rest of the range in with dmirror_fault — the modern driver
 * pattern of hmm.rst, in batches of 32 pages:
 *
 *   mmget_not_zero; again: seq = mmu_interval_read_begin; mmap_read_lock; hmm_range_fault;
 *   mmap_read_unlock; -EBUSY → again; mutex_lock; mmu_interval_read_retry → unlock, again;
 *   store every entry in the device page table (dmirror_do_fault); mutex_unlock; mmput
 *
 * The device page table holds what hmm_pfn_to_page gives: a system page, a coherent device page,
 * or — if hmm_range_fault reports one of this device's own private pages — that device page itself
 * (lib/test_hmm.c stores it as it is; no selftest reaches that case).
 *
 * Divergences (docs/fidelity.md, "test_hmm READ / WRITE / SNAPSHOT"): the 1000 ms timeout of
 * dmirror_range_fault is a cap of 1000 rounds (virtual time does not move while a loop spins), and
 * a gone mm makes dmirror_fault fail with -EFAULT where the kernel returns 0 and READ loops forever.
 *
 * @see lib/test_hmm.c (Linux v6.19: dmirror_read, dmirror_do_read, dmirror_write,
 *      dmirror_do_write, dmirror_fault, dmirror_range_fault, dmirror_do_fault, dmirror_bounce_init)
 */

import { PAGE_SIZE } from '../../core/addr.js';
import { KernelWarning } from '../../core/assert.js';
import { CALL_PAGES_MAX, EBUSY, EFAULT, EINVAL, ENOENT, ENOMEM } from '../../core/errno.js';
import {
  HMM_PFN_ERROR,
  HMM_PFN_REQ_FAULT,
  HMM_PFN_REQ_WRITE,
  HMM_PFN_VALID,
  HMM_PFN_WRITE,
  type HmmRange,
  hmmPfnTest,
  hmmPfnToPage,
  hmmRangeFault,
} from '../../hmm/modern/index.js';
import { mmput } from '../../mm/mm.js';
import { mmuIntervalReadBegin, mmuIntervalReadRetry } from '../../mm/mmu_interval_notifier.js';
import type { Task } from '../../sched/index.js';
import type { DmirrorReadResult, DmirrorWriteResult } from '../dmirror/uapi.js';
import type { TestHmmDmirror } from './dmirror.js';

/** Pages per hmm_range in dmirror_fault and dmirror_snapshot (their `unsigned long pfns[32]`). */
export const DMIRROR_RANGE_BATCH = 32;
/** dmirror_range_fault gives up with -EBUSY after HMM_RANGE_DEFAULT_TIMEOUT: here, this many rounds. */
export const DMIRROR_RANGE_RETRIES_MAX = 1000;

/** struct dmirror_bounce: the buffer a command copies through, and the pages done so far. */
export interface DmirrorBounce {
  /** The buffer (vmalloc'd in the kernel). */
  readonly ptr: Uint8Array;
  /** The user address its first byte stands for. */
  readonly addr: number;
  /** Pages copied so far. */
  cpages: number;
}

/** The ioctl prologue: -EINVAL unless addr is page aligned and addr + npages pages is above it. */
export function dmirrorCheckCmd(addr: number, npages: number): number {
  if (!Number.isSafeInteger(addr) || addr < 0 || addr % PAGE_SIZE !== 0) return -EINVAL;
  if (!Number.isSafeInteger(npages) || npages <= 0) return -EINVAL;
  return 0;
}

/**
 * dmirror_bounce_init: vmalloc fails (null) beyond CALL_PAGES_MAX pages. The buffer comes from the
 * machine's arrays (vmalloc's memory): a READ hands it to the caller instead of copying it to a
 * user buffer, so it is valid until the machine is released.
 */
export function dmirrorBounceInit(
  dmirror: TestHmmDmirror,
  addr: number,
  npages: number,
): DmirrorBounce | null {
  if (npages > CALL_PAGES_MAX) return null;
  return { ptr: dmirror.mdevice.kernel.mem.arrays.u8(npages * PAGE_SIZE), addr, cpages: 0 };
}

/** dmirror_do_read: copy from each mapped page from `start` on; -ENOENT at the first unmapped one. */
export function dmirrorDoRead(
  dmirror: TestHmmDmirror,
  start: number,
  end: number,
  bounce: DmirrorBounce,
): number {
  const dma = dmirror.mdevice.device.dma;
  for (let a = start; a < end; a += PAGE_SIZE) {
    const pfn = dmirror.pt.pfnOf(a / PAGE_SIZE);
    if (pfn < 0) return -ENOENT;
    dma.read(pfn, 0, bounce.ptr, a - bounce.addr, PAGE_SIZE);
    bounce.cpages++;
  }
  return 0;
}

/** dmirror_do_write: as do_read, but an entry without the WRITE tag is missing too. */
function dmirrorDoWrite(dmirror: TestHmmDmirror, start: number, end: number, bounce: DmirrorBounce): number {
  const dma = dmirror.mdevice.device.dma;
  for (let a = start; a < end; a += PAGE_SIZE) {
    const vpn = a / PAGE_SIZE;
    if (!dmirror.pt.isWritable(vpn)) return -ENOENT;
    dma.write(dmirror.pt.pfnOf(vpn), 0, bounce.ptr, a - bounce.addr, PAGE_SIZE);
    bounce.cpages++;
  }
  return 0;
}

/**
 * The loop READ and WRITE share: copy under the mutex; on -ENOENT fault the rest of the range from
 * the first missing page and count a fault round. Returns 0 or the error that ended it.
 */
function* dmirrorCopyLoop(
  dmirror: TestHmmDmirror,
  addr: number,
  end: number,
  bounce: DmirrorBounce,
  write: boolean,
): Task<{ ret: number; faults: number }> {
  let start = addr;
  let faults = 0;
  for (;;) {
    yield* dmirror.mutex.lock();
    let ret = write
      ? dmirrorDoWrite(dmirror, start, end, bounce)
      : dmirrorDoRead(dmirror, start, end, bounce);
    dmirror.mutex.unlock();
    if (ret !== -ENOENT) return { ret, faults };
    start = addr + bounce.cpages * PAGE_SIZE;
    ret = yield* dmirrorFault(dmirror, start, end, write);
    if (ret !== 0) return { ret, faults };
    faults++;
  }
}

/** dmirror_read (HMM_DMIRROR_READ): the range's bytes as the device sees them. */
export function* dmirrorRead(
  dmirror: TestHmmDmirror,
  addr: number,
  npages: number,
): Task<DmirrorReadResult | number> {
  const bad = dmirrorCheckCmd(addr, npages);
  if (bad) return bad;
  const bounce = dmirrorBounceInit(dmirror, addr, npages);
  if (bounce === null) return -ENOMEM;
  const { ret, faults } = yield* dmirrorCopyLoop(dmirror, addr, addr + npages * PAGE_SIZE, bounce, false);
  if (ret !== 0) return ret;
  return { data: bounce.ptr, cpages: bounce.cpages, faults };
}

/** dmirror_write (HMM_DMIRROR_WRITE): the device stores `bytes` (zero-padded to whole pages). */
export function* dmirrorWrite(
  dmirror: TestHmmDmirror,
  addr: number,
  bytes: Uint8Array,
): Task<DmirrorWriteResult | number> {
  const npages = Math.ceil(bytes.length / PAGE_SIZE);
  const bad = dmirrorCheckCmd(addr, npages);
  if (bad) return bad;
  const bounce = dmirrorBounceInit(dmirror, addr, npages);
  if (bounce === null) return -ENOMEM;
  bounce.ptr.set(bytes);
  const { ret, faults } = yield* dmirrorCopyLoop(dmirror, addr, addr + npages * PAGE_SIZE, bounce, true);
  if (ret !== 0) return ret;
  return { cpages: bounce.cpages, faults };
}

/** dmirror_fault: hmm_range_fault [start, end) for reading or writing, 32 pages at a time. */
export function* dmirrorFault(
  dmirror: TestHmmDmirror,
  start: number,
  end: number,
  write: boolean,
): Task<number> {
  const mm = dmirror.mm;
  if (!mm.mmgetNotZero()) return -EFAULT;
  const range: HmmRange = {
    notifier: dmirror.notifier,
    notifierSeq: 0,
    start,
    end: start,
    // on dmirror_fault's stack in the kernel; here the machine's arrays (core/host_arrays.ts)
    hmmPfns: dmirror.mdevice.kernel.mem.arrays.f64(DMIRROR_RANGE_BATCH),
    defaultFlags: HMM_PFN_REQ_FAULT + (write ? HMM_PFN_REQ_WRITE : 0),
    pfnFlagsMask: 0,
    devPrivateOwner: dmirror.mdevice,
  };
  let ret = 0;
  for (let addr = start; addr < end; addr = range.end) {
    range.start = addr;
    range.end = Math.min(addr + DMIRROR_RANGE_BATCH * PAGE_SIZE, end);
    ret = yield* dmirrorRangeFault(dmirror, range);
    if (ret !== 0) break;
  }
  yield* mmput(mm);
  return ret;
}

/**
 * dmirror_range_fault: hmm_range_fault until it succeeds and no invalidation ran since
 * read_begin (checked under the mutex), then dmirror_do_fault under that same mutex.
 */
export function* dmirrorRangeFault(dmirror: TestHmmDmirror, range: HmmRange): Task<number> {
  for (let tries = 0; ; tries++) {
    if (tries === DMIRROR_RANGE_RETRIES_MAX) return -EBUSY;
    range.notifierSeq = yield* mmuIntervalReadBegin(range.notifier);
    const ret = yield* dmirror.rangeWalk(range);
    if (ret === -EBUSY) continue;
    if (ret !== 0) return ret;
    if (yield* dmirror.lockIfCurrent(range)) break;
  }
  return yield* dmirror.programAndUnlock(range);
}

/** dmirror_range_fault's walk: hmm_range_fault under mmap_read_lock. */
export function* dmirrorRangeWalk(dmirror: TestHmmDmirror, range: HmmRange): Task<number> {
  const mm = dmirror.mm;
  yield* mm.mmapSem.downRead();
  const ret = yield* hmmRangeFault(range);
  mm.mmapSem.upRead();
  return ret;
}

/**
 * mutex_lock, then mmu_interval_read_retry under it: true, with the mutex kept, if no invalidation
 * ran since read_begin; false, unlocked, if one did (the walk's pfns may be stale).
 */
export function* dmirrorLockIfCurrent(dmirror: TestHmmDmirror, range: HmmRange): Task<boolean> {
  yield* dmirror.mutex.lock();
  if (!mmuIntervalReadRetry(range.notifier, range.notifierSeq)) return true;
  dmirror.mutex.unlock();
  return false;
}

/** dmirror_do_fault under the mutex lockIfCurrent kept, then mutex_unlock. */
export function dmirrorProgramAndUnlock(dmirror: TestHmmDmirror, range: HmmRange): number {
  const ret = dmirrorDoFault(dmirror, range);
  dmirror.mutex.unlock();
  return ret;
}

/**
 * dmirror_do_fault: every entry into the device page table, tagged WRITE if HMM_PFN_WRITE. A
 * read-only entry when write was asked (this device's own read-only private page, which
 * hmm_range_fault never faults) is -EFAULT, after the kernel's WARN_ON.
 */
export function dmirrorDoFault(dmirror: TestHmmDmirror, range: HmmRange): number {
  // The caller holds dmirror->mutex, as in the kernel (which does not assert it here): the rules
  // checker reports a store without it (src/check/rules.ts).
  const first = range.start / PAGE_SIZE;
  const n = (range.end - range.start) / PAGE_SIZE;
  const writeAsked = hmmPfnTest(range.defaultFlags, HMM_PFN_WRITE);
  for (let i = 0; i < n; i++) {
    const e = range.hmmPfns[i] as number;
    // hmm_range_fault succeeded with REQ_FAULT: every entry is VALID and none is ERROR.
    if (hmmPfnTest(e, HMM_PFN_ERROR) || !hmmPfnTest(e, HMM_PFN_VALID))
      throw new KernelWarning(`WARNING: dmirror_do_fault: entry ${i} of a successful fault is not valid`);
    const write = hmmPfnTest(e, HMM_PFN_WRITE);
    if (!write && writeAsked) return -EFAULT;
    dmirror.mmu.map(first + i, hmmPfnToPage(e), write);
  }
  return 0;
}
