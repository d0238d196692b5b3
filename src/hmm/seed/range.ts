/**
 * Ranges: how a driver reads the CPU page table of a mirrored mm into its own entry format, and
 * learns whether what it read is still current.
 *
 *   hmmRangeRegister(range, mirror, start, end, pageShift)   start tracking [start, end)
 *   hmmRangeWaitUntilValid(range, ms)                        sleep until no invalidation is in flight
 *   mmap_sem down_read; hmmRangeSnapshot(range) or hmmRangeFault(range, block)
 *   driver lock; if (!hmmRangeValid(range)) retry; program the device from range.pfns
 *   hmmRangeUnregister(range)
 *
 * Both walkers return the number of pages from range.start up to an internal cursor (≥ 0, and
 * possibly fewer than npages, even 0, when the range ends in an unpopulated PMD-sized hole although
 * every entry was written), or -errno:
 *   -EBUSY   the range is invalid (an invalidation is in flight): wait and retry. Checked at each
 *            VMA, and, in hmm_range_fault, after each fault's rewalk.
 *   -EFAULT  no VMA at or after the cursor, a VM_IO/VM_PFNMAP/VM_MIXEDMAP VMA, a special PTE, a
 *            poisoned entry, a failed fault (VM_FAULT_ERROR), a fault requested in a no-VMA gap
 *   -EINVAL  pageShift is not PAGE_SHIFT (there is no hugetlbfs here)
 *   -EPERM   a VMA without VM_READ (then EVERY entry of the range is NONE), or a write requested
 *            on a VMA without VM_WRITE (v5.4)
 *   -EAGAIN  hmm_range_fault with block = false if a fault dropped mmap_sem: cannot happen here,
 *            this model's handle_mm_fault never returns VM_FAULT_RETRY
 * On an error hmm_range_fault overwrites every entry from the cursor to the end with NONE (so the
 * ERROR it wrote is usually lost); hmm_range_snapshot ignores errors inside a VMA's walk, leaving
 * the rest of that VMA's entries at their input values, and goes on with the next VMA.
 *
 * -------------------------------------------------------------------------------------------------
 * Divergences from Linux v5.3 (DESIGN decision 8: v5.3 bugs the doc does not describe are fixed
 * with the release that fixed them; the rest are model limits). docs/fidelity.md lists them too.
 *
 *  1. Zero page (v5.5 fix). The shared zero page (a special PTE) is reported as a normal read-only
 *     entry E(ZERO_PFN) (VALID, no WRITE); a read request succeeds and a write request faults it
 *     (copy-on-write). [seed]: values[SPECIAL] and the walk stops with -EFAULT (snapshot: the rest
 *     of the VMA keeps its input values; fault: the call fails), so any never-written anonymous
 *     page made hmm_range_fault fail. Other special PTEs still give SPECIAL / -EFAULT.
 *  2. Swapped-out pages (v5.4 fix). The need-fault decision is made for a swap entry: not
 *     requested → NONE; requested → handle_mm_fault, which cannot swap in here (no swap device:
 *     VM_FAULT_SIGBUS) → -EFAULT. [seed]: NONE, never faulted, no error.
 *  3. PTE-level migration entries (v5.7 fix). Requested → wait for the migration through the fault
 *     path (do_swap_page sleeps on the page lock), then walk again from that page. Not requested →
 *     NONE. [seed]: NONE, never waited on, even in fault mode.
 *  4. VM_WRITE (v5.4 fix). A write fault in a VMA without VM_WRITE returns -EPERM (entries from the
 *     failing page on become NONE). [seed]: no check, so core mm kept the PTE read-only and HMM
 *     faulted again for as long as the range stayed valid (a livelock).
 *  5. Fault requested in a gap with no VMA (v5.4 fix): ERROR then -EFAULT (and the fault-mode
 *     overwrite turns the entries into NONE). [seed]: handle_mm_fault(NULL vma), a kernel crash.
 *  6. Upper-level holes. The walk visits one PMD-sized span at a time (the page-table pool's walk),
 *     so a none PGD or PUD entry is seen as one hole per PMD span. v5.3 reports it as one hole up
 *     to the end of the PGD/PUD span: a fault there covers the whole span (still clipped to the
 *     range and VMA) and the cursor stops at that hole's start. The model matches a process whose
 *     upper levels are populated, which is what real processes look like.
 *  7. No huge mappings: THP and devmap PMDs, PMD migration entries, bad PMDs, PUD devmap and
 *     hugetlbfs (page_shift = huge shift) do not exist in this mm, so their §2.8 rows cannot occur.
 *     range.vma is the VMA being walked, as in v5.3.
 *  8. -EAGAIN cannot occur: block = false passes FAULT_FLAG_ALLOW_RETRY, but handle_mm_fault here
 *     never drops mmap_sem or returns VM_FAULT_RETRY. block = true is exact (v5.3).
 *  9. Entries are JS numbers (DESIGN decision 7): `pfn * 2**pfnShift + flags`, flags below
 *     2**pfnShift, pfnShift ≤ 12 (entry.ts). The tables are validated (ArgumentError).
 * 10. Misuse that corrupts memory in v5.3 is reported instead: a second hmm_range_unregister (v5.3
 *     poisons range->hmm) is a KernelWarning; using a range that is not registered, or registering
 *     through a mirror that never was, is a KernelBug (a NULL dereference in v5.3). lockdep
 *     assertions throw (LockdepBug) instead of printing a WARN and continuing.
 * 11. Scheduling points: one before each PMD span walked (skipped in atomic context: v5.3's
 *     snapshot never sleeps) and one before each handle_mm_fault, so the explorer can start an
 *     invalidation in the middle of a walk. Code between two of them is atomic.
 * 12. The mmap_sem check is lockdep_assert_held: held for read OR write passes.
 * 13. -ENOMEM is never returned by snapshot/fault (as in v5.3, where VM_FAULT_OOM becomes -EFAULT).
 * 14. hmm_range_dma_map/unmap (§2.13) are not modelled.
 * -------------------------------------------------------------------------------------------------
 *
 * Protocol 'seq' (validity.ts; docs/explorer.md): the same calls, with v5.5 mmu_interval_notifier
 * semantics on the range's mirror, so a driver written for the seed API runs unchanged. Every
 * protocol-dependent step is one call of the hmm's RangeValidity strategy.
 *
 * The § numbers in this file are docs/kernel-hmm.md's.
 *
 * @see mm/hmm.c (hmm_range_register, hmm_range_unregister, hmm_range_snapshot, hmm_range_fault),
 *      include/linux/hmm.h (struct hmm_range, hmm_range_valid, hmm_range_wait_until_valid,
 *      HMM_RANGE_DEFAULT_TIMEOUT) (Linux v5.3)
 */

