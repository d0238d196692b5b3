/**
 * Today's device memory migration: migrate_vma_setup / migrate_vma_pages / migrate_vma_finalize,
 * where the driver copies between the steps instead of passing callbacks (the seed's migrate_vma,
 * src/mm/migrate.ts), and migrate_device_range / _pages / _finalize, the same by device pfn for
 * eviction when the driver does not know the virtual addresses.
 *
 *   setup     the -EINVAL checks; collect: walk the range inside one MMU_NOTIFY_MIGRATE invalidation
 *             carrying `pgmapOwner` (so the owning driver can skip its own device-private entries),
 *             filtered by the SELECT flags and owner; holes and the zero page are "allocate for me"
 *             entries (anonymous VMAs only); each page is referenced and, if its lock is free (or it
 *             is `faultPage`, which the CPU fault already locked), unmapped into a migration entry at
 *             once, else dropped (best effort); unmap: try_to_migrate the pages still mapped
 *             elsewhere and drop the pinned ones (restoring their PTEs). cpages = pages left to move.
 *   pages     move struct-page state to each destination the driver filled in (folio_migrate_mapping
 *             with the fault page's extra reference), or insert the destination where there was a
 *             hole, losing to a CPU fault that populated it meanwhile.
 *   finalize  every migration entry becomes the new page, or the old page again; unlock and drop the
 *             references; a device source page with no reference left goes back to its driver
 *             (ops.folioFree), a system one to the allocator.
 *
 * Entries of src/dst are numbers, `pfn * 2**MIGRATE_PFN_SHIFT + flags`, as the seed's (the pfn of
 * a device page can pass 2^26, so flags are changed with migratePfnSet/Clear, never with 32-bit
 * bitwise operators). MIGRATE_PFN_VALID, _MIGRATE and _WRITE have the same values in v5.3 and v6.19
 * and are shared with src/mm/migrate.ts; v6.19 drops LOCKED, DEVICE and ERROR, and its COMPOUND
 * reuses the bit of v5.3's DEVICE.
 *
 * Device-private THP (v6.19): with SELECT_COMPOUND, a whole aligned PMD (a THP, a device-private
 * PMD, a hole) is one MIGRATE_PFN_COMPOUND entry behind a PMD migration entry; a compound
 * destination moves the folio whole, a small one splits it first (migrate_vma_split_unmapped_folio).
 *
 * Not modelled here (docs/fidelity.md, "Today's API: device memory and migration"): waiting on a
 * migration PMD met by collect (it is skipped), PageAnonExclusive carried through
 * readable-exclusive migration entries, the LRU isolation step.
 *
 * @see mm/migrate_device.c, include/linux/migrate.h (Linux v6.19, as in the
 *      julianw1010/hydra-linux-7.0.0 tree, commit e72a68798f9c)
 */

import { PAGE_SIZE, PMD_SIZE } from '../core/addr.js';
import { KernelBug, KernelWarning } from '../core/assert.js';
import { ArgumentError, EBUSY, EINVAL } from '../core/errno.js';
import type { Task } from '../sched/index.js';
import { anonVmaPrepare } from './fault.js';
import {
  folioPmdSlot,
  folioSplitUnmapped,
  hugePmdLo,
  isHugeZeroPfn,
  removeMigrationPmd,
  setPmdMigrationEntry,
  splitHugePage,
  splitHugePmd,
  splitSwapPmd,
  thpVmaAllowableForced,
} from './huge_memory.js';
import type { Kernel } from './kernel.js';
import {
  insertMapPage,
  insertTargetFree,
  MIGRATE_PFN_MIGRATE,
  MIGRATE_PFN_WRITE,
  migratePage,
  migratePfn,
  migratePfnClear,
  migratePfnFlags,
  migratePfnSet,
  migratePfnToPage,
  pageFileMapping,
  removeMigrationPte,
  removeMigrationPtes,
} from './migrate.js';
import type { MmStruct } from './mm.js';
import { addMmCounter } from './mm.js';
import type { MmTracepoints } from './mm_trace.js';
import type { MmuNotifierRange } from './mmu_notifier.js';
import {
  MMU_NOTIFY_CLEAR,
  MMU_NOTIFY_MIGRATE,
  mmuNotifierInvalidateRangeEnd,
  mmuNotifierInvalidateRangeStart,
  mmuNotifierRangeInitOwner,
  notifierRange,
} from './mmu_notifier.js';
import {
  clearPageFlags,
  HPAGE_PMD_NR,
  PG_anon,
  PG_anon_exclusive,
  PG_swapbacked,
  PG_uptodate,
  pageMaybeDmaPinned,
  setPageFlags,
  ZERO_PFN,
} from './page.js';
import { pteSlotIn } from './pagetable.js';
import {
  _PAGE_DIRTY,
  _PAGE_PSE,
  _PAGE_RW,
  _PAGE_SPECIAL,
  isDevicePrivateType,
  isPmdDevicePrivateEntry,
  isPmdMigrationEntry,
  isWriteSwpType,
  pteHiOf,
  pteNone,
  ptePfn,
  ptePresent,
  pteWrite,
  SWP_DEVICE_READ,
  SWP_DEVICE_WRITE,
  swpEntryLo,
  swpType,
} from './pte.js';
import {
  folioAddNewAnonRmapPmd,
  rmapTargetLive,
  rmapTargets,
  setMigrationPte,
  TTU_IGNORE_ACCESS,
  TTU_IGNORE_MLOCK,
  TTU_MIGRATION,
  tryToUnmap,
} from './rmap.js';
import type { Vma } from './vma.js';
import { VM_HUGETLB, VM_SPECIAL, VM_WRITE, vmPageProt } from './vma.js';

// The entry encoding is the seed's (same values in v6.19); a driver of today's API finds it here.
export {
  MIGRATE_PFN_MIGRATE,
  MIGRATE_PFN_VALID,
  MIGRATE_PFN_WRITE,
  migratePfn,
  migratePfnFlags,
  migratePfnSet,
  migratePfnToPage,
} from './migrate.js';

/** MIGRATE_PFN_COMPOUND (v6.19): the entry stands for a whole PMD-sized folio. */
export const MIGRATE_PFN_COMPOUND = 1 << 4;

/** enum migrate_vma_direction (bit 0): collect system memory (RAM pages, holes, the zero page). */
export const MIGRATE_VMA_SELECT_SYSTEM = 0x1;
/** Bit 1: collect device-private pages whose pgmap owner is `pgmapOwner`. */
export const MIGRATE_VMA_SELECT_DEVICE_PRIVATE = 0x2;
/** Bit 2: collect device-coherent pages whose pgmap owner is `pgmapOwner`. */
export const MIGRATE_VMA_SELECT_DEVICE_COHERENT = 0x4;
/** Bit 3: collect PMD-sized folios (and whole empty PMDs) whole, as MIGRATE_PFN_COMPOUND entries (v6.19). */
export const MIGRATE_VMA_SELECT_COMPOUND = 0x8;

