/**
 * The PTE-level machinery of mm/memory.c and mm/mprotect.c: zapping a range (munmap, MADV_DONTNEED,
 * exit), copying a range at fork, and changing protections (mprotect). Faults are in fault.ts, the
 * rmap accounting of one mapping in rmap.ts, vm_get_page_prot (vmPageProt) in vma.ts.
 *
 * Every function here that removes or downgrades a mapping is wrapped by its caller in
 * mmu_notifier_invalidate_range_start/end, in the places the kernel puts them.
 *
 * @see mm/memory.c, mm/mprotect.c (Linux v5.3)
 */

import { alignDown, PMD_SIZE, PUD_SIZE } from '../core/addr.js';
import { ENOMEM } from '../core/errno.js';
import type { Task } from '../sched/index.js';
import { allocChargedPage, tryRestoreExclusivePte } from './fault.js';
import {
  changeHugePmd,
  changeSwapPmd,
  copyHugePmd,
  copySwapPmd,
  splitHugePmd,
  splitSwapPmd,
  zapHugePmd,
  zapSwapPmd,
} from './huge_memory.js';
import type { MmStruct } from './mm.js';
import { decMmCounter, incMmCounter, MM_ANONPAGES, MM_SWAPENTS } from './mm.js';
import {
  MMU_NOTIFY_PROTECTION_PAGE,
  MMU_NOTIFY_PROTECTION_VMA,
  mmuNotifierInvalidateRangeEnd,
  mmuNotifierInvalidateRangeStart,
  notifierRange,
} from './mmu_notifier.js';
import {
  clearPageFlags,
  PG_anon,
  PG_anon_exclusive,
  PG_dirty,
  pageMaybeDmaPinned,
  setPageFlags,
} from './page.js';
import { pteSlotIn } from './pagetable.js';
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_PROTNONE,
  _PAGE_RW,
  _PAGE_SPECIAL,
  _PAGE_USER,
  isDeviceExclusiveEntry,
  isDeviceExclusiveType,
  isDevicePrivateType,
  isMigrationType,
  isWriteSwpType,
  pteHiOf,
  pteLoOf,
  pteNone,
  ptePfn,
  SWP_DEVICE_READ,
  SWP_MIGRATION_READ,
  SWP_SWAPFILE,
  swpEntryLo,
  swpType,
} from './pte.js';
import { pageAddNewAnonRmap, pageAddRmap, pageRemoveRmap } from './rmap.js';
import type { Vma } from './vma.js';
import { VM_HUGETLB, VM_MIXEDMAP, VM_PFNMAP, VM_WRITE, vmPageProt } from './vma.js';

const PRESENT_OR_PROTNONE = _PAGE_PRESENT | _PAGE_PROTNONE;
/** Bits mprotect replaces; the pfn, dirty, accessed and special bits survive (_PAGE_CHG_MASK). */
const PROT_BITS = _PAGE_PRESENT | _PAGE_PROTNONE | _PAGE_RW | _PAGE_USER;

/**
 * zap_pte_range over [start, end) of one VMA: every mapped page loses this mapping (rss, rmap,
 * reference), device-private and device-exclusive entries drop their page, migration entries only
 * their rss.
 * The caller issues the mmu notifiers. Returns the number of entries cleared.
 */
export function zapRange(mm: MmStruct, start: number, end: number): number {
  const { pt } = mm.kernel;
  let cleared = 0;
  pt.walk(mm.pgd, start, end, {
    present: (t, a, b) => {
      cleared += zapPteTable(mm, t, a, b);
      return 0;
    },
    hole: () => 0,
    huge: (slot, a, b) => {
      cleared += zapPmd(mm, slot, a, b);
      return 0;
    },
    swapPmd: (slot, a, b) => {
      if (b - a === PMD_SIZE) {
        zapSwapPmd(mm, slot);
        cleared++;
        return 0;
      }
      splitSwapPmd(mm, slot);
      cleared += zapPteTable(mm, pt.child(slot), a, b);
      return 0;
    },
  });
  return cleared;
}

