/**
 * MADV_COLLAPSE: synchronous collapse of each aligned 2 MiB of a range that is mapped by PTEs into
 * a new THP mapped by a huge PMD (madvise_collapse → hpage_collapse_scan_pmd →
 * collapse_huge_page). The scan accepts none and zero-page PTEs without limit (max_ptes_none does
 * not bind MADV_COLLAPSE), and anonymous pages whose only references are their mappings; it
 * refuses non-present entries (migration, device-private, swap), pages someone else holds a
 * reference on (-EAGAIN, SCAN_PAGE_COUNT) and ranges with no writable PTE (SCAN_PAGE_RO). The
 * collapse copies every page into the new folio (zeros for none and zero PTEs), drops the old
 * mappings and page table inside a CLEAR invalidation of the 2 MiB, and maps the folio writable and
 * dirty; rss grows by the none/zero PTEs it filled.
 *
 * khugepaged itself (the background scanner) is not modelled (docs/fidelity.md): nothing collapses
 * unless asked. The madvise runs with mmap_sem held for write throughout (the kernel takes it for
 * read and upgrades for the collapse); the model's steps between yields are atomic anyway.
 *
 * @see mm/khugepaged.c (Linux v6.19: madvise_collapse, hpage_collapse_scan_pmd,
 *      collapse_huge_page, __collapse_huge_page_copy, madvise_collapse_errno)
 */

import { PMD_SIZE } from '../core/addr.js';
import { EAGAIN, EINVAL, ENOMEM } from '../core/errno.js';
import type { Task } from '../sched/index.js';
import { hugePmdLo, isHugeZeroPfn, thpVmaAllowableForced } from './huge_memory.js';
import type { MmStruct } from './mm.js';
import { addMmCounter, MM_ANONPAGES } from './mm.js';
import {
  MMU_NOTIFY_CLEAR,
  mmuNotifierInvalidateRangeEnd,
  mmuNotifierInvalidateRangeStart,
  notifierRange,
} from './mmu_notifier.js';
import { HPAGE_PMD_NR, PG_anon, ZERO_PFN } from './page.js';
import { pteSlotIn } from './pagetable.js';
import {
  _PAGE_DIRTY,
  _PAGE_RW,
  _PAGE_SPECIAL,
  pmdHuge,
  pteHiOf,
  pteNone,
  ptePfn,
  ptePresent,
} from './pte.js';
import { folioAddNewAnonRmapPmd, pageRemoveRmap } from './rmap.js';
import type { Vma } from './vma.js';
import { VM_WRITE, vmPageProt } from './vma.js';

/** madvise_collapse on one VMA's part [start, end): 0, or the last error of its 2 MiB ranges. */
export function* madviseCollapse(mm: MmStruct, vma: Vma, start: number, end: number): Task<number> {
  const hstart = Math.ceil(start / PMD_SIZE) * PMD_SIZE;
  const hend = Math.floor(end / PMD_SIZE) * PMD_SIZE;
  if (!thpVmaAllowableForced(vma)) return -EINVAL;
  let last = 0;
  for (let haddr = hstart; haddr < hend; haddr += PMD_SIZE) {
    if (haddr < vma.start || haddr + PMD_SIZE > vma.end) continue;
    const r = yield* collapseHugePage(mm, vma, haddr);
    if (r < 0) last = r;
  }
  return last;
}