/**
 * struct migrate_vma: the driver fills vma, src, dst, start, end, pgmapOwner, flags and faultPage;
 * migrate_vma_setup fills cpages and npages.
 * @see include/linux/migrate.h struct migrate_vma (Linux v6.19)
 */
export interface MigrateVma {
  /** The VMA [start, end) lies in; the caller holds its mm's mmap_lock (read at least). */
  vma: Vma | null;
  /** (end - start) / PAGE_SIZE entries; zeroed and filled by setup. */
  src: Float64Array | null;
  /** As many entries; zeroed by setup, filled by the driver between setup and pages. */
  dst: Float64Array | null;
  /** Pages collected (setup) and still migrating after unmap. */
  cpages: number;
  /** Entries filled by setup. */
  npages: number;
  /** First address of the range (aligned down by setup). */
  start: number;
  /** End of the range (aligned down by setup; after collect, start + npages pages). */
  end: number;
  /** Whose device pages to collect, and the owner the MIGRATE invalidation carries. */
  pgmapOwner?: unknown;
  /** MIGRATE_VMA_SELECT_*. */
  flags: number;
  /** The device-private page the CPU faulted on (locked by the fault path), or null/undefined. */
  faultPage?: number | null;
}

/** vma->vm_mm. */
function vmaMm(vma: Vma): MmStruct {
  return vma.mm as MmStruct;
}

/** The fault page as a pfn, -1 for none. */
function faultPfn(args: MigrateVma): number {
  return args.faultPage === undefined || args.faultPage === null ? -1 : args.faultPage;
}

/**
 * migrate_vma_setup(args): returns 0 (whatever was collected: see args.cpages) or -EINVAL: no VMA,
 * a hugetlb or VM_SPECIAL VMA, an empty range, a start outside the VMA, an end outside it, no src
 * or dst, a fault page that is not device-private or not locked. The range is page-aligned down
 * after its size is taken, as the kernel does.
 */
export function* migrateVmaSetup(args: MigrateVma): Task<number> {
  const nrPages = Math.floor((args.end - args.start) / PAGE_SIZE);
  args.start -= args.start % PAGE_SIZE;
  args.end -= args.end % PAGE_SIZE;
  const { vma, src, dst } = args;
  // vma_is_dax: the model has no DAX mappings.
  if (vma === null || vma.flags & (VM_HUGETLB | VM_SPECIAL)) return -EINVAL;
  if (nrPages <= 0) return -EINVAL;
  if (args.start < vma.start || args.start >= vma.end) return -EINVAL;
  if (args.end <= vma.start || args.end > vma.end) return -EINVAL;
  if (src === null || dst === null) return -EINVAL;
  const mm = vmaMm(vma);
  const s = mm.kernel.mem.store;
  const fault = faultPfn(args);
  if (fault >= 0) {
    s.checkPfn(fault, 'faultPage');
    if (!s.isDevicePrivate(fault)) return -EINVAL;
    if (!s.isLocked(s.compoundHead(fault))) return -EINVAL;
  }
  mm.mmapSem.assertHeld('any');
  const walked = (args.end - args.start) / PAGE_SIZE;
  if (src.length < Math.max(nrPages, walked) || dst.length < walked)
    throw new KernelBug(
      `migrate_vma_setup: src/dst hold ${src.length}/${dst.length} entries, the range needs ${walked}`,
    );
  src.fill(0, 0, nrPages);
  args.cpages = 0;
  args.npages = 0;
  mm.kernel.counters.inc('migrate_vma_setup');
  yield* migrateVmaCollect(args, mm);
  // From the collection on, the CPU entries are migration entries of this owner's migration: the
  // unmap below can yield (a forked child's invalidation) before it restores the pages it cannot move.
  noteMigrateOwners(mm.kernel, args);
  if (args.cpages > 0)
    args.cpages = yield* migrateDeviceUnmap(mm.kernel, src, args.npages, fault, localSlots.get(args) ?? null);
  traceMigrate('migrate_vma_setup', mm, args);
  return 0;
}

/** A migrate_vma step's tracepoint (mm_trace.ts). */
function traceMigrate(name: keyof MmTracepoints, mm: MmStruct, args: MigrateVma): void {
  const t = mm.kernel.tracepoints;
  if (t.enabled)
    t.emit(name, { mm, start: args.start, end: args.end, npages: args.npages, cpages: args.cpages } as never);
}

/** Records the owner of every page this migration holds (Kernel.migrateOwners, for the checkers). */
function noteMigrateOwners(kernel: Kernel, args: MigrateVma): void {
  const src = args.src as Float64Array;
  for (let i = 0; i < args.npages; i++) {
    const pfn = migratePfnToPage(src[i] as number);
    if (pfn >= 0 && migratePfnFlags(src[i] as number) & MIGRATE_PFN_MIGRATE)
      kernel.migrateOwners.set(pfn, args.pgmapOwner ?? null);
  }
}

// -- collect ---------------------------------------------------------------------------------------

/** The state of one collect walk. */
interface Collect {
  readonly args: MigrateVma;
  readonly mm: MmStruct;
  readonly src: Float64Array;
  readonly dst: Float64Array;
  readonly fault: number;
  /** Per entry, the PTE slot collect replaced by the page's only migration entry, else -1. */
  readonly slots: Float64Array;
}

/**
 * Host-side bookkeeping, per migrate_vma: where each page's only migration entry is, when collect
 * installed it and try_to_migrate found nothing else to unmap, so finalize can restore that one PTE
 * instead of walking the rmap. The result is the kernel's (remove_migration_ptes finds that PTE).
 */
const localSlots = new WeakMap<MigrateVma, Float64Array>();

/**
 * migrate_vma_collect: one MMU_NOTIFY_MIGRATE invalidation with the owner around the walk; the walk
 * itself is one atomic step (the page-table locks). end becomes start + npages pages.
 */
