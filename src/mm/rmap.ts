/**
 * Reverse mapping: from a page to every PTE that maps it, which migration (try_to_unmap) and the
 * checkers need. Anonymous pages reach their mappings through their anon_vma: the VMAs linked to
 * it (the VMA that created the page, and after fork each child's copy). File pages reach theirs
 * through the file's i_mmap. A page's address in a VMA is vma_address(page->index).
 *
 * The rmap accounting of one mapping is here too, as in mm/rmap.c: page_add_*_rmap, page_remove_rmap
 * and the folio PMD forms the huge PMD paths use. try_to_unmap (TTU_MIGRATION only) is here; remove_migration_ptes is in migrate.ts.
 *
 * Divergence: anon_vma_chain is flattened to a list of anon_vmas per VMA and a set of VMAs per
 * anon_vma; there is no anon_vma tree root or degree-based reuse. An rmap walk takes no anon_vma or
 * i_mmap lock: it snapshots the VMAs and, when it sleeps between them (mmu notifiers), revalidates
 * each one before touching its page table.
 *
 * @see mm/rmap.c (Linux v5.3)
 */

import { PAGE_SIZE } from '../core/addr.js';
import { KernelBug } from '../core/assert.js';
import type { Task } from '../sched/index.js';
import type { AddressSpace } from './file.js';
import type { Kernel } from './kernel.js';
import type { MmStruct } from './mm.js';
import {
  MMU_NOTIFY_CLEAR,
  mmuNotifierInvalidateRangeEnd,
  mmuNotifierInvalidateRangeStart,
  notifierRange,
} from './mmu_notifier.js';
import { HPAGE_PMD_NR, PG_anon, PG_anon_exclusive, PG_dirty, PG_swapbacked, setPageFlags } from './page.js';
import {
  _PAGE_SPECIAL,
  isDeviceExclusiveType,
  isDevicePrivateType,
  isWriteSwpType,
  pteDirty,
  pteHiOf,
  pteNone,
  ptePfn,
  ptePresent,
  pteWrite,
  SWP_MIGRATION_READ,
  SWP_MIGRATION_WRITE,
  swpEntryLo,
  swpType,
} from './pte.js';
import type { Vma } from './vma.js';

/** struct anon_vma: the reverse-map root that anonymous pages' page->mapping points at. @see mm/rmap.c */
export class AnonVma {
  /** Id stored in page->mapping of its pages (shared with address_space ids). */
  readonly id: number;
  /** The VMAs (in any mm) that may map pages of this anon_vma. */
  readonly vmas = new Set<Vma>();

  constructor(id: number) {
    this.id = id;
  }
}

/** anon_vma_chain_link for every anon_vma of the chain. */
export function linkAnonChain(vma: Vma): void {
  for (const av of vma.anonChain) av.vmas.add(vma);
}

/** unlink_anon_vmas(): removes `vma` from every anon_vma of its chain (munmap, exit). */
export function unlinkAnonChain(vma: Vma): void {
  for (const av of vma.anonChain) av.vmas.delete(vma);
}

// -- rmap walk and try_to_unmap ------------------------------------------------------------------

/** One place a page may be mapped: the VMA (and its mm) and the address the page has there. */
export interface RmapTarget {
  /** The mm of `vma`. */
  readonly mm: MmStruct;
  /** A VMA that maps (or may map) the page. */
  readonly vma: Vma;
  /** The page's user virtual address in `vma` (vma_address()). */
  readonly address: number;
}

/**
 * page_mapping() of the rmap: the anon_vma or address_space `pfn` belongs to, or undefined for a
 * page with no mapping (a free page, the zero page, a vm_insert_page'd page).
 */
export function rmapMappingOf(kernel: Kernel, pfn: number): AnonVma | AddressSpace | undefined {
  const id = kernel.mem.store.mapping[pfn] as number;
  return id === 0 ? undefined : kernel.mappings.get(id);
}

/**
 * rmap_walk: every VMA (in any mm) that may map `pfn`, with vma_address(page). Anonymous pages are
 * found through their anon_vma (the VMA that created them and every VMA forked from it), file and
 * shmem pages through the file's i_mmap. Only VMAs whose range covers the page's address are listed
 * (the interval-tree lookup of rmap_walk_anon/rmap_walk_file). The list is a snapshot: a caller
 * that sleeps between targets revalidates each with rmapTargetLive.
 *
 * @see mm/rmap.c rmap_walk, rmap_walk_anon, rmap_walk_file (Linux v5.3)
 */
