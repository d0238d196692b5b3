/**
 * madvise: MADV_DONTNEED (drop the pages of a range; anonymous memory reads back as zeros) with
 * mmap_sem held only for read, as Linux does, MADV_POPULATE_READ/WRITE (v5.14) to fault a
 * range in, MADV_FREE (lazy free of private anonymous pages; reclaim in vmscan.ts drops them),
 * MADV_HUGEPAGE/MADV_NOHUGEPAGE (the VMA's THP advice) and MADV_COLLAPSE (v6.1, khugepaged.ts).
 * DONTNEED of a whole huge PMD zaps it whole; of part of one splits it first.
 *
 * @see mm/madvise.c (Linux v5.3; populate from v5.14; MADV_FREE as of v6.19)
 */

import { isPageAligned, PAGE_SIZE, PMD_SIZE, pageAlignUp, pmdAddrEnd } from '../core/addr.js';
import { EFAULT, EINVAL, ENOMEM } from '../core/errno.js';
import type { Task } from '../sched/index.js';
import { schedule } from '../sched/index.js';
import { doAnonymousPage, FAULT_FLAG_WRITE, handleMmFault, VM_FAULT_ERROR, VM_FAULT_OOM } from './fault.js';
import { splitHugePage, splitHugePmdsIn, thpVmaAllowable } from './huge_memory.js';
import { hugetlbSplitAllowed } from './hugetlb.js';
import { madviseCollapse } from './khugepaged.js';
import { zapRange } from './memory.js';
import type { MmStruct } from './mm.js';
import { decMmCounter, MM_SWAPENTS } from './mm.js';
import { isolateRange, vmaMergeAround } from './mmap.js';
import {
  MMU_NOTIFY_CLEAR,
  mmuNotifierInvalidateRangeEnd,
  mmuNotifierInvalidateRangeStart,
  notifierRange,
} from './mmu_notifier.js';
import { clearPageFlags, PG_anon, PG_dirty, PG_head, PG_swapbacked, PG_tail } from './page.js';
import { LEVEL_PTE, pteSlotIn } from './pagetable.js';
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_SPECIAL,
  pmdHuge,
  pteAccessible,
  pteNone,
  ptePfn,
  ptePresent,
  SWP_HWPOISON,
  SWP_SWAPFILE,
  swpType,
} from './pte.js';
import './vmscan.js';
import type { Vma } from './vma.js';
import {
  VM_HUGEPAGE,
  VM_HUGETLB,
  VM_IO,
  VM_LOCKED,
  VM_NOHUGEPAGE,
  VM_PFNMAP,
  VM_READ,
  VM_WRITE,
} from './vma.js';

/** The default: no special treatment. */
export const MADV_NORMAL = 0;
/** Drop the pages now: private anonymous memory reads back as zeros. */
export const MADV_DONTNEED = 4;
/** The pages may be reclaimed lazily unless written again. */
export const MADV_FREE = 8;
/** Fault the pages in for reading, as a read would (v5.14). */
export const MADV_POPULATE_READ = 22;
/** Fault the pages in for writing, breaking COW (v5.14). */
export const MADV_POPULATE_WRITE = 23;
/** Allow THP for the range when the THP mode is 'madvise'. */
export const MADV_HUGEPAGE = 14;
/** Never back the range with THP (VM_NOHUGEPAGE). */
export const MADV_NOHUGEPAGE = 15;
/** Collapse the range into huge pages now (v6.1). */
export const MADV_COLLAPSE = 25;

/** Whether `advice` is one of the MADV_* values this model implements; others are -EINVAL. */
export function isKnownAdvice(advice: number): boolean {
  return (
    advice === MADV_NORMAL ||
    advice === MADV_DONTNEED ||
    advice === MADV_FREE ||
    advice === MADV_POPULATE_READ ||
    advice === MADV_POPULATE_WRITE ||
    advice === MADV_HUGEPAGE ||
    advice === MADV_NOHUGEPAGE ||
    advice === MADV_COLLAPSE
  );
}