function* migrateVmaCollect(args: MigrateVma, mm: MmStruct): Task {
  const range = mmuNotifierRangeInitOwner(
    MMU_NOTIFY_MIGRATE,
    mm,
    args.start,
    args.end,
    args.pgmapOwner ?? null,
  );
  yield* mmuNotifierInvalidateRangeStart(range);
  const c: Collect = {
    args,
    mm,
    src: args.src as Float64Array,
    dst: args.dst as Float64Array,
    fault: faultPfn(args),
    slots: new Float64Array((args.src as Float64Array).length).fill(-1),
  };
  const { pt } = mm.kernel;
  pt.walk(mm.pgd, args.start, args.end, {
    present: (t, a, b) => collectTable(c, t, a, b),
    huge: (slot, a, b) => collectHugePmd(c, slot, a, b),
    swapPmd: (slot, a, b) => collectSwapPmd(c, slot, a, b),
    hole: (a, b) => collectHole(c, a, b),
  });
  yield* mmuNotifierInvalidateRangeEnd(range);
  args.end = args.start + args.npages * PAGE_SIZE;
  localSlots.set(args, c.slots);
}

function collectEntry(c: Collect, mpfn: number): void {
  c.dst[c.args.npages] = 0;
  c.src[c.args.npages++] = mpfn;
}

/** migrate_vma_collect_skip. */
function collectSkip(c: Collect, a: number, b: number): number {
  for (let addr = a; addr < b; addr += PAGE_SIZE) collectEntry(c, 0);
  return 0;
}

/** The whole PMD [a, b) is collected as one compound entry: SELECT_COMPOUND and both ends aligned. */
function collectCompound(c: Collect, a: number, b: number): boolean {
  return (c.args.flags & MIGRATE_VMA_SELECT_COMPOUND) !== 0 && a % PMD_SIZE === 0 && b % PMD_SIZE === 0;
}

/**
 * migrate_vma_collect_hole: "allocate for me" entries, in anonymous VMAs only; a whole PMD with
 * SELECT_COMPOUND is one MIGRATE | COMPOUND entry and 511 empty ones (for a split later).
 */
function collectHole(c: Collect, a: number, b: number): number {
  const vma = c.args.vma as Vma;
  if (!vma.isAnonymous()) return collectSkip(c, a, b);
  if (collectCompound(c, a, b)) {
    c.args.cpages++;
    collectEntry(c, MIGRATE_PFN_MIGRATE | MIGRATE_PFN_COMPOUND);
    return collectSkip(c, a + PAGE_SIZE, b);
  }
  for (let addr = a; addr < b; addr += PAGE_SIZE) {
    c.args.cpages++;
    collectEntry(c, MIGRATE_PFN_MIGRATE);
  }
  return 0;
}

/**
 * migrate_vma_collect_huge_pmd on a huge PMD: skipped unless SELECT_SYSTEM; the huge zero page is
 * a hole (one compound entry, or 512 the insert splits it for); a THP goes to collectFolioPmd.
 */
function collectHugePmd(c: Collect, slot: number, a: number, b: number): number {
  const { pt } = c.mm.kernel;
  if (!(c.args.flags & MIGRATE_VMA_SELECT_SYSTEM)) return collectSkip(c, a, b);
  const lo = pt.lo[slot] as number;
  const head = ptePfn(lo, pt.hi[slot] as number);
  if (isHugeZeroPfn(c.mm.kernel, head)) return collectHole(c, a, b);
  return collectFolioPmd(c, slot, head, lo & _PAGE_RW ? MIGRATE_PFN_WRITE : 0, a, b);
}

/**
 * migrate_vma_collect_huge_pmd on a non-present PMD: only a device-private PMD of the owner with
 * SELECT_DEVICE_PRIVATE is collected (a migration PMD is skipped, as the kernel's test order does).
 */
function collectSwapPmd(c: Collect, slot: number, a: number, b: number): number {
  const { pt, mem } = c.mm.kernel;
  const lo = pt.lo[slot] as number;
  const hi = pt.hi[slot] as number;
  const head = ptePfn(lo, hi);
  if (
    !isPmdDevicePrivateEntry(lo, hi) ||
    !(c.args.flags & MIGRATE_VMA_SELECT_DEVICE_PRIVATE) ||
    mem.store.pgmapOf(head)?.owner !== c.args.pgmapOwner
  )
    return collectSkip(c, a, b);
  return collectFolioPmd(c, slot, head, swpType(lo) === SWP_DEVICE_WRITE ? MIGRATE_PFN_WRITE : 0, a, b);
}

/**
 * The folio of a PMD, referenced and locked (trylock, unless it is the fault folio): with
 * SELECT_COMPOUND over the whole PMD, one MIGRATE | COMPOUND entry and the PMD made a migration
 * entry (set_pmd_migration_entry); otherwise, or if that fails, the folio is split (split_folio,
 * PMD mappings first) and its pages collected one by one; a lock taken or a failed split (a pin)
 * skips the PMD.
 */
function collectFolioPmd(
  c: Collect,
  slot: number,
  head: number,
  write: number,
  a: number,
  b: number,
): number {
  const { kernel } = c.mm;
  const { mem, pt } = kernel;
  const isFault = c.fault >= 0 && mem.store.compoundHead(c.fault) === head;
  mem.getPage(head);
  if (!isFault && !mem.trylockPage(head)) {
    mem.putPage(head);
    return collectSkip(c, a, b);
  }
  if (collectCompound(c, a, b) && setPmdMigrationEntry(c.mm, slot, head)) {
    c.args.cpages++;
    collectEntry(c, migratePfnSet(migratePfn(head), MIGRATE_PFN_MIGRATE | MIGRATE_PFN_COMPOUND | write));
    return collectSkip(c, a + PAGE_SIZE, b);
  }
  const ok = splitHugePage(kernel, head, isFault ? 2 : 1);
  if (!isFault) mem.unlockPage(head);
  mem.putPage(head);
  if (!ok) return collectSkip(c, a, b);
  return collectTable(c, pt.child(slot), a, b);
}

/** The PTE loop of migrate_vma_collect_pmd over one table. */
function collectTable(c: Collect, t: number, a: number, b: number): number {
  for (let addr = a; addr < b; addr += PAGE_SIZE) {
    const mpfn = collectPte(c, pteSlotIn(t, addr));
    if (mpfn === SPLIT_FAILED) return collectSkip(c, addr, b);
    collectEntry(c, mpfn);
  }
  return 0;
}

/** collectPte's answer when a PTE-mapped THP could not be split: skip the rest of the table. */
const SPLIT_FAILED = -1;

/** The page a present PTE maps that collect may take, or -1 (vm_normal_page NULL, or filtered out). */
function collectPresentPage(c: Collect, lo: number, pfn: number): number {
  const s = c.mm.kernel.mem.store;
  if (lo & _PAGE_SPECIAL) return -1;
  const flags = c.args.flags;
  if (!s.isZoneDevice(pfn) && !(flags & MIGRATE_VMA_SELECT_SYSTEM)) return -1;
  if (s.isDeviceCoherent(pfn)) {
    if (!(flags & MIGRATE_VMA_SELECT_DEVICE_COHERENT) || s.pgmapOf(pfn)?.owner !== c.args.pgmapOwner)
      return -1;
  }
  return pfn;
}