export function rmapTargets(kernel: Kernel, pfn: number): RmapTarget[] {
  const mapping = rmapMappingOf(kernel, pfn);
  if (mapping === undefined) return [];
  const index = kernel.mem.store.index[pfn] as number;
  const vmas = mapping instanceof AnonVma ? mapping.vmas : mapping.mmaps;
  const out: RmapTarget[] = [];
  for (const vma of vmas) {
    const address = vma.addressOf(index);
    if (vma.contains(address)) out.push({ mm: vma.mm as MmStruct, vma, address });
  }
  return out;
}

/** rmap_walk with a callback per target; the callback returns false to stop the walk (rwc->done). */
export function rmapWalk(kernel: Kernel, pfn: number, rmapOne: (t: RmapTarget) => boolean): void {
  for (const t of rmapTargets(kernel, pfn)) if (!rmapOne(t)) return;
}

/** The target's VMA is still mapped in a live mm (a walk that slept may find it gone). */
export function rmapTargetLive(t: RmapTarget): boolean {
  return !t.mm.dead && t.mm.vmaAt(t.address) === t.vma;
}

// -- page_add_*_rmap, page_remove_rmap and their folio PMD forms ------------------------------

/** page_add_new_anon_rmap: a freshly allocated page becomes an anonymous page mapped once. */
export function pageAddNewAnonRmap(mm: MmStruct, pfn: number, vma: Vma, addr: number): void {
  const s = mm.kernel.mem.store;
  if (vma.anonVma === null) throw new KernelBug('page_add_new_anon_rmap: VMA has no anon_vma');
  const exclusive = mm.kernel.behaviour.anonExclusive ? PG_anon_exclusive : 0;
  setPageFlags(s, pfn, PG_anon | PG_swapbacked | exclusive);
  s.mapping[pfn] = vma.anonVma.id;
  s.index[pfn] = vma.linearPageIndex(addr);
  s.mapcount[pfn] = 1;
}

/** page_add_file_rmap / page_add_anon_rmap / page_dup_rmap: one more mapping of an existing page. */
export function pageAddRmap(mm: MmStruct, pfn: number): void {
  const s = mm.kernel.mem.store;
  s.mapcount[pfn] = (s.mapcount[pfn] as number) + 1;
}

/** page_remove_rmap. */
export function pageRemoveRmap(mm: MmStruct, pfn: number): void {
  const s = mm.kernel.mem.store;
  const m = (s.mapcount[pfn] as number) - 1;
  if (m < 0) throw new KernelBug(`BUG: Bad page map: pfn ${pfn} mapcount underflow`);
  s.mapcount[pfn] = m;
}

/**
 * folio_add_new_anon_rmap(RMAP_EXCLUSIVE) of a PMD-mapped folio. The model keeps ->mapping and
 * ->index on every subpage (the kernel derives a tail's from the head) so that rmap and the
 * checkers treat a subpage like any page.
 */
export function folioAddNewAnonRmapPmd(mm: MmStruct, vma: Vma, head: number, haddr: number): void {
  const s = mm.kernel.mem.store;
  if (vma.anonVma === null) throw new KernelBug('folio_add_new_anon_rmap: VMA has no anon_vma');
  const index = vma.linearPageIndex(haddr);
  const exclusive = mm.kernel.behaviour.anonExclusive ? PG_anon_exclusive : 0;
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const pfn = head + i;
    setPageFlags(s, pfn, PG_anon | PG_swapbacked | exclusive);
    s.mapping[pfn] = vma.anonVma.id;
    s.index[pfn] = index + i;
  }
  s.entireMapcount.set(head, 1);
}

/** folio_remove_rmap_pmd: one PMD mapping of a folio fewer (its entire mapcount). */
export function folioRemoveRmapPmd(mm: MmStruct, head: number): void {
  const s = mm.kernel.mem.store;
  const n = (s.entireMapcount.get(head) ?? 0) - 1;
  if (n < 0) throw new KernelBug(`BUG: Bad page map: compound pfn ${head} entire mapcount underflow`);
  if (n === 0) s.entireMapcount.delete(head);
  else s.entireMapcount.set(head, n);
}

// -- try_to_unmap ---------------------------------------------------------------------------------

/**
 * TTU_MIGRATION: try_to_unmap() installs migration entries instead of clearing. @see include/linux/rmap.h
 * (enum ttu_flags, v5.3)
 */
export const TTU_MIGRATION = 0x1;
/** TTU_MUNLOCK: only munlock the page, do not unmap it (v5.3). */
export const TTU_MUNLOCK = 0x2;
/** TTU_IGNORE_MLOCK: unmap even from VM_LOCKED VMAs. */
export const TTU_IGNORE_MLOCK = 0x8;
/** TTU_IGNORE_ACCESS: unmap even if the young bit says the page was recently used (v5.3). */
export const TTU_IGNORE_ACCESS = 0x10;