import { PAGE_SHIFT, PAGE_SIZE } from '../../core/addr.js';
import { KernelBug, KernelWarning } from '../../core/assert.js';
import { ArgumentError, EBUSY, EFAULT, EINVAL, EPERM } from '../../core/errno.js';
import { mmput } from '../../mm/mm.js';
import type { Vma } from '../../mm/vma.js';
import { VM_IO, VM_MIXEDMAP, VM_PFNMAP, VM_READ } from '../../mm/vma.js';
import type { Task } from '../../sched/index.js';
import { NSEC_PER_MSEC } from '../../sched/index.js';
import { checkRangeTables } from './entry.js';
import { invalState, rangeRead, rangeRegistered, rangeWrite } from './footprint.js';
import { hmmGet, hmmPut } from './hmm.js';
import { type Hmm, type HmmMirror, HmmRange, type HmmRangeInit } from './types.js';

export { HmmRange, type HmmRangeInit };

import { HmmVmaWalk, hmmPfnsClear, hmmWalkPageRange } from './walk.js';

/** HMM_RANGE_DEFAULT_TIMEOUT, in milliseconds. */
export const HMM_RANGE_DEFAULT_TIMEOUT = 1000;

/** VMAs HMM refuses: device-file mappings (v5.3's `device_vma`). */
const DEVICE_VMA = VM_IO | VM_PFNMAP | VM_MIXEDMAP;

/**
 * hmm_range_register ([5.3]): track CPU page-table changes over [start, end) of the mirror's mm.
 * -EINVAL if start or end is not aligned to 1 << pageShift or start >= end; -EFAULT if the mm's
 * address space is already being torn down (mmget_not_zero fails). On success the range holds an
 * mm_users reference until hmmRangeUnregister, so exit_mmap (and the mirrors' release) cannot run
 * meanwhile, and it starts valid only if no invalidation is in flight on the mm.
 */