/** One PTE of migrate_vma_collect_pmd: returns the src entry (0: not collected). */
function collectPte(c: Collect, slot: number): number {
  const { pt } = c.mm.kernel;
  const lo = pt.lo[slot] as number;
  const hi = pt.hi[slot] as number;
  if (pteNone(lo, hi)) return collectNone(c);
  const pfn = ptePfn(lo, hi);
  const mpfn = ptePresent(lo) ? collectPresent(c, lo, pfn) : collectSwap(c, lo, pfn);
  if (mpfn === SPLIT_FAILED || migratePfnToPage(mpfn) < 0) return mpfn;
  if (c.mm.kernel.mem.store.mapping[pfn] === 0) return 0;
  return collectLockAndUnmap(c, slot, pfn, mpfn);
}

/** pte_none: a hole to fill, in an anonymous VMA. */
function collectNone(c: Collect): number {
  if (!(c.args.vma as Vma).isAnonymous()) return 0;
  c.args.cpages++;
  return MIGRATE_PFN_MIGRATE;
}

/** A swap-type entry: only a device-private entry of the owner migrates (not swap, migration, hwpoison). */
function collectSwap(c: Collect, lo: number, pfn: number): number {
  const type = swpType(lo);
  if (!isDevicePrivateType(type) || !(c.args.flags & MIGRATE_VMA_SELECT_DEVICE_PRIVATE)) return 0;
  const s = c.mm.kernel.mem.store;
  if (s.pgmapOf(pfn)?.owner !== c.args.pgmapOwner) return 0;
  // A PTE of a large device folio (its PMD was split): migrate_vma_split_folio first.
  if (s.isCompound(pfn) && !splitPteMappedFolio(c, pfn)) return SPLIT_FAILED;
  const write = isWriteSwpType(type) ? MIGRATE_PFN_WRITE : 0;
  return migratePfnSet(migratePfn(pfn), MIGRATE_PFN_MIGRATE | write);
}

/** A present PTE: the zero page is a hole (SELECT_SYSTEM); a PTE-mapped THP is split first. */
function collectPresent(c: Collect, lo: number, pfn: number): number {
  if (pfn === ZERO_PFN && c.args.flags & MIGRATE_VMA_SELECT_SYSTEM) return collectNoneAlways(c);
  if (collectPresentPage(c, lo, pfn) < 0) return 0;
  if (c.mm.kernel.mem.store.isCompound(pfn) && !splitPteMappedFolio(c, pfn)) return SPLIT_FAILED;
  const write = pteWrite(lo) ? MIGRATE_PFN_WRITE : 0;
  return migratePfnSet(migratePfn(pfn), MIGRATE_PFN_MIGRATE | write);
}

/** The zero page: "allocate for me", whatever the VMA. */
function collectNoneAlways(c: Collect): number {
  c.args.cpages++;
  return MIGRATE_PFN_MIGRATE;
}

/**
 * migrate_vma_split_folio for a PTE-mapped large folio (a THP, or a device folio whose PMD was
 * split): reference and lock it (the fault folio already is), split it, then unlock and unreference
 * it — unless it was the fault folio, whose lock and reference move to the fault page's new folio.
 */
function splitPteMappedFolio(c: Collect, pfn: number): boolean {
  const { kernel } = c.mm;
  const { mem } = kernel;
  const head = mem.store.compoundHead(pfn);
  const isFault = c.fault >= 0 && mem.store.compoundHead(c.fault) === head;
  if (!isFault) {
    mem.getPage(head);
    if (!mem.trylockPage(head)) {
      mem.putPage(head);
      return false;
    }
  }
  const ok = splitHugePage(kernel, head, 1);
  if (isFault && ok && c.fault !== head) {
    mem.getPage(c.fault);
    mem.trylockPage(c.fault);
  }
  if (!isFault || (ok && c.fault !== head)) {
    mem.unlockPage(head);
    mem.putPage(head);
  }
  return ok;
}

/**
 * The reference ("freezes" the PTE), then the lock — the fault page's is already held — and the
 * migration entry in place of the PTE, with its rmap and reference dropped; or, if the lock is
 * taken, nothing (best effort: waiting could deadlock two migrations). Under anonExclusive an
 * exclusive page that may be pinned cannot be shared (folio_try_share_anon_rmap_pte) and stays.
 */
function collectLockAndUnmap(c: Collect, slot: number, pfn: number, mpfn: number): number {
  const { kernel } = c.mm;
  const { mem } = kernel;
  const s = mem.store;
  mem.getPage(pfn);
  const isFault = pfn === c.fault;
  if (!isFault && !mem.trylockPage(pfn)) {
    mem.putPage(pfn);
    return 0;
  }
  const anonExclusive =
    ((s.flags[pfn] as number) & (PG_anon | PG_anon_exclusive)) === (PG_anon | PG_anon_exclusive);
  if (anonExclusive && kernel.behaviour.anonExclusive) {
    if (pageMaybeDmaPinned(s, pfn)) {
      if (!isFault) mem.unlockPage(pfn);
      mem.putPage(pfn);
      return 0;
    }
    clearPageFlags(s, pfn, PG_anon_exclusive);
  }
  c.args.cpages++;
  c.slots[c.args.npages] = slot;
  setMigrationPte(kernel, c.mm, slot, pfn, (migratePfnFlags(mpfn) & MIGRATE_PFN_WRITE) !== 0);
  return mpfn;
}

// -- unmap -----------------------------------------------------------------------------------------

/**
 * migrate_vma_check_page: false if the folio has references beyond its mappings and the expected
 * ones: the caller's (collect's, or the isolation reference the model does not separate from it),
 * the fault page's (the fault path's), one allowed for a ZONE_DEVICE page, the page cache's.
 */
function migrateVmaCheckPage(kernel: Kernel, pfn: number, fault: number): boolean {
  const s = kernel.mem.store;
  let extra = 1 + (pfn === fault ? 1 : 0);
  if (s.isZoneDevice(pfn)) extra++;
  if (pageFileMapping(kernel, pfn) !== undefined) extra++;
  return (s.refcount[pfn] as number) - extra <= folioMapped(s, pfn);
}

/** folio_mapcount of the folio `pfn` heads (a large folio's entire and PTE mappings), else page_mapcount. */
function folioMapped(s: Kernel['mem']['store'], pfn: number): number {
  return s.isCompound(pfn) ? s.folioMapcount(pfn) : (s.mapcount[pfn] as number);
}