/** hpage_collapse_scan_pmd + collapse_huge_page for one aligned 2 MiB; 0 or -errno. */
function* collapseHugePage(mm: MmStruct, vma: Vma, haddr: number): Task<number> {
  const { pt, mem } = mm.kernel;
  const pmd = pt.pmdSlot(mm.pgd, haddr);
  if (pmd >= 0 && pmdHuge(pt.lo[pmd] as number)) return 0; // SCAN_PMD_MAPPED
  const t = pmd < 0 ? 0 : pt.child(pmd);
  const scan = t === 0 ? -EINVAL : scanPmd(mm, t, haddr);
  if (scan < 0) return scan;
  const head = mem.allocCompound();
  if (head < 0) return -ENOMEM;
  if (!mem.chargeCompound(head, mm.memcgId)) {
    mem.putPage(head);
    return -ENOMEM;
  }
  const range = notifierRange(mm, haddr, haddr + PMD_SIZE, MMU_NOTIFY_CLEAR);
  yield* mmuNotifierInvalidateRangeStart(range);
  if (pt.child(pmd) !== t || scanPmd(mm, t, haddr) < 0) {
    // The range changed while the notifiers slept (SCAN_FAIL after the recheck).
    mem.putPage(head);
    yield* mmuNotifierInvalidateRangeEnd(range);
    return -EAGAIN;
  }
  const filled = copyAndRelease(mm, vma, t, haddr, head);
  pt.freeTable(t);
  pt.clear(pmd);
  addMmCounter(mm, MM_ANONPAGES, filled);
  const rw = vma.flags & VM_WRITE ? _PAGE_RW : 0;
  pt.set(pmd, hugePmdLo(head, vmPageProt(vma.flags) | rw | _PAGE_DIRTY), pteHiOf(head));
  yield* mmuNotifierInvalidateRangeEnd(range);
  mm.kernel.counters.inc('thp_collapse_alloc');
  return 0;
}

/**
 * The scan: 0 if the 512 PTEs may be collapsed, else -EINVAL (non-present entry, a page that is
 * not anonymous, no writable PTE) or -EAGAIN (a page with references beyond its mappings).
 */
function scanPmd(mm: MmStruct, t: number, haddr: number): number {
  const { pt, mem } = mm.kernel;
  const s = mem.store;
  const first = pteSlotIn(t, haddr);
  let writable = false;
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const lo = pt.lo[first + i] as number;
    const hi = pt.hi[first + i] as number;
    if (pteNone(lo, hi)) continue;
    if (!ptePresent(lo) || !(lo & 1)) return -EINVAL;
    const pfn = ptePfn(lo, hi);
    if (lo & _PAGE_SPECIAL) {
      if (pfn === ZERO_PFN) continue;
      return -EINVAL;
    }
    if (!((s.flags[pfn] as number) & PG_anon) || s.isZoneDevice(pfn)) return -EINVAL;
    if (lo & _PAGE_RW) writable = true;
    if (!refcountSuitable(mm, pfn)) return -EAGAIN;
  }
  return writable ? 0 : -EINVAL;
}

/** is_refcount_suitable: the folio's references are exactly its mappings. */
function refcountSuitable(mm: MmStruct, pfn: number): boolean {
  const s = mm.kernel.mem.store;
  const head = s.compoundHead(pfn);
  if (!s.isCompound(pfn)) return s.refcount[pfn] === s.mapcount[pfn];
  return s.refcount[head] === s.folioMapcount(head);
}

/**
 * __collapse_huge_page_copy: each subpage of the new folio gets the old page's bytes (or stays
 * zero), each old page loses its mapping and reference. Returns how many none/zero PTEs it filled.
 */
function copyAndRelease(mm: MmStruct, vma: Vma, t: number, haddr: number, head: number): number {
  const { pt, mem } = mm.kernel;
  const first = pteSlotIn(t, haddr);
  folioAddNewAnonRmapPmd(mm, vma, head, haddr);
  let filled = 0;
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const pfn = head + i;
    const lo = pt.lo[first + i] as number;
    const hi = pt.hi[first + i] as number;
    pt.clear(first + i);
    const old = ptePfn(lo, hi);
    if (pteNone(lo, hi) || lo & _PAGE_SPECIAL || isHugeZeroPfn(mm.kernel, old)) {
      filled++;
      continue;
    }
    mem.copyPage(pfn, old);
    pageRemoveRmap(mm, old);
    mem.putPage(old);
  }
  return filled;
}