/**
 * do_madvise(): applies `advice` to [start, start+len); 0 or -errno (-EINVAL bad advice or start, -ENOMEM
 * a hole). @see mm/madvise.c
 */
export function* doMadvise(mm: MmStruct, start: number, len: number, advice: number): Task<number> {
  if (!isKnownAdvice(advice) || !isPageAligned(start)) return -EINVAL;
  len = pageAlignUp(len);
  const end = start + len;
  // v5.3 checks only for wrap-around; a range past the top of user space ends in a hole (-ENOMEM).
  if (end < start) return -EINVAL;
  if (len === 0 || advice === MADV_NORMAL) return 0;
  if (advice === MADV_HUGEPAGE || advice === MADV_NOHUGEPAGE)
    return yield* madviseHugepage(mm, start, end, advice);
  if (advice === MADV_COLLAPSE) {
    // Held for write throughout (the kernel takes it for read and upgrades for the collapse).
    yield* mm.mmapSem.downWrite();
    try {
      return yield* forEachVma(mm, start, end, (vma, s, e) => madviseCollapse(mm, vma, s, e));
    } finally {
      mm.mmapSem.upWrite();
    }
  }
  yield* mm.mmapSem.downRead();
  try {
    return yield* forEachVma(mm, start, end, (vma, s, e) => {
      if (advice === MADV_DONTNEED) return madviseDontneed(mm, vma, s, e);
      if (advice === MADV_FREE) return madviseFree(mm, vma, s, e);
      return madvisePopulate(mm, vma, s, e, advice === MADV_POPULATE_WRITE);
    });
  } finally {
    mm.mmapSem.upRead();
  }
}

/**
 * hugepage_madvise under mmap_sem for write: MADV_HUGEPAGE sets VM_HUGEPAGE and clears
 * VM_NOHUGEPAGE, MADV_NOHUGEPAGE the reverse, on the VMAs split to the range and merged afterwards
 * (madvise_update_vma). Existing huge PMDs stay: NOHUGEPAGE only stops new ones.
 *
 * @see mm/khugepaged.c hugepage_madvise, mm/madvise.c madvise_update_vma (Linux v6.19)
 */
function* madviseHugepage(mm: MmStruct, start: number, end: number, advice: number): Task<number> {
  const [set, clear] = advice === MADV_HUGEPAGE ? [VM_HUGEPAGE, VM_NOHUGEPAGE] : [VM_NOHUGEPAGE, VM_HUGEPAGE];
  yield* mm.mmapSem.downWrite();
  try {
    // __split_vma → hugetlb_vm_op_split: a hugetlb VMA splits on 2 MiB boundaries only.
    if (!hugetlbSplitAllowed(mm, start, end)) return -EINVAL;
    return yield* forEachVma(mm, start, end, (vma, s, e) => {
      const flags = (vma.flags & ~clear) | set;
      if (flags === vma.flags) return 0;
      for (const v of isolateRange(mm, s, e)) {
        v.flags = (v.flags & ~clear) | set;
        vmaMergeAround(mm, v);
      }
      return 0;
    });
  } finally {
    mm.mmapSem.upWrite();
  }
}

/** madvise_walk_vmas: applies `fn` to each VMA part; a hole in the range is -ENOMEM once done. */
function* forEachVma(
  mm: MmStruct,
  start: number,
  end: number,
  fn: (vma: Vma, s: number, e: number) => Task<number> | number,
): Task<number> {
  let hole = false;
  let addr = start;
  while (addr < end) {
    const vma = mm.findVma(addr);
    if (vma === null || vma.start >= end) {
      hole = true;
      break;
    }
    if (vma.start > addr) hole = true;
    const s = Math.max(addr, vma.start);
    const e = Math.min(end, vma.end);
    const t = fn(vma, s, e);
    const r = typeof t === 'number' ? t : yield* t;
    if (r < 0) return r;
    addr = e;
  }
  return hole ? -ENOMEM : 0;
}