/**
 * migrate_device_unmap(src, npages, fault_page): try_to_migrate every page still mapped, then drop
 * (restore everywhere, unlock, unreference) the pages still mapped or pinned. A large folio is one
 * entry (MIGRATE_PFN_COMPOUND) standing for its 512 pages; one still mapped elsewhere is restored
 * (the model's try_to_migrate handles PTEs only). Returns the number of entries still migrating
 * (holes included).
 */
function* migrateDeviceUnmap(
  kernel: Kernel,
  src: Float64Array,
  npages: number,
  fault: number,
  slots: Float64Array | null = null,
): Task<number> {
  const { mem } = kernel;
  const s = mem.store;
  let restore = 0;
  let unmapped = 0;
  for (let i = 0; i < npages; ) {
    const pfn = migratePfnToPage(src[i] as number);
    if (pfn < 0) {
      if (migratePfnFlags(src[i] as number) & MIGRATE_PFN_MIGRATE) unmapped++;
      i++;
      continue;
    }
    const large = s.isCompound(pfn);
    if (large) src[i] = migratePfnSet(src[i] as number, MIGRATE_PFN_COMPOUND);
    if (large && s.folioMapcount(pfn) !== 0) {
      yield* tryToMigratePmds(kernel, pfn);
      yield* tryToMigrateSubpages(kernel, pfn);
    } else if (!large && s.mapcount[pfn] !== 0) {
      if (slots !== null) slots[i] = -1;
      yield* tryToUnmap(kernel, pfn, TTU_MIGRATION | TTU_IGNORE_MLOCK | TTU_IGNORE_ACCESS);
    }
    if (folioMapped(s, pfn) !== 0 || !migrateVmaCheckPage(kernel, pfn, fault)) {
      src[i] = migratePfnClear(src[i] as number, MIGRATE_PFN_MIGRATE);
      restore++;
    } else {
      unmapped++;
    }
    i += large ? HPAGE_PMD_NR : 1;
  }
  for (let i = 0; i < npages && restore > 0; i++) {
    const pfn = migratePfnToPage(src[i] as number);
    if (pfn < 0 || migratePfnFlags(src[i] as number) & MIGRATE_PFN_MIGRATE) continue;
    removeMigrationEntries(kernel, pfn, pfn);
    kernel.migrateOwners.delete(pfn);
    src[i] = 0;
    if (pfn !== fault) mem.unlockPage(pfn);
    mem.putPage(pfn);
    restore--;
  }
  return unmapped;
}

/**
 * try_to_migrate of a large folio mapped by PTEs elsewhere (a fork's, after a split of its PMD):
 * each subpage's PTE mappings become migration entries (try_to_migrate_one, PTE by PTE), as for
 * a small page; remove_migration_ptes maps the new folio's subpages there.
 */
function* tryToMigrateSubpages(kernel: Kernel, head: number): Task {
  const s = kernel.mem.store;
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    if ((s.mapcount[head + i] as number) > 0)
      yield* tryToUnmap(kernel, head + i, TTU_MIGRATION | TTU_IGNORE_MLOCK | TTU_IGNORE_ACCESS);
  }
}

/**
 * try_to_migrate of a large folio still mapped elsewhere (a forked child's PMD): each PMD mapping
 * it, present or device-private, becomes a migration PMD inside a CLEAR invalidation of its 2 MiB
 * (try_to_migrate_one's set_pmd_migration_entry); its PTE mappings go through tryToMigrateSubpages.
 */
function* tryToMigratePmds(kernel: Kernel, head: number): Task {
  for (const t of rmapTargets(kernel, head)) {
    const haddr = t.address - (t.address % PMD_SIZE);
    const range = notifierRange(t.mm, haddr, haddr + PMD_SIZE, MMU_NOTIFY_CLEAR);
    yield* mmuNotifierInvalidateRangeStart(range);
    const slot = rmapTargetLive(t) ? folioPmdSlot(t.mm, t.address, head) : -1;
    if (slot >= 0) setPmdMigrationEntry(t.mm, slot, head);
    yield* mmuNotifierInvalidateRangeEnd(range);
  }
}

/**
 * remove_migration_ptes(src, dst): every migration entry for `pfn` maps `newpfn` again — the PMD
 * migration entries of a large folio (remove_migration_pmd), else the PTE ones. A large folio's PMD
 * migration entry may have been split since the collect (a munmap or mprotect of part of it, in
 * this mm or a fork's): page_vma_mapped_walk then finds PTE migration entries of its subpages,
 * and each maps its new subpage (remove_migration_pte). Missing them left the CPU waiting on a
 * migration that had ended.
 */
function removeMigrationEntries(kernel: Kernel, pfn: number, newpfn: number): void {
  if (!kernel.mem.store.isCompound(pfn)) {
    removeMigrationPtes(kernel, pfn, newpfn);
    return;
  }
  const { pt } = kernel;
  let split = false;
  for (const t of rmapTargets(kernel, newpfn)) {
    const slot = rmapTargetLive(t) ? pt.swapPmdSlot(t.mm.pgd, t.address) : -1;
    const lo = slot < 0 ? 0 : (pt.lo[slot] as number);
    const hi = slot < 0 ? 0 : (pt.hi[slot] as number);
    if (isPmdMigrationEntry(lo, hi) && ptePfn(lo, hi) === pfn) removeMigrationPmd(t.mm, t.vma, slot, newpfn);
    else split = true;
  }
  if (split) for (let i = 0; i < HPAGE_PMD_NR; i++) removeMigrationPtes(kernel, pfn + i, newpfn + i);
}

// -- pages -----------------------------------------------------------------------------------------

/** migrate_vma_pages(migrate): __migrate_device_pages over the VMA's entries. */
export function* migrateVmaPages(args: MigrateVma): Task {
  const { vma, src, dst } = args;
  if (vma === null || src === null || dst === null)
    throw new KernelBug('migrate_vma_pages: no vma, src or dst');
  traceMigrate('migrate_vma_pages', vmaMm(vma), args);
  yield* migrateDevicePagesIn(vmaMm(vma).kernel, src, dst, args.npages, args);
}

/**
 * migrate_device_pages(src, dst, npages): migrate_vma_pages for entries from migrateDeviceRange
 * (no VMA, so no holes to fill).
 */
export function* migrateDevicePages(
  kernel: Kernel,
  src: Float64Array,
  dst: Float64Array,
  npages: number,
): Task {
  checkArrays(src, dst, npages);
  yield* migrateDevicePagesIn(kernel, src, dst, npages, null);
}

