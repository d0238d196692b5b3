/**
 * get_user_pages: look pages up through the page tables, faulting them in as needed, and take a
 * reference on each (FOLL_GET). A write lookup (FOLL_WRITE) needs a writable entry, so it breaks
 * COW first. A device-private entry is not a page the caller could use: the lookup misses, the
 * fault migrates the page back to system memory, and the retry finds it there — device memory is
 * never pinned (hmm.rst, last paragraph).
 *
 * @see mm/gup.c (Linux v5.3)
 */

import { PAGE_SIZE, pageAlignDown } from '../core/addr.js';
import { KernelBug } from '../core/assert.js';
import { EFAULT, EINVAL, ENOMEM } from '../core/errno.js';
import type { Task } from '../sched/index.js';
import { schedule } from '../sched/index.js';
import { FAULT_FLAG_REMOTE, FAULT_FLAG_WRITE, handleMmFault, VM_FAULT_ERROR, VM_FAULT_OOM } from './fault.js';
import type { MmStruct } from './mm.js';
import { ZERO_PFN } from './page.js';
import { pmdSubpage } from './pagetable.js';
import { _PAGE_PRESENT, _PAGE_RW, _PAGE_SPECIAL, pmdHuge, ptePfn } from './pte.js';
import type { Vma } from './vma.js';
import { VM_IO, VM_PFNMAP, VM_READ, VM_WRITE } from './vma.js';

export const FOLL_WRITE = 0x01;
export const FOLL_TOUCH = 0x02;
export const FOLL_GET = 0x04;
export const FOLL_FORCE = 0x10;
export const FOLL_REMOTE = 0x2000;
export const FOLL_LONGTERM = 0x10000;

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
  if (nrPages <= 0) return nrPages === 0 ? 0 : -EINVAL;
  const flags = pages !== null ? gupFlags | FOLL_GET : gupFlags;
  let vma: Vma | null = null;
  for (let i = 0; i < nrPages; i++) {
    const addr = pageAlignDown(start) + i * PAGE_SIZE;
    if (vma === null || addr >= vma.end) {
      vma = mm.vmaAt(addr);
      const err = vma === null ? -EFAULT : checkVmaFlags(vma, flags);
      if (err < 0) return i > 0 ? i : err;
    }
    const pfn = yield* lookupOrFault(mm, vma as Vma, addr, flags);
    if (pfn < 0) return i > 0 ? i : pfn;
    if (flags & FOLL_GET) {
      mm.kernel.mem.getPage(pfn);
      pages?.push(pfn);
    }
    yield* schedule('gup');
  }
  return nrPages;
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
    const fflags = FAULT_FLAG_REMOTE | (flags & FOLL_WRITE ? FAULT_FLAG_WRITE : 0);
    const ret = yield* handleMmFault(mm, vma, addr, fflags);
    if (ret & VM_FAULT_ERROR) return ret & VM_FAULT_OOM ? -ENOMEM : -EFAULT;
  }
  throw new KernelBug(`get_user_pages: 0x${addr.toString(16)} still missing after ${GUP_RETRIES_MAX} faults`);
}

/**
 * follow_page_mask: the pfn mapped at addr if it can be used as asked, else -1 (a miss the caller
 * resolves by faulting). The zero page is returned for reads; non-present entries always miss. A
 * huge PMD gives the subpage of its folio that addr falls in (follow_huge_pmd), the huge zero
 * page's included for reads.
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
  return pfn;
}
