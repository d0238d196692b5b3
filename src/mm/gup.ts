/**
 * get_user_pages: look pages up through the page tables, faulting them in as needed, and take a
 * reference on each (FOLL_GET). A write lookup (FOLL_WRITE) needs a writable entry, so it breaks
 * COW first. A device-private entry is not a page the caller could use: the lookup misses, the
 * fault migrates the page back to system memory, and the retry finds it there — device memory is
 * never pinned (hmm.rst, last paragraph).
 *
 * pin_user_pages (FOLL_PIN) is the second generation: under `kernel: 'v6.19'` a pin adds
 * GUP_PIN_COUNTING_BIAS to the refcount (so page_maybe_dma_pinned can tell it from a plain
 * reference), skips the zero page, and unshares a shared anonymous page first (gup_must_unshare).
 * Under 'v5.3', which has no FOLL_PIN, a pin is the plain get_user_pages reference it was then.
 * FOLL_LONGTERM migrates pages out of ZONE_MOVABLE, CMA and device-coherent memory before pinning
 * (check_and_migrate_movable_folios); of those the model has device-coherent memory, which a
 * long-term pin moves to system memory first (migrate_device_coherent_folio); a plain pin keeps it.
 *
 * @see mm/gup.c (Linux v5.3; pins as of v6.19)
 */

import { PAGE_SIZE, pageAlignDown } from '../core/addr.js';
import { KernelBug, KernelWarning } from '../core/assert.js';
import { EAGAIN, EBUSY, EFAULT, EINVAL, ENOMEM } from '../core/errno.js';
import type { Task } from '../sched/index.js';
import { schedule } from '../sched/index.js';
import {
  FAULT_FLAG_REMOTE,
  FAULT_FLAG_UNSHARE,
  FAULT_FLAG_WRITE,
  handleMmFault,
  VM_FAULT_ERROR,
  VM_FAULT_OOM,
} from './fault.js';
import type { Kernel } from './kernel.js';
import { migrateDeviceCoherentFolio } from './migrate_device.js';
import type { MmStruct } from './mm.js';
import {
  GUP_PIN_COUNTING_BIAS,
  PG_anon,
  PG_dirty,
  pageAnonExclusive,
  setPageFlags,
  ZERO_PFN,
} from './page.js';
import { pmdSubpage } from './pagetable.js';
import { _PAGE_DIRTY, _PAGE_PRESENT, _PAGE_RW, _PAGE_SPECIAL, pmdHuge, ptePfn } from './pte.js';
import type { Vma } from './vma.js';
import { VM_IO, VM_PFNMAP, VM_READ, VM_WRITE } from './vma.js';

/**
 * FOLL_WRITE: the pages will be written; break COW and require a writable mapping. @see include/linux/mm.h
 */
export const FOLL_WRITE = 0x01;
/** FOLL_TOUCH: mark the page accessed (and dirty for writes) like a CPU access would. */
export const FOLL_TOUCH = 0x02;
/** FOLL_GET: take a page reference (get_page) on each page returned. */
export const FOLL_GET = 0x04;
/** FOLL_FORCE: ignore the VMA protection, as ptrace access does (writes still need VM_MAYWRITE). */
export const FOLL_FORCE = 0x10;
/** FOLL_REMOTE: the mm is not current's (get_user_pages_remote). */
export const FOLL_REMOTE = 0x2000;
/** FOLL_LONGTERM: the pin may be held indefinitely (RDMA); refused on DAX and CMA pages. */
export const FOLL_LONGTERM = 0x10000;
/** pin_user_pages: the reference is a pin (GUP_PIN_COUNTING_BIAS), released by unpin_user_page. */
export const FOLL_PIN = 0x40000;

/** A followPage answer: the page is there, but a FOLL_PIN must unshare it first (gup_must_unshare). */
const MUST_UNSHARE = -2;

/** A lookup that keeps missing after this many faults is a livelock, not a slow page. */
const GUP_RETRIES_MAX = 64;

/**
 * __get_user_pages with mmap_sem held: returns the number of pages pinned (and pushes their pfns
 * to `pages` when given), or -errno if the first page fails.
 */
export function* getUserPages(
  mm: MmStruct,
  start: number,
  nrPages: number,
  gupFlags: number,
  pages: number[] | null,
): Task<number> {
  mm.mmapSem.assertHeld('any');
  if (!isValidGupArgs(mm.kernel, gupFlags, pages)) return -EINVAL;
  if (nrPages <= 0) return nrPages === 0 ? 0 : -EINVAL;
  if (!(gupFlags & FOLL_LONGTERM) || pages === null)
    return yield* gupLocked(mm, start, nrPages, gupFlags, pages);
  // __gup_longterm_locked: pin, then check_and_migrate_movable_pages; while that migrated something
  // (-EAGAIN), everything was dropped: pin again. The model's only memory a long-term pin must not
  // hold is device-coherent (no ZONE_MOVABLE, no CMA).
  const base = pages.length;
  for (;;) {
    const pinned = yield* gupLocked(mm, start, nrPages, gupFlags, pages);
    if (pinned <= 0) return pinned;
    const rc = yield* checkAndMigrateMovablePages(mm.kernel, pages, base, gupFlags);
    if (rc === -EAGAIN) continue;
    return rc < 0 ? rc : pinned;
  }
}