function checkArrays(src: Float64Array, dst: Float64Array | null, npages: number): void {
  if (!Number.isSafeInteger(npages) || npages < 0)
    throw new ArgumentError('npages', `expected a count, got ${npages}`);
  if (src.length < npages) throw new ArgumentError('src', `holds ${src.length} entries, npages is ${npages}`);
  if (dst !== null && dst.length < npages)
    throw new ArgumentError('dst', `holds ${dst.length} entries, npages is ${npages}`);
}

/** The entry has every bit of `bits`. */
function has(entry: number, bits: number): boolean {
  return (migratePfnFlags(entry) & bits) === bits;
}

/**
 * __migrate_device_pages: each entry with a destination moves (or a hole gets the destination
 * inserted inside one MIGRATE invalidation from the first hole on). A compound source with a
 * small destination is split first (its 512 pages then move one by one, or a compound hole gets
 * 512 inserts); a compound destination for a small source does not move.
 */
function* migrateDevicePagesIn(
  kernel: Kernel,
  src: Float64Array,
  dst: Float64Array,
  npages: number,
  migrate: MigrateVma | null,
): Task {
  let range: MmuNotifierRange | null = null;
  for (let i = 0; i < npages; ) {
    const newpfn = migratePfnToPage(dst[i] as number);
    const pfn = migratePfnToPage(src[i] as number);
    const compoundSrc = has(src[i] as number, MIGRATE_PFN_COMPOUND);
    const compoundDst = has(dst[i] as number, MIGRATE_PFN_COMPOUND);
    let nr = 1;
    if (newpfn < 0) {
      src[i] = migratePfnClear(src[i] as number, MIGRATE_PFN_MIGRATE);
    } else if (pfn < 0) {
      if (has(src[i] as number, MIGRATE_PFN_MIGRATE)) {
        // A hole (or the zero page) to fill. VM_BUG_ON(!migrate): migrate_device_range has none.
        if (migrate === null) throw new KernelBug(`migrate_device_pages: entry ${i} is a hole`);
        const addr = migrate.start + i * PAGE_SIZE;
        if (range === null) {
          range = mmuNotifierRangeInitOwner(
            MMU_NOTIFY_MIGRATE,
            vmaMm(migrate.vma as Vma),
            addr,
            migrate.end,
            migrate.pgmapOwner ?? null,
          );
          yield* mmuNotifierInvalidateRangeStart(range);
        }
        nr = insertHole(migrate, i, compoundSrc && !compoundDst);
      }
    } else if (has(src[i] as number, MIGRATE_PFN_MIGRATE | MIGRATE_PFN_COMPOUND) && !compoundDst) {
      nr = HPAGE_PMD_NR;
      if (migrate === null || !migrateVmaSplitUnmappedFolio(migrate, i, pfn)) {
        src[i] = migratePfnClear(src[i] as number, MIGRATE_PFN_MIGRATE | MIGRATE_PFN_COMPOUND);
      } else {
        for (let j = 0; j < nr && i + j < npages; j++) movePage(kernel, src, dst, i + j, migrate);
      }
    } else if (compoundDst && !compoundSrc) {
      src[i] = migratePfnClear(src[i] as number, MIGRATE_PFN_MIGRATE);
    } else {
      movePage(kernel, src, dst, i, migrate);
    }
    i += nr;
  }
  if (range !== null) yield* mmuNotifierInvalidateRangeEnd(range);
}

/** The folio_migrate_mapping step of one entry that has a source page and a destination. */
function movePage(
  kernel: Kernel,
  src: Float64Array,
  dst: Float64Array,
  i: number,
  migrate: MigrateVma | null,
): void {
  const newpfn = migratePfnToPage(dst[i] as number);
  const pfn = migratePfnToPage(src[i] as number);
  if (newpfn < 0 || pfn < 0) return;
  const extra = migrate !== null && faultPfn(migrate) === pfn ? 1 : 0;
  if (!migrateOnePage(kernel, newpfn, pfn, extra))
    src[i] = migratePfnClear(src[i] as number, MIGRATE_PFN_MIGRATE);
}

/**
 * A hole entry: migrate_vma_insert_page (a compound destination: a PMD, see
 * migrateVmaInsertHugePmdPage); a compound hole given small pages gets 512 inserts. Returns the
 * entries consumed.
 */
function insertHole(migrate: MigrateVma, i: number, splitHole: boolean): number {
  const src = migrate.src as Float64Array;
  const dst = migrate.dst as Float64Array;
  const addr = migrate.start + i * PAGE_SIZE;
  if (has(dst[i] as number, MIGRATE_PFN_COMPOUND)) {
    if (!migrateVmaInsertHugePmdPage(migrate, addr, migratePfnToPage(dst[i] as number)))
      for (let j = i; j < i + HPAGE_PMD_NR && j < migrate.npages; j++)
        src[j] = migratePfnClear(src[j] as number, MIGRATE_PFN_MIGRATE);
    return 1;
  }
  const nr = splitHole ? HPAGE_PMD_NR : 1;
  if (splitHole) src[i] = migratePfnClear(src[i] as number, MIGRATE_PFN_COMPOUND);
  for (let j = 0; j < nr && i + j < migrate.npages; j++) {
    const e = migratePfnSet(src[i + j] as number, MIGRATE_PFN_MIGRATE);
    const newpfn = migratePfnToPage(dst[i + j] as number);
    src[i + j] =
      newpfn < 0
        ? migratePfnClear(e, MIGRATE_PFN_MIGRATE)
        : migrateVmaInsertPage(migrate, addr + j * PAGE_SIZE, newpfn, e);
  }
  return nr;
}

/**
 * migrate_vma_split_unmapped_folio: the collected folio's migration PMD becomes 512 migration PTEs
 * (split_huge_pmd_address with freeze), the folio 512 order-0 folios (folio_split_unmapped), and
 * its entry 512 entries with its flags, COMPOUND dropped.
 * @see mm/migrate_device.c migrate_vma_split_unmapped_folio (Linux v6.19)
 */
function migrateVmaSplitUnmappedFolio(migrate: MigrateVma, idx: number, head: number): boolean {
  const mm = vmaMm(migrate.vma as Vma);
  const { pt, mem } = mm.kernel;
  const src = migrate.src as Float64Array;
  mem.getPage(head);
  const addr = migrate.start + idx * PAGE_SIZE;
  const slot = pt.swapPmdSlot(mm.pgd, addr);
  if (slot >= 0) splitSwapPmd(mm, slot);
  folioSplitUnmapped(mm.kernel, head);
  const flags = migratePfnFlags(src[idx] as number) & ~MIGRATE_PFN_COMPOUND;
  for (let i = 0; i < HPAGE_PMD_NR; i++) src[idx + i] = migratePfnSet(migratePfn(head + i), flags);
  return true;
}