export function hmmRangeRegister(
  range: HmmRange,
  mirror: HmmMirror,
  start: number,
  end: number,
  pageShift: number,
): number {
  if (!Number.isSafeInteger(start) || start < 0)
    throw new ArgumentError('start', `expected an address, got ${start}`);
  if (!Number.isSafeInteger(end) || end < 0)
    throw new ArgumentError('end', `expected an address, got ${end}`);
  if (!Number.isInteger(pageShift) || pageShift < 0 || pageShift > 63) {
    throw new ArgumentError('pageShift', `expected an integer shift in 0..63, got ${pageShift}`);
  }
  checkRangeTables(range);
  if (range.hmm !== null) rangeRead(range.hmm, range.mirror);
  if (range.registered && range.hmm?.ranges.includes(range)) {
    throw new KernelWarning('list_add double add: hmm_range_register of a range that is already registered');
  }
  const hmm = mirror.hmm;
  if (hmm === null)
    throw new KernelBug('BUG: hmm_range_register: mirror is not registered (NULL mirror->hmm)');
  if (hmm.kref <= 0) throw new KernelBug("BUG: hmm_range_register: use-after-free of the mirror's hmm");

  range.valid = false;
  range.hmm = null;
  range.poisoned = false;
  const size = 2 ** pageShift;
  if (start % size !== 0 || end % size !== 0) return -EINVAL;
  if (start >= end) return -EINVAL;
  range.pageShift = pageShift;
  range.start = start;
  range.end = end;

  // Prevent hmm_release() from running while the range is registered.
  if (!hmm.mm.mmgetNotZero()) return -EFAULT;

  hmm.rangesLock.lock();
  rangeRegistered(hmm, mirror);
  invalState(hmm, 'read');
  range.hmm = hmm;
  range.mirror = mirror;
  hmmGet(hmm);
  hmm.ranges.unshift(range);
  // With invalidations in flight the range starts invalid (see hmmRangeWaitUntilValid).
  if (hmm.notifiers === 0) range.valid = true;
  hmm.validity.register(range, mirror, hmm);
  hmm.rangesLock.unlock();
  hmm.mm.kernel.counters.inc('hmm_range_register');
  return 0;
}

/**
 * hmm_range_unregister ([5.3]): stop tracking, drop the mm_users reference (mmput: the last one
 * runs exit_mmap, so this may sleep) and the hmm reference, invalidate and poison the range.
 * A second call is a KernelWarning (v5.3 dereferences the poisoned pointer).
 */
export function* hmmRangeUnregister(range: HmmRange): Task {
  if (range.poisoned) {
    throw new KernelWarning(
      'WARNING: hmm_range_unregister: range already unregistered (v5.3 poisons range->hmm: a second call dereferences POISON_INUSE)',
    );
  }
  const hmm = range.hmm;
  if (hmm === null) {
    throw new KernelWarning('WARNING: hmm_range_unregister: range is not registered (NULL range->hmm)');
  }
  hmm.rangesLock.lock();
  rangeWrite(hmm, range.mirror);
  const i = hmm.ranges.indexOf(range);
  if (i >= 0) hmm.ranges.splice(i, 1);
  hmm.rangesLock.unlock();
  if (i < 0) {
    throw new KernelWarning(
      'WARNING: hmm_range_unregister: range is not on its hmm (concurrent double unregister)',
    );
  }
  hmm.mm.kernel.counters.inc('hmm_range_unregister');
  // Drop the references taken by hmm_range_register.
  yield* mmput(hmm.mm);
  hmmPut(hmm);
  range.valid = false;
  range.poisoned = true;
}

/**
 * hmm_range_valid: call it under the lock the mirror's sync_cpu_device_pagetables takes.
 * Protocol 'seq': !mmu_interval_read_retry(range->notifier, range->notifier_seq).
 */
export function hmmRangeValid(range: HmmRange): boolean {
  const hmm = range.hmm;
  if (hmm === null) return range.valid;
  const trace = hmm.machine.trace;
  if (trace.enabled) trace.emit('hmm_range_valid', { range });
  if (range.poisoned) return range.valid;
  return hmm.validity.current(range);
}

/**
 * hmm_range_wait_until_valid ([5.3]): wait_event_timeout(hmm->wq, range->valid, timeout) != 0 —
 * true if the range is valid now or becomes valid within `timeoutMs` of virtual time.
 */