/**
 * check_and_migrate_movable_pages over pages[base..]: 0 if every page may be pinned long-term.
 * Otherwise each device-coherent page's pin becomes a plain reference that
 * migrate_device_coherent_folio consumes while moving it to system memory (-EBUSY if it cannot:
 * the remaining pins are dropped), every other pin is dropped, the array is cut back to `base`,
 * and -EAGAIN asks the caller to pin again.
 * @see mm/gup.c check_and_migrate_movable_pages, migrate_longterm_unpinnable_folios (Linux v6.19)
 */
function* checkAndMigrateMovablePages(
  kernel: Kernel,
  pages: number[],
  base: number,
  flags: number,
): Task<number> {
  const s = kernel.mem.store;
  const got = pages.splice(base);
  if (!got.some((pfn) => s.isDeviceCoherent(pfn))) {
    pages.push(...got);
    return 0;
  }
  for (let i = 0; i < got.length; i++) {
    const pfn = got[i] as number;
    if (!s.isDeviceCoherent(pfn)) {
      gupPutPage(kernel, pfn, flags);
      continue;
    }
    kernel.mem.getPage(pfn);
    gupPutPage(kernel, pfn, flags);
    kernel.counters.inc('gup_longterm_migrate_coherent');
    if ((yield* migrateDeviceCoherentFolio(kernel, pfn)) !== 0) {
      for (const rest of got.slice(i + 1)) gupPutPage(kernel, rest, flags);
      return -EBUSY;
    }
  }
  return -EAGAIN;
}

/** gup_put_folio: what the lookup took, a pin or a reference. */
function gupPutPage(kernel: Kernel, pfn: number, flags: number): void {
  if (flags & FOLL_PIN) unpinUserPage(kernel, pfn);
  else kernel.mem.putPage(pfn);
}

/** Where a lookup puts the pfns it took, or null (no references). */
type Pages = number[] | null;

/** __get_user_pages_locked. */
function* gupLocked(mm: MmStruct, addr0: number, n: number, foll: number, out: Pages): Task<number> {
  const flags = out !== null && !(foll & FOLL_PIN) ? foll | FOLL_GET : foll;
  let vma: Vma | null = null;
  for (let i = 0; i < n; i++) {
    const addr = pageAlignDown(addr0) + i * PAGE_SIZE;
    if (vma === null || addr >= vma.end) {
      vma = mm.vmaAt(addr);
      const err = vma === null ? -EFAULT : checkVmaFlags(vma, flags);
      if (err < 0) return i > 0 ? i : err;
    }
    const pfn = yield* lookupOrFault(mm, vma as Vma, addr, flags);
    if (pfn < 0) return i > 0 ? i : pfn;
    if (flags & FOLL_WRITE) followTouchDirty(mm, addr, pfn);
    if (flags & (FOLL_GET | FOLL_PIN)) {
      tryGrabPage(mm.kernel, pfn, flags);
      out?.push(pfn);
    }
    yield* schedule('gup');
  }
  return n;
}

/**
 * is_valid_gup_args: FOLL_PIN and FOLL_GET together is a caller bug (WARN); since v6.3 FOLL_LONGTERM
 * needs FOLL_PIN, and a pin needs somewhere to put its pages.
 */
function isValidGupArgs(kernel: Kernel, flags: number, pages: number[] | null): boolean {
  if ((flags & (FOLL_PIN | FOLL_GET)) === (FOLL_PIN | FOLL_GET))
    throw new KernelWarning('is_valid_gup_args: FOLL_PIN and FOLL_GET are mutually exclusive');
  if (flags & FOLL_PIN && pages === null) throw new KernelWarning('pin_user_pages: no pages array');
  if (kernel.behaviour.gupStrictFlags && flags & FOLL_LONGTERM && !(flags & FOLL_PIN))
    throw new KernelWarning('is_valid_gup_args: FOLL_LONGTERM without FOLL_PIN');
  return true;
}

/** try_grab_folio: FOLL_GET takes one reference, FOLL_PIN the pin bias (or one, before v5.7). */
function tryGrabPage(kernel: Kernel, pfn: number, flags: number): void {
  const { mem, behaviour } = kernel;
  if (flags & FOLL_PIN) {
    kernel.counters.inc('foll_pin_acquired');
    if (pfn === ZERO_PFN && behaviour.pinSkipsZeroPage) return;
  }
  mem.getPage(pfn);
  if (!(flags & FOLL_PIN && behaviour.pinCounting)) return;
  // A subpage of a THP is pinned on its folio: the head holds the folio's refcount.
  const head = mem.store.compoundHead(pfn);
  mem.store.refcount[head] = (mem.store.refcount[head] as number) + GUP_PIN_COUNTING_BIAS - 1;
}

/**
 * unpin_user_page (gup_put_folio with FOLL_PIN): drops what a pin took. Unpinning a page that
 * holds no pin would underflow the refcount: a WARN.
 */