/**
 * One entry of __migrate_device_pages with a source page: only anonymous memory (no mapping; the
 * model has no swap cache) moves to device-private or device-coherent memory, no other ZONE_DEVICE
 * type is a destination; then folio_migrate_mapping and folio_migrate_flags.
 */
function migrateOnePage(kernel: Kernel, newpfn: number, pfn: number, extraCount: number): boolean {
  const s = kernel.mem.store;
  const mapping = pageFileMapping(kernel, pfn);
  if (s.isDevicePrivate(newpfn) || s.isDeviceCoherent(newpfn)) {
    if (mapping !== undefined) return false;
  } else if (s.isZoneDevice(newpfn)) {
    return false;
  }
  if (!migratePage(kernel, mapping, newpfn, pfn, extraCount)) return false;
  if (s.isCompound(pfn)) folioMigrateTails(kernel, newpfn, pfn);
  return true;
}

/** folio_migrate_mapping/flags of a large folio: the model keeps ->mapping, ->index and the anon bits per subpage. */
function folioMigrateTails(kernel: Kernel, newHead: number, head: number): void {
  const s = kernel.mem.store;
  const anon = (s.flags[head] as number) & (PG_anon | PG_swapbacked);
  for (let i = 1; i < HPAGE_PMD_NR; i++) {
    s.mapping[newHead + i] = s.mapping[head + i] as number;
    s.index[newHead + i] = s.index[head + i] as number;
    setPageFlags(s, newHead + i, anon);
  }
}

/**
 * migrate_vma_insert_huge_pmd_page: a compound destination where collect found a whole empty PMD
 * (or the huge zero page), as __do_huge_pmd_anonymous_page would map a THP: the 2 MiB suitable for
 * a PMD, the folio charged (512 pages), a device-private PMD entry (writable iff VM_WRITE) or a
 * present huge PMD (writable and dirty iff VM_WRITE) for system or device-coherent memory, 512 rss,
 * an entire mapping and a reference. Anything else (a PTE table there, a failed charge) aborts:
 * false, and the caller takes MIGRATE off the 512 entries.
 * @see mm/migrate_device.c migrate_vma_insert_huge_pmd_page (Linux v6.19)
 */
function migrateVmaInsertHugePmdPage(migrate: MigrateVma, addr: number, head: number): boolean {
  const vma = migrate.vma as Vma;
  const mm = vmaMm(vma);
  const { pt, mem } = mm.kernel;
  const s = mem.store;
  if (!vma.isAnonymous() || !thpVmaAllowableForced(vma) || addr % PMD_SIZE !== 0 || addr + PMD_SIZE > vma.end)
    return false;
  anonVmaPrepare(mm, vma);
  if (!mem.chargeCompound(head, mm.memcgId)) return false;
  setPageFlags(s, head, PG_uptodate);
  let lo: number;
  if (s.isDevicePrivate(head)) {
    lo = swpEntryLo(vma.flags & VM_WRITE ? SWP_DEVICE_WRITE : SWP_DEVICE_READ, head);
  } else {
    if (s.isZoneDevice(head) && !s.isDeviceCoherent(head)) return false;
    const w = vma.flags & VM_WRITE ? _PAGE_RW | _PAGE_DIRTY : 0;
    lo = hugePmdLo(head, vmPageProt(vma.flags) | w);
  }
  const slot = pt.pmdSlotAlloc(mm.pgd, addr);
  const old = pt.lo[slot] as number;
  if (pt.pteTable(mm.pgd, addr) !== 0 || pt.swapPmdSlot(mm.pgd, addr) >= 0) return false;
  if (old !== 0 || pt.hi[slot] !== 0) {
    if (!(old & _PAGE_PSE) || !isHugeZeroPfn(mm.kernel, ptePfn(old, pt.hi[slot] as number))) return false;
  }
  addMmCounter(mm, mm.mmCounter(head), HPAGE_PMD_NR);
  folioAddNewAnonRmapPmd(mm, vma, head, addr);
  mem.getPage(head);
  pt.set(slot, lo, pteHiOf(head));
  mm.kernel.counters.inc('migrate_vma_inserted_pmd');
  return true;
}

/**
 * migrate_vma_insert_page: maps the destination where collect found a hole or the zero page, as
 * do_anonymous_page would (anonymous VMAs only; a huge zero PMD is split first, any other huge PMD
 * aborts): memcg charge, a device-private entry (writable iff VM_WRITE) or a present PTE (writable
 * and dirty iff VM_WRITE) for system or device-coherent memory. Aborts if the PTE is neither none
 * nor the zero page any more (a CPU fault won the race). Returns the new src entry: bare MIGRATE,
 * or the old one without MIGRATE. A failed charge is not cancelled: it goes with the page's free.
 */
function migrateVmaInsertPage(migrate: MigrateVma, addr: number, pfn: number, srcEntry: number): number {
  const vma = migrate.vma as Vma;
  const mm = vmaMm(vma);
  const { pt, mem } = mm.kernel;
  const s = mem.store;
  const abort = migratePfnClear(srcEntry, MIGRATE_PFN_MIGRATE);
  if (!vma.isAnonymous()) return abort;
  const huge = pt.hugePmdSlot(mm.pgd, addr);
  if (huge >= 0) {
    if (!isHugeZeroPfn(mm.kernel, ptePfn(pt.lo[huge] as number, pt.hi[huge] as number))) return abort;
    splitHugePmd(mm, huge, addr - (addr % PMD_SIZE));
  }
  const slot = pt.pteSlotAlloc(mm.pgd, addr);
  anonVmaPrepare(mm, vma);
  if (!mem.charge(pfn, mm.memcgId)) return abort;
  setPageFlags(s, pfn, PG_uptodate);
  if (s.isZoneDevice(pfn) && !s.isDevicePrivate(pfn) && !s.isDeviceCoherent(pfn))
    throw new KernelWarning('migrate_vma_insert_page: Unsupported ZONE_DEVICE page type.');
  if (!insertTargetFree(mm.kernel, slot)) return abort;
  return insertMapPage(mm, vma, addr, slot, pfn);
}

// -- finalize --------------------------------------------------------------------------------------

