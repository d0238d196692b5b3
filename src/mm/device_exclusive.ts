/**
 * make_device_exclusive: a device takes one page of a process for atomic access. The page's PTE is
 * replaced by a device-exclusive entry (pte.ts), so the CPU cannot touch the page while the device
 * works on it; the next CPU access faults and restores the PTE (remove_device_exclusive_entry in
 * fault.ts), after a CLEAR invalidation that revokes the device's atomic mapping.
 *
 * Since v6.15 the page stays "mapped" while exclusive: the conversion changes the PTE only, not
 * the mapcount, rss or the mapping's reference. The caller gets the page back locked and with one
 * extra reference (GUP's); it programs its MMU under its own lock and then unlocks and puts the
 * page, and from then on a CPU access takes the page back. Every other path that meets the entry
 * (fork, mprotect, zap, MADV_FREE, rmap walks, GUP, mremap) handles it as v6.19 does: see
 * docs/fidelity.md, "Today's API: device-exclusive entries".
 *
 * The kernel has this in mm/rmap.c; here it has its own file because it sits above GUP, which
 * rmap.ts must not import (gup → fault → rmap).
 *
 * @see mm/rmap.c make_device_exclusive (Linux v6.19), Documentation/mm/hmm.rst "Exclusive access memory"
 */

import { PAGE_SIZE, PMD_SIZE, pageAlignDown } from '../core/addr.js';
import { EOPNOTSUPP } from '../core/errno.js';
import type { Task } from '../sched/index.js';
import { FOLL_GET, FOLL_REMOTE, FOLL_WRITE, getUserPages } from './gup.js';
import { splitHugePmd } from './huge_memory.js';
import type { MmStruct } from './mm.js';
import {
  MMU_NOTIFY_CLEAR,
  MMU_NOTIFY_EXCLUSIVE,
  mmuNotifierInvalidateRangeEnd,
  mmuNotifierInvalidateRangeStart,
  mmuNotifierRangeInitOwner,
  notifierRange,
} from './mmu_notifier.js';
import { PG_anon, PG_dirty, PG_hugetlb, setPageFlags } from './page.js';
import {
  _PAGE_PRESENT,
  pmdHuge,
  pteDirty,
  pteHiOf,
  ptePfn,
  pteWrite,
  SWP_DEVICE_EXCLUSIVE,
  swpEntryLo,
} from './pte.js';

/**
 * make_device_exclusive(mm, addr, owner, &folio) with mmap_lock held: returns the pfn of the page
 * now held exclusively, its folio (store.compoundHead(pfn)) locked and referenced, or -errno:
 * -EFAULT when GUP cannot fault the page in writable (no VMA, a VMA without VM_WRITE, VM_IO or
 * VM_PFNMAP), -ENOMEM, or -EOPNOTSUPP for a page that is not anonymous or is hugetlb. The
 * EXCLUSIVE invalidation carries `owner`, so the caller can tell its own conversion from a real
 * loss of the page. The entry is re-checked after the invalidation (it may sleep), and the whole
 * attempt starts over if the page is no longer mapped writable there.
 */
export function* makeDeviceExclusive(mm: MmStruct, addr: number, owner: unknown): Task<number> {
  mm.mmapSem.assertHeld('any');
  const start = pageAlignDown(addr);
  const { mem } = mm.kernel;
  const s = mem.store;
  for (;;) {
    const pages: number[] = [];
    const got = yield* getUserPages(mm, start, 1, FOLL_GET | FOLL_WRITE | FOLL_REMOTE, pages);
    if (got < 0) return got;
    const pfn = pages[0] as number;
    const folio = s.compoundHead(pfn);
    if (!((s.flags[pfn] as number) & PG_anon) || (s.flags[folio] as number) & PG_hugetlb) {
      mem.putPage(pfn);
      return -EOPNOTSUPP;
    }
    yield* followSplitPmd(mm, start);
    yield* mem.lockPage(folio);
    const range = mmuNotifierRangeInitOwner(MMU_NOTIFY_EXCLUSIVE, mm, start, start + PAGE_SIZE, owner);
    yield* mmuNotifierInvalidateRangeStart(range);
    const converted = convertPte(mm, start, pfn);
    yield* mmuNotifierInvalidateRangeEnd(range);
    if (converted) {
      mm.kernel.counters.inc('device_exclusive');
      return pfn;
    }
    mem.unlockPage(folio);
    mem.putPage(pfn);
  }
}

/**
 * FOLL_SPLIT_PMD: a huge PMD over the page is split into PTEs first (split_huge_pmd, inside its
 * own CLEAR invalidation of the 2 MiB), since only a PTE can become device-exclusive.
 */
function* followSplitPmd(mm: MmStruct, addr: number): Task {
  const { pt } = mm.kernel;
  if (pt.hugePmdSlot(mm.pgd, addr) < 0) return;
  const haddr = addr - (addr % PMD_SIZE);
  const range = notifierRange(mm, haddr, haddr + PMD_SIZE, MMU_NOTIFY_CLEAR);
  yield* mmuNotifierInvalidateRangeStart(range);
  const slot = pt.hugePmdSlot(mm.pgd, addr);
  if (slot >= 0) splitHugePmd(mm, slot, haddr);
  yield* mmuNotifierInvalidateRangeEnd(range);
}

/**
 * The second walk (folio_walk_start) and the conversion: only a present, writable PTE of `pfn`
 * becomes the entry. Its dirty bit moves to the page (the entry is "clean and old" to the core).
 */
function convertPte(mm: MmStruct, addr: number, pfn: number): boolean {
  const { pt, mem } = mm.kernel;
  const slot = pt.leafSlot(mm.pgd, addr);
  if (slot < 0) return false;
  const lo = pt.lo[slot] as number;
  const hi = pt.hi[slot] as number;
  if (!(lo & _PAGE_PRESENT) || pmdHuge(lo) || ptePfn(lo, hi) !== pfn || !pteWrite(lo)) return false;
  if (pteDirty(lo)) setPageFlags(mem.store, pfn, PG_dirty);
  pt.set(slot, swpEntryLo(SWP_DEVICE_EXCLUSIVE, pfn), pteHiOf(pfn));
  return true;
}