/** madvise_dontneed_single_vma → zap_page_range, invalidation event CLEAR. */
function* madviseDontneed(mm: MmStruct, vma: Vma, start: number, end: number): Task<number> {
  if (vma.flags & (VM_LOCKED | VM_HUGETLB | VM_PFNMAP)) return -EINVAL;
  const range = notifierRange(mm, start, end, MMU_NOTIFY_CLEAR);
  yield* mmuNotifierInvalidateRangeStart(range);
  zapRange(mm, start, end);
  yield* mmuNotifierInvalidateRangeEnd(range);
  mm.kernel.counters.inc('madv_dontneed');
  return 0;
}

/**
 * madvise_free_single_vma: only private anonymous VMAs (-EINVAL otherwise: file, shmem, locked,
 * hugetlb, pfnmap), inside a CLEAR invalidation, then madvise_free_pte_range on each PTE.
 */
function* madviseFree(mm: MmStruct, vma: Vma, start: number, end: number): Task<number> {
  if (vma.flags & (VM_LOCKED | VM_HUGETLB | VM_PFNMAP) || !vma.isAnonymous()) return -EINVAL;
  const range = notifierRange(mm, start, end, MMU_NOTIFY_CLEAR);
  yield* mmuNotifierInvalidateRangeStart(range);
  splitHugePmdsIn(mm, start, end);
  mm.kernel.pt.walk(mm.pgd, start, end, {
    present: (t, a, b) => {
      madviseFreePteRange(mm, t, a, b);
      return 0;
    },
    hole: () => 0,
  });
  yield* mmuNotifierInvalidateRangeEnd(range);
  mm.kernel.counters.inc('madv_free');
  return 0;
}

/**
 * madvise_free_pte_range: swap entries are freed and hwpoison entries cleared (v6.0+); every other
 * non-present entry (device-private, migration) is left alone. A present normal page mapped here
 * loses the PTE's dirty and accessed bits; its PG_dirty is cleared unless it is mapped shared (then
 * it is skipped), or skipped if it is locked; then it is marked lazyfree (folio_mark_lazyfree).
 */
function madviseFreePteRange(mm: MmStruct, t: number, start: number, end: number): void {
  const { pt, mem } = mm.kernel;
  const s = mem.store;
  const first = pteSlotIn(t, start);
  const last = first + (end - start) / PAGE_SIZE;
  for (let slot = first; slot < last; slot++) {
    const lo = pt.lo[slot] as number;
    if (pteNone(lo, pt.hi[slot] as number)) continue;
    if (!ptePresent(lo)) {
      madviseFreeSwapEntry(mm, slot, lo);
      continue;
    }
    const pfn = ptePfn(lo, pt.hi[slot] as number);
    if (lo & _PAGE_SPECIAL || s.isZoneDevice(pfn)) continue;
    if ((s.flags[pfn] as number) & (PG_head | PG_tail) && !splitHugePage(mm.kernel, s.compoundHead(pfn), 0))
      continue;
    if ((s.flags[pfn] as number) & PG_dirty) {
      if (s.isLocked(pfn) || (s.mapcount[pfn] as number) > 1) continue;
      clearPageFlags(s, pfn, PG_dirty);
    }
    pt.lo[slot] = (lo & ~(_PAGE_DIRTY | _PAGE_ACCESSED)) >>> 0;
    folioMarkLazyfree(mm, pfn);
  }
}

function madviseFreeSwapEntry(mm: MmStruct, slot: number, lo: number): void {
  const type = swpType(lo);
  if (type === SWP_SWAPFILE) decMmCounter(mm, MM_SWAPENTS);
  const poison = type === SWP_HWPOISON && mm.kernel.behaviour.madvFreeClearsHwpoison;
  if (type === SWP_SWAPFILE || poison) mm.kernel.pt.clear(slot);
}