/** migrate_vma_finalize(migrate). */
export function migrateVmaFinalize(args: MigrateVma): void {
  const { vma, src, dst } = args;
  if (vma === null || src === null || dst === null)
    throw new KernelBug('migrate_vma_finalize: no vma, src or dst');
  const mm = vmaMm(vma);
  traceMigrate('migrate_vma_finalize', mm, args);
  const slots = localSlots.get(args);
  // Finalize does not sleep: the VMA found at the range's start is the VMA of every page in it.
  const local = slots !== undefined && !mm.dead && mm.vmaAt(args.start) === vma;
  migrateDeviceFinalizeIn(mm.kernel, src, dst, args.npages, faultPfn(args), (i, pfn, newpfn) => {
    const slot = local ? (slots[i] as number) : -1;
    if (slot < 0) removeMigrationEntries(mm.kernel, pfn, newpfn);
    else removeMigrationPte(mm.kernel, mm, vma, args.start + i * PAGE_SIZE, pfn, newpfn, slot);
  });
}

/** migrate_device_finalize(src, dst, npages): migrate_vma_finalize for migrateDeviceRange's entries. */
export function migrateDeviceFinalize(
  kernel: Kernel,
  src: Float64Array,
  dst: Float64Array,
  npages: number,
): void {
  checkArrays(src, dst, npages);
  migrateDeviceFinalizeIn(kernel, src, dst, npages, -1);
}

/**
 * __migrate_device_finalize: each entry's migration entries become the new page if it moved, else
 * the old one again; the source is unlocked (unless it is the fault page, which its fault unlocks)
 * and loses the collect reference; a destination that did not move is unlocked and put.
 */
function migrateDeviceFinalizeIn(
  kernel: Kernel,
  src: Float64Array,
  dst: Float64Array,
  npages: number,
  fault: number,
  remap: (i: number, pfn: number, newpfn: number) => void = (_i, pfn, newpfn) =>
    removeMigrationEntries(kernel, pfn, newpfn),
): void {
  const { mem } = kernel;
  for (let i = 0; i < npages; i++) {
    let newpfn = migratePfnToPage(dst[i] as number);
    const pfn = migratePfnToPage(src[i] as number);
    if (pfn < 0 || !(migratePfnFlags(src[i] as number) & MIGRATE_PFN_MIGRATE)) {
      if (newpfn >= 0) releaseDst(mem, newpfn, fault);
      if (pfn < 0) continue;
      newpfn = pfn;
    } else if (newpfn < 0) {
      newpfn = pfn;
    }
    remap(i, pfn, newpfn);
    kernel.migrateOwners.delete(pfn);
    if (pfn !== fault) mem.unlockPage(pfn);
    mem.putPage(pfn);
    if (newpfn !== pfn) {
      releaseDst(mem, newpfn, fault);
      kernel.counters.inc('migrate_device_moved');
    }
  }
}

function releaseDst(mem: Kernel['mem'], newpfn: number, fault: number): void {
  if (newpfn === fault) throw new KernelWarning('migrate_device_finalize: the fault page is a destination');
  mem.unlockPage(newpfn);
  mem.putPage(newpfn);
}

// -- by pfn ----------------------------------------------------------------------------------------

/**
 * migrate_device_pfn_lock: a reference on a page in use (folio_get_nontail_page: a free page, at
 * refcount 0, or a tail is skipped) and its lock if free; the entry, or 0.
 */
function migrateDevicePfnLock(kernel: Kernel, pfn: number): number {
  const { mem } = kernel;
  const s = mem.store;
  if (s.refcount[pfn] === 0 || s.compoundHead(pfn) !== pfn) return 0;
  mem.getPage(pfn);
  if (!mem.trylockPage(pfn)) {
    mem.putPage(pfn);
    return 0;
  }
  return migratePfnSet(migratePfn(pfn), MIGRATE_PFN_MIGRATE);
}

/**
 * migrate_device_range(src, start, npages): collects the device pages [start, start + npages) that
 * are in use, wherever they are mapped (any mm, any address), locks them and unmaps them into
 * migration entries; src gets one entry per pfn. For eviction (a driver freeing its memory), with
 * migrateDevicePages / migrateDeviceFinalize after the copy. Returns 0. Today's pgmaps only (a seed
 * device page idles at refcount 1 and would be taken for in use).
 */
export function* migrateDeviceRange(
  kernel: Kernel,
  src: Float64Array,
  start: number,
  npages: number,
): Task<number> {
  checkArrays(src, null, npages);
  const s = kernel.mem.store;
  if (npages > 0) {
    s.checkPfn(start, 'start');
    s.checkPfn(start + npages - 1, 'npages');
  }
  for (let i = 0; i < npages; i++) src[i] = migrateDevicePfnLock(kernel, start + i);
  yield* migrateDeviceUnmap(kernel, src, npages, -1);
  return 0;
}

/** migrate_device_pfns(src, npages): migrateDeviceRange over the pfns src already holds. */
export function* migrateDevicePfns(kernel: Kernel, src: Float64Array, npages: number): Task<number> {
  checkArrays(src, null, npages);
  for (let i = 0; i < npages; i++) {
    kernel.mem.store.checkPfn(src[i] as number, `src[${i}]`);
    src[i] = migrateDevicePfnLock(kernel, src[i] as number);
  }
  yield* migrateDeviceUnmap(kernel, src, npages, -1);
  return 0;
}

/**
 * migrate_device_coherent_folio(folio): moves one device-coherent page, which the caller holds a
 * reference on (given up here), to a new system page: unmap everywhere, copy, remap. 0, or -EBUSY
 * if it could not be unmapped (pinned) or no system page was free.
 */
export function* migrateDeviceCoherentFolio(kernel: Kernel, pfn: number): Task<number> {
  const { mem } = kernel;
  if (mem.store.isCompound(pfn)) throw new KernelWarning('migrate_device_coherent_folio: a large folio');
  yield* mem.lockPage(pfn);
  const src = new Float64Array([migratePfnSet(migratePfn(pfn), MIGRATE_PFN_MIGRATE)]);
  yield* migrateDeviceUnmap(kernel, src, 1, -1);
  if (!(migratePfnFlags(src[0] as number) & MIGRATE_PFN_MIGRATE)) return -EBUSY;
  const dst = new Float64Array(1);
  const dpfn = mem.allocPage();
  if (dpfn >= 0) {
    if (!mem.trylockPage(dpfn)) throw new KernelBug(`migrate_device_coherent_folio: new pfn ${dpfn} locked`);
    dst[0] = migratePfn(dpfn);
  }
  yield* migrateDevicePagesIn(kernel, src, dst, 1, null);
  const moved = (migratePfnFlags(src[0] as number) & MIGRATE_PFN_MIGRATE) !== 0;
  if (moved) mem.copyPage(dpfn, pfn);
  migrateDeviceFinalizeIn(kernel, src, dst, 1, -1);
  return moved ? 0 : -EBUSY;
}