/** zap_pmd_range on a huge PMD: all of it goes whole (zap_huge_pmd), part of it splits first. */
function zapPmd(mm: MmStruct, slot: number, start: number, end: number): number {
  if (end - start === PMD_SIZE) {
    zapHugePmd(mm, slot);
    return 1;
  }
  splitHugePmd(mm, slot, alignDown(start, PMD_SIZE));
  return zapPteTable(mm, mm.kernel.pt.child(slot), start, end);
}

function zapPteTable(mm: MmStruct, t: number, start: number, end: number): number {
  const { pt, mem } = mm.kernel;
  const s = mem.store;
  const first = pteSlotIn(t, start);
  const last = first + (end - start) / 4096;
  let cleared = 0;
  for (let slot = first; slot < last; slot++) {
    const lo = pt.lo[slot] as number;
    const hi = pt.hi[slot] as number;
    if (pteNone(lo, hi)) continue;
    pt.clear(slot);
    cleared++;
    const pfn = ptePfn(lo, hi);
    if (lo & PRESENT_OR_PROTNONE) {
      if (lo & _PAGE_SPECIAL) continue;
      const c = mm.mmCounter(pfn);
      decMmCounter(mm, c);
      if (lo & _PAGE_DIRTY && !(s.flags[pfn]! & PG_anon)) setPageFlags(s, pfn, PG_dirty);
      pageRemoveRmap(mm, pfn);
      mem.putPage(pfn);
      continue;
    }
    zapSwapEntry(mm, lo, pfn);
  }
  return cleared;
}

/** zap_nonpresent_ptes: a device-private or device-exclusive entry is a mapping of its page. */
function zapSwapEntry(mm: MmStruct, lo: number, pfn: number): void {
  const type = swpType(lo);
  if (isDevicePrivateType(type) || isDeviceExclusiveType(type)) {
    const c = mm.mmCounter(pfn);
    decMmCounter(mm, c);
    pageRemoveRmap(mm, pfn);
    mm.kernel.mem.putPage(pfn);
  } else if (isMigrationType(type)) {
    const c = mm.mmCounter(pfn);
    decMmCounter(mm, c);
  } else if (type === SWP_SWAPFILE) {
    decMmCounter(mm, MM_SWAPENTS);
  }
}

/**
 * copy_page_range for one VMA at fork: the child gets the parent's entries. In a COW mapping both
 * sides lose write permission (present pages, write migration entries and writable device-private
 * entries alike), inside an invalidation of the parent's range. A VMA with no anon_vma (shared file
 * and shmem VMAs, or anonymous VMAs that only ever mapped the zero page) is skipped: the child
 * faults its pages in again. A device-exclusive entry is restored first (the device loses the page;
 * v6.19's copy_nonpresent_pte) and copied as the present PTE it becomes; if its page is locked (a
 * driver is still programming its MMU) the fork fails with -ENOMEM, as copy_pmd_range turns the
 * -EBUSY of copy_pte_range. Under `forkCopiesPinned` (v5.9+) an exclusive anonymous page that may be
 * pinned is copied for the child instead (copy_present_page); -ENOMEM if that copy finds no memory.
 */
export function* copyPageRange(dst: MmStruct, src: MmStruct, vma: Vma): Task<number> {
  if (vma.anonVma === null && !(vma.flags & (VM_HUGETLB | VM_PFNMAP | VM_MIXEDMAP))) return 0;
  const cow = vma.isCowMapping();
  const range = notifierRange(src, vma.start, vma.end, MMU_NOTIFY_PROTECTION_PAGE);
  if (cow) yield* mmuNotifierInvalidateRangeStart(range);
  const { pt } = src.kernel;
  let err = 0;
  pt.walk(src.pgd, vma.start, vma.end, {
    present: (t, a, b) => {
      if (err === 0) err = copyPteTable(dst, src, t, a, b, cow, vma);
      return 0;
    },
    hole: () => 0,
    huge: (slot, a) => {
      copyHugePmd(dst, src, slot, a, cow);
      return 0;
    },
    swapPmd: (slot, a) => {
      copySwapPmd(dst, src, slot, a);
      return 0;
    },
  });
  if (cow) yield* mmuNotifierInvalidateRangeEnd(range);
  return err;
}