/** folio_mark_lazyfree: an anonymous swap-backed page loses PG_swapbacked and joins the lazyfree list. */
function folioMarkLazyfree(mm: MmStruct, pfn: number): void {
  const s = mm.kernel.mem.store;
  const f = s.flags[pfn] as number;
  if ((f & (PG_anon | PG_swapbacked)) !== (PG_anon | PG_swapbacked)) return;
  clearPageFlags(s, pfn, PG_swapbacked);
  mm.kernel.lazyfree.delete(pfn);
  mm.kernel.lazyfree.add(pfn);
}

/**
 * faultin_vma_page_range: fault in every page that is not already accessible the way asked. Within
 * each PMD-sized span, pages whose entry is none in an anonymous VMA take do_anonymous_page
 * directly — exactly what handle_mm_fault would run for them — and anything else goes through
 * handle_mm_fault. One scheduling point per span, as cond_resched would give.
 */
function* madvisePopulate(mm: MmStruct, vma: Vma, start: number, end: number, write: boolean): Task<number> {
  // faultin_vma_page_range → check_vma_flags: incompatible mappings or permissions are -EINVAL.
  if (vma.flags & (VM_PFNMAP | VM_IO)) return -EINVAL;
  if (!(vma.flags & (write ? VM_WRITE : VM_READ))) return -EINVAL;
  const flags = write ? FAULT_FLAG_WRITE : 0;
  for (let addr = start; addr < end; ) {
    const next = pmdAddrEnd(addr, end);
    addr += populateNonePtes(mm, vma, addr, next, flags) * PAGE_SIZE;
    if (addr < next) {
      const r = yield* populateOne(mm, vma, addr, write);
      if (r < 0) return r;
      addr += PAGE_SIZE;
      continue;
    }
    yield* schedule('populate');
  }
  return 0;
}

/** Handles the leading run of [start, end) that needs no slow path; returns how many pages it did. */
function populateNonePtes(mm: MmStruct, vma: Vma, start: number, end: number, flags: number): number {
  const { pt } = mm.kernel;
  const write = (flags & FAULT_FLAG_WRITE) !== 0;
  const anon = vma.isAnonymous();
  const pmd = pt.pmdSlotAlloc(mm.pgd, start);
  const pmdLo = pt.lo[pmd] as number;
  // A huge PMD, or room for one: the PMD-level fault decides (populateOne → handle_mm_fault).
  if (pmdHuge(pmdLo)) return pteAccessible(pmdLo, write) ? (end - start) / PAGE_SIZE : 0;
  if (vma.flags & VM_HUGETLB) return 0;
  if (pmdLo === 0 && thpVmaAllowable(mm.kernel, vma, start - (start % PMD_SIZE))) return 0;
  const first = pteSlotIn(pt.child(pmd) || pt.populateTable(pmd, LEVEL_PTE), start);
  const n = (end - start) / PAGE_SIZE;
  let i = 0;
  let faulted = 0;
  for (; i < n; i++) {
    const slot = first + i;
    const lo = pt.lo[slot] as number;
    if (pteAccessible(lo, write)) continue;
    if (!anon || lo !== 0 || pt.hi[slot] !== 0) break;
    if (doAnonymousPage(mm, vma, start + i * PAGE_SIZE, slot, flags) !== 0) break;
    faulted++;
  }
  if (faulted > 0) mm.kernel.counters.inc('pgfault', faulted);
  return i;
}

function* populateOne(mm: MmStruct, vma: Vma, addr: number, write: boolean): Task<number> {
  const { pt } = mm.kernel;
  for (let tries = 0; ; tries++) {
    const slot = pt.leafSlot(mm.pgd, addr);
    if (slot >= 0 && pteAccessible(pt.lo[slot] as number, write)) return 0;
    if (tries > 64) return -EFAULT;
    const r = yield* handleMmFault(mm, vma, addr, write ? FAULT_FLAG_WRITE : 0);
    if (r & VM_FAULT_ERROR) return r & VM_FAULT_OOM ? -ENOMEM : -EFAULT;
  }
}