export function* hmmRangeWaitUntilValid(range: HmmRange, timeoutMs: number): Task<boolean> {
  if (!(timeoutMs >= 0) || !Number.isFinite(timeoutMs)) {
    throw new ArgumentError('timeoutMs', `expected a finite duration >= 0, got ${timeoutMs}`);
  }
  const hmm = rangeHmm(range, 'hmm_range_wait_until_valid');
  return yield* hmm.validity.waitUntilValid(range, hmm, timeoutMs * NSEC_PER_MSEC);
}

/**
 * hmm_range_snapshot ([5.3]): read the CPU page table into range.pfns without faulting. mmap_sem
 * must be held (lockdep-checked). Returns the page count (see the file comment) or -errno.
 */
export function hmmRangeSnapshot(range: HmmRange): Task<number> {
  return hmmRangeWalkVmas(range, 'hmm_range_snapshot', false, false);
}

/**
 * hmm_range_fault ([5.3]): as snapshot, but fault what the requests ask for (§2.9), through the
 * normal fault path, PMD chunk by PMD chunk (§2.10). `block` = true: faults may sleep and keep
 * mmap_sem; false: FAULT_FLAG_ALLOW_RETRY (-EAGAIN cannot happen in this model).
 */
export function hmmRangeFault(range: HmmRange, block: boolean): Task<number> {
  return hmmRangeWalkVmas(range, 'hmm_range_fault', true, block);
}

/**
 * The per-VMA loop snapshot and fault share (v5.3 writes it twice): the validity and VMA checks of
 * §2.5 at each VMA, then the walk. A snapshot ignores a walk error (the rest of that VMA keeps its
 * input values); a fault walks again while the walk faulted (-EBUSY) and the range stays valid, and
 * on any other error sets every entry from the cursor on to NONE.
 */
function* hmmRangeWalkVmas(range: HmmRange, fn: string, fault: boolean, block: boolean): Task<number> {
  const hmm = rangeHmm(range, fn);
  const mm = hmm.mm;
  mm.mmapSem.assertHeld('any');
  checkRangeTables(range);
  checkPfns(range);
  const walk = new HmmVmaWalk(range, mm, fault, block);
  let start = range.start;
  do {
    // If the range is no longer valid, force a retry.
    if (!hmm.validity.current(range)) return -EBUSY;
    const vma = mm.findVma(start);
    const err = checkVma(range, vma);
    if (err !== 0) return err;
    const v = vma as Vma;
    range.vma = v;
    walk.last = start;
    const end = Math.min(range.end, v.end);
    let ret = yield* hmmWalkPageRange(walk, start, end);
    while (fault && ret === -EBUSY && hmm.validity.current(range)) {
      ret = yield* hmmWalkPageRange(walk, walk.last, end);
    }
    if (fault && ret !== 0) {
      hmmPfnsClear(range, walk.last, range.end);
      return ret;
    }
    start = end;
  } while (start < range.end);
  return Math.floor((walk.last - range.start) / PAGE_SIZE);
}

/** range->hmm for a call that dereferences it. */
function rangeHmm(range: HmmRange, fn: string): Hmm {
  if (range.poisoned) {
    throw new KernelBug(
      `BUG: ${fn}: range was unregistered (general protection fault on poisoned range->hmm)`,
    );
  }
  if (range.hmm === null) throw new KernelBug(`BUG: ${fn}: range is not registered (NULL range->hmm)`);
  return range.hmm;
}

/** The per-VMA preconditions of §2.5: 0, or the error to return (after the -EPERM clear). */
function checkVma(range: HmmRange, vma: Vma | null): number {
  if (vma === null || (vma.flags & DEVICE_VMA) !== 0) return -EFAULT;
  // No hugetlbfs in this model: every VMA needs page_shift == PAGE_SHIFT.
  if (range.pageShift !== PAGE_SHIFT) return -EINVAL;
  if ((vma.flags & VM_READ) === 0) {
    // HMM assumes no VMA is writable without being readable: the whole range becomes NONE.
    hmmPfnsClear(range, range.start, range.end);
    return -EPERM;
  }
  return 0;
}

function checkPfns(range: HmmRange): void {
  const n = Math.floor((range.end - range.start) / PAGE_SIZE);
  if (range.pfns.length < n) {
    throw new ArgumentError('range.pfns', `needs one entry per page (${n}), has ${range.pfns.length}`);
  }
}