function copyPteTable(
  dst: MmStruct,
  src: MmStruct,
  t: number,
  start: number,
  end: number,
  cow: boolean,
  vma: Vma,
): number {
  const { pt, mem } = src.kernel;
  const dstT = pt.pteTableAlloc(dst.pgd, start);
  const from = pteSlotIn(t, start);
  const to = pteSlotIn(dstT, start);
  const n = (end - start) / 4096;
  for (let i = 0; i < n; i++) {
    let lo = pt.lo[from + i] as number;
    const hi = pt.hi[from + i] as number;
    if (pteNone(lo, hi)) continue;
    const pfn = ptePfn(lo, hi);
    if (isDeviceExclusiveEntry(lo)) {
      // copy_nonpresent_pte: the device loses the page, and it is copied as the present PTE it was.
      if (tryRestoreExclusivePte(src, vma, from + i, pfn) < 0) return -ENOMEM;
      lo = pt.lo[from + i] as number;
    }
    if (lo & PRESENT_OR_PROTNONE && !(lo & _PAGE_SPECIAL) && needsCowForDma(src, vma, pfn)) {
      if (copyPresentPage(dst, vma, start + i * 4096, to + i, lo, pfn) < 0) return -ENOMEM;
      continue;
    }
    if (lo & PRESENT_OR_PROTNONE) {
      if (cow && lo & _PAGE_RW) {
        lo &= ~_PAGE_RW;
        pt.lo[from + i] = lo;
      }
      // copy_one_pte's pte_mkclean for VM_SHARED has no case here: shared VMAs have no anon_vma and
      // special mappings are private, so copyPageRange never copies a shared VMA.
      lo &= ~_PAGE_ACCESSED;
      if (!(lo & _PAGE_SPECIAL)) {
        clearPageFlags(mem.store, pfn, PG_anon_exclusive);
        mem.getPage(pfn);
        pageAddRmap(dst, pfn);
        const c = dst.mmCounter(pfn);
        incMmCounter(dst, c);
      }
    } else {
      lo = copySwapEntry(dst, src, from + i, lo, pfn, cow);
    }
    pt.set(to + i, lo, hi);
  }
  return 0;
}

/**
 * page_needs_cow_for_dma (v5.9) / folio_try_dup_anon_rmap_pte failing (v5.19): the child must not
 * share an exclusive anonymous page of a COW mapping that may be pinned, or the pin's writes would
 * stop reaching the parent the first time it writes.
 */
function needsCowForDma(src: MmStruct, vma: Vma, pfn: number): boolean {
  const { behaviour, mem } = src.kernel;
  if (!behaviour.forkCopiesPinned || !vma.isCowMapping()) return false;
  const s = mem.store;
  return (
    ((s.flags[pfn] as number) & (PG_anon | PG_anon_exclusive)) === (PG_anon | PG_anon_exclusive) &&
    pageMaybeDmaPinned(s, pfn)
  );
}

/**
 * copy_present_page: the child gets its own copy, mapped writable if the VMA is (maybe_mkwrite);
 * the parent's entry is left as it was.
 */
function copyPresentPage(
  dst: MmStruct,
  vma: Vma,
  addr: number,
  slot: number,
  lo: number,
  pfn: number,
): number {
  const { pt, mem } = dst.kernel;
  const copy = dst.vmas[dst.findVmaIndex(addr)] as Vma;
  const newPfn = allocChargedPage(dst);
  if (newPfn < 0) return -ENOMEM;
  mem.copyPage(newPfn, pfn);
  pageAddNewAnonRmap(dst, newPfn, copy, addr);
  incMmCounter(dst, MM_ANONPAGES);
  const rw = vma.flags & VM_WRITE ? _PAGE_RW : 0;
  const prot =
    (lo & PRESENT_OR_PROTNONE) === _PAGE_PROTNONE
      ? _PAGE_PROTNONE | _PAGE_ACCESSED
      : vmPageProt(vma.flags) | rw;
  pt.set(slot, pteLoOf(newPfn, prot | _PAGE_DIRTY), pteHiOf(newPfn));
  dst.kernel.counters.inc('fork_cow_pinned');
  return 0;
}