export function unpinUserPage(kernel: Kernel, pfn: number): void {
  const { mem, behaviour } = kernel;
  kernel.counters.inc('foll_pin_released');
  if (pfn === ZERO_PFN && behaviour.pinSkipsZeroPage) return;
  if (behaviour.pinCounting) {
    const head = mem.store.compoundHead(pfn);
    const ref = mem.store.refcount[head] as number;
    if (ref < GUP_PIN_COUNTING_BIAS)
      throw new KernelWarning(`unpin_user_page: pfn ${pfn} refcount ${ref} holds no pin`);
    mem.store.refcount[head] = ref - (GUP_PIN_COUNTING_BIAS - 1);
  }
  mem.putPage(pfn);
}

/** unpin_user_pages. */
export function unpinUserPages(kernel: Kernel, pfns: readonly number[]): void {
  for (const pfn of pfns) unpinUserPage(kernel, pfn);
}

/**
 * pin_user_pages with mmap_lock held: get_user_pages with FOLL_PIN. Returns the number of pages
 * pinned (their pfns pushed to `pages`), or -errno if the first page fails.
 */
export function* pinUserPages(
  mm: MmStruct,
  start: number,
  nrPages: number,
  gupFlags: number,
  pages: number[],
): Task<number> {
  if (gupFlags & FOLL_GET) throw new KernelWarning('pin_user_pages: FOLL_GET with FOLL_PIN');
  return yield* getUserPages(mm, start, nrPages, gupFlags | FOLL_PIN, pages);
}

/**
 * follow_page_pte with FOLL_TOUCH (which __get_user_pages_locked always adds): a write lookup
 * through a clean PTE dirties the page itself, so a page written by DMA is never taken for clean
 * (MADV_FREE's reclaim would drop it otherwise).
 */
function followTouchDirty(mm: MmStruct, addr: number, pfn: number): void {
  const { pt, mem } = mm.kernel;
  const slot = pt.pteSlot(mm.pgd, addr);
  if (slot < 0 || (pt.lo[slot] as number) & _PAGE_DIRTY || pfn === ZERO_PFN) return;
  setPageFlags(mem.store, pfn, PG_dirty);
}

function checkVmaFlags(vma: Vma, flags: number): number {
  if (vma.flags & (VM_IO | VM_PFNMAP)) return -EFAULT;
  if (flags & FOLL_WRITE ? !(vma.flags & VM_WRITE) : !(vma.flags & VM_READ)) return -EFAULT;
  return 0;
}

function* lookupOrFault(mm: MmStruct, vma: Vma, addr: number, flags: number): Task<number> {
  for (let tries = 0; tries < GUP_RETRIES_MAX; tries++) {
    const pfn = followPage(mm, addr, flags);
    if (pfn >= 0) return pfn;
    const unshare = pfn === MUST_UNSHARE ? FAULT_FLAG_UNSHARE : 0;
    const fflags = FAULT_FLAG_REMOTE | unshare | (flags & FOLL_WRITE ? FAULT_FLAG_WRITE : 0);
    const ret = yield* handleMmFault(mm, vma, addr, fflags);
    if (ret & VM_FAULT_ERROR) return ret & VM_FAULT_OOM ? -ENOMEM : -EFAULT;
  }
  throw new KernelBug(`get_user_pages: 0x${addr.toString(16)} still missing after ${GUP_RETRIES_MAX} faults`);
}

/**
 * follow_page_mask: the pfn mapped at addr if it can be used as asked, else -1 (a miss the caller
 * resolves by faulting). The zero page is returned for reads; non-present entries always miss. A
 * huge PMD gives the subpage of its folio that addr falls in (follow_huge_pmd), the huge zero
 * page's included for reads. A FOLL_PIN read through a read-only PTE of an anonymous page that is
 * not exclusive answers MUST_UNSHARE (v5.19+); a writable PTE maps a page no one else can reach.
 */
export function followPage(mm: MmStruct, addr: number, flags: number): number {
  const { pt } = mm.kernel;
  const slot = pt.leafSlot(mm.pgd, addr);
  if (slot < 0) return -1;
  const lo = pt.lo[slot] as number;
  if (!(lo & _PAGE_PRESENT)) return -1;
  if (flags & FOLL_WRITE && !(lo & _PAGE_RW)) return -1;
  const pfn = ptePfn(lo, pt.hi[slot] as number);
  if (pmdHuge(lo)) return pfn + pmdSubpage(addr);
  if (lo & _PAGE_SPECIAL && pfn !== ZERO_PFN) return -1;
  if (!(lo & _PAGE_RW) && gupMustUnshare(mm, flags, pfn)) return MUST_UNSHARE;
  return pfn;
}

/** gup_must_unshare: a read pin must not see a page COW may still replace. */
function gupMustUnshare(mm: MmStruct, flags: number, pfn: number): boolean {
  if ((flags & (FOLL_WRITE | FOLL_PIN)) !== FOLL_PIN || !mm.kernel.behaviour.anonExclusive) return false;
  const s = mm.kernel.mem.store;
  return ((s.flags[pfn] as number) & PG_anon) !== 0 && !pageAnonExclusive(s, pfn);
}