/**
 * try_to_unmap(page, TTU_MIGRATION): replaces every mapping of `pfn` with a migration entry, each
 * inside a CLEAR invalidation of that one page (try_to_unmap_one). A present PTE becomes a read or
 * write migration entry by its write bit, its dirty bit moves to the page (set_page_dirty); a
 * device-private entry always becomes a *read* migration entry (make_migration_entry(page, 0), as
 * v5.3 does for ZONE_DEVICE pages), and so does a device-exclusive one (v6.19 try_to_migrate_one:
 * such PFN swap entries map the page; only a writable device-private entry migrates writable). Each mapping removed drops its rmap and its page reference; rss
 * is unchanged (migration entries count where the page did). Stops once the page is unmapped.
 * Returns true if the page is no longer mapped (!page_mapped). The caller holds the page lock.
 *
 * Only migration is modelled: without TTU_MIGRATION the page would have to go to swap.
 *
 * @see mm/rmap.c try_to_unmap, try_to_unmap_one (Linux v5.3)
 */
export function* tryToUnmap(kernel: Kernel, pfn: number, flags: number): Task<boolean> {
  if (!(flags & TTU_MIGRATION)) throw new KernelBug('try_to_unmap: only TTU_MIGRATION is modelled (no swap)');
  const s = kernel.mem.store;
  // The folio's lock: a large folio's is its head's.
  if (!s.isLocked(s.compoundHead(pfn))) throw new KernelBug(`try_to_unmap: pfn ${pfn} is not locked`);
  // try_to_migrate (v6.19) takes device-private and device-coherent pages; v5.3 only the former.
  if (s.isZoneDevice(pfn) && !s.isDevicePrivate(pfn) && !s.isDeviceCoherent(pfn))
    return s.mapcount[pfn] === 0;
  for (const t of rmapTargets(kernel, pfn)) {
    if (s.mapcount[pfn] === 0) break;
    yield* tryToUnmapOne(kernel, t, pfn);
  }
  return s.mapcount[pfn] === 0;
}

function* tryToUnmapOne(kernel: Kernel, t: RmapTarget, pfn: number): Task {
  const range = notifierRange(t.mm, t.address, Math.min(t.vma.end, t.address + PAGE_SIZE), MMU_NOTIFY_CLEAR);
  yield* mmuNotifierInvalidateRangeStart(range);
  if (rmapTargetLive(t)) unmapOnePte(kernel, t.mm, t.address, pfn);
  yield* mmuNotifierInvalidateRangeEnd(range);
}

function unmapOnePte(kernel: Kernel, mm: MmStruct, addr: number, pfn: number): void {
  const { pt } = kernel;
  const slot = pt.pteSlot(mm.pgd, addr);
  if (slot < 0) return;
  const lo = pt.lo[slot] as number;
  const hi = pt.hi[slot] as number;
  if (pteNone(lo, hi) || ptePfn(lo, hi) !== pfn) return;
  let write: boolean;
  if (ptePresent(lo)) {
    if (lo & _PAGE_SPECIAL) return;
    write = pteWrite(lo);
  } else if (isDevicePrivateType(swpType(lo)) || isDeviceExclusiveType(swpType(lo))) {
    // try_to_migrate_one (v6.19): writable only for a writable device-private entry (v5.3: never),
    // so a device-exclusive page becomes a read migration entry (the device loses it with the PTE).
    write = kernel.behaviour.deviceMigrationKeepsWrite && isWriteSwpType(swpType(lo));
  } else {
    return;
  }
  setMigrationPte(kernel, mm, slot, pfn, write);
}

/**
 * Replaces the PTE at `slot` (mapping `pfn`, present or device-private) by a read or write
 * migration entry, moving a present PTE's dirty bit to the page, and drops the mapping's rmap and
 * reference (the caller holds its own). rss is unchanged: migration entries count where the page did.
 */
export function setMigrationPte(
  kernel: Kernel,
  mm: MmStruct,
  slot: number,
  pfn: number,
  write: boolean,
): void {
  const { pt, mem } = kernel;
  const lo = pt.lo[slot] as number;
  if (ptePresent(lo) && pteDirty(lo)) setPageFlags(mem.store, pfn, PG_dirty);
  pt.set(slot, swpEntryLo(write ? SWP_MIGRATION_WRITE : SWP_MIGRATION_READ, pfn), pteHiOf(pfn));
  pageRemoveRmap(mm, pfn);
  mem.putPage(pfn);
}