function copySwapEntry(
  dst: MmStruct,
  src: MmStruct,
  slot: number,
  lo: number,
  pfn: number,
  cow: boolean,
): number {
  const { pt, mem } = src.kernel;
  const type = swpType(lo);
  if (isMigrationType(type) || isDevicePrivateType(type)) {
    if (isDevicePrivateType(type)) {
      clearPageFlags(mem.store, pfn, PG_anon_exclusive);
      mem.getPage(pfn);
      pageAddRmap(dst, pfn);
    }
    const c = dst.mmCounter(pfn);
    incMmCounter(dst, c);
    if (cow && isWriteSwpType(type)) {
      lo = swpEntryLo(isMigrationType(type) ? SWP_MIGRATION_READ : SWP_DEVICE_READ, pfn);
      pt.lo[slot] = lo;
    }
  } else if (type === SWP_SWAPFILE) {
    incMmCounter(dst, MM_SWAPENTS);
  }
  return lo;
}

/**
 * change_protection over [start, end) of one VMA with its new flags already set. As in v5.3, the
 * invalidation is issued per PUD-sized span, from the first populated PMD to the end of the span,
 * and only if some PMD there is populated. Private writable pages stay read-only (PAGE_COPY): the
 * next write faults and reuses or copies. Write migration and device-private entries become read
 * entries; a device-exclusive entry is left as it is (v6.15+): restoring it checks the VMA then.
 * Returns the number of entries changed.
 */
export function* changeProtection(mm: MmStruct, vma: Vma, start: number, end: number): Task<number> {
  const prot = vmPageProt(vma.flags);
  let changed = 0;
  for (let addr = start; addr < end; ) {
    const next = Math.min(end, alignDown(addr, PUD_SIZE) + PUD_SIZE);
    changed += yield* changePudSpan(mm, addr, next, prot);
    addr = next;
  }
  return changed;
}

function* changePudSpan(mm: MmStruct, start: number, end: number, prot: number): Task<number> {
  const { pt } = mm.kernel;
  let first = -1;
  for (let a = start; a < end; a = Math.min(end, alignDown(a, PMD_SIZE) + PMD_SIZE)) {
    if (pt.pteTable(mm.pgd, a) !== 0 || pt.hugePmdSlot(mm.pgd, a) >= 0 || pt.swapPmdSlot(mm.pgd, a) >= 0) {
      first = a;
      break;
    }
  }
  if (first < 0) return 0;
  const range = notifierRange(mm, first, end, MMU_NOTIFY_PROTECTION_VMA);
  yield* mmuNotifierInvalidateRangeStart(range);
  let changed = 0;
  pt.walk(mm.pgd, first, end, {
    present: (t, a, b) => {
      changed += changePteTable(mm, t, a, b, prot);
      return 0;
    },
    hole: () => 0,
    huge: (slot, a, b) => {
      if (b - a === PMD_SIZE) {
        changeHugePmd(mm, slot, prot, PROT_BITS);
        changed++;
        return 0;
      }
      splitHugePmd(mm, slot, alignDown(a, PMD_SIZE));
      changed += changePteTable(mm, pt.child(slot), a, b, prot);
      return 0;
    },
    swapPmd: (slot, a, b) => {
      if (b - a === PMD_SIZE) {
        changeSwapPmd(mm, slot);
        changed++;
        return 0;
      }
      splitSwapPmd(mm, slot);
      changed += changePteTable(mm, pt.child(slot), a, b, prot);
      return 0;
    },
  });
  yield* mmuNotifierInvalidateRangeEnd(range);
  return changed;
}

function changePteTable(mm: MmStruct, t: number, start: number, end: number, prot: number): number {
  const { pt } = mm.kernel;
  const first = pteSlotIn(t, start);
  const last = first + (end - start) / 4096;
  let changed = 0;
  for (let slot = first; slot < last; slot++) {
    const lo = pt.lo[slot] as number;
    if (pteNone(lo, pt.hi[slot] as number)) continue;
    if (lo & PRESENT_OR_PROTNONE) {
      pt.lo[slot] = ((lo & ~PROT_BITS) | prot) >>> 0;
      changed++;
      continue;
    }
    const type = swpType(lo);
    if (isWriteSwpType(type)) {
      const pfn = ptePfn(lo, pt.hi[slot] as number);
      pt.lo[slot] = swpEntryLo(isMigrationType(type) ? SWP_MIGRATION_READ : SWP_DEVICE_READ, pfn);
      changed++;
    }
  }
  return changed;
}
