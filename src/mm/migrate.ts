/**
 * migrate_vma: the seed era's helper that moves a range of one VMA between system memory and
 * device memory, with the driver doing the copy (its DMA engine) through two callbacks.
 *
 *   collect   walk the range inside a CLEAR invalidation: one src entry per page (holes and the
 *             zero page are "allocate for me"); reference each page, and lock and unmap it at
 *             once when its lock is free (the PTE becomes a migration entry)
 *   prepare   lock the rest (a page that cannot be locked right away is dropped: best effort) and
 *             drop pinned pages
 *   unmap     try_to_unmap every other mapping (other mms too), drop pages still mapped or pinned
 *   alloc_and_copy      the driver allocates locked destination pages and copies
 *   pages     move struct-page state to the new page (migrate_page, MIGRATE_SYNC_NO_COPY), or
 *             insert the new page where there was a hole (anonymous VMAs only)
 *   finalize_and_map    the driver updates its page table; pages are still locked
 *   finalize  every migration entry becomes the new page (or the old one, if the page did not
 *             move); unlock both; drop the extra references
 *
 * Entries of src/dst are numbers, `pfn * 2**MIGRATE_PFN_SHIFT + flags` (DESIGN decision 7): the
 * pfn of a device page can pass 2^26, so flags are read and changed with arithmetic, never with
 * 32-bit bitwise operators on the whole entry (use migratePfnFlags for the low bits).
 *
 * Pages stay locked from the moment their migration entry is installed until finalize (or the
 * restore that removes it), so a CPU fault on a migration entry waits on the page lock and then
 * sees the result. Returns 0 whether or not anything moved; only bad arguments return -EINVAL.
 *
 * @see mm/migrate.c (migrate_vma and helpers), include/linux/migrate.h (Linux v5.3; the same code in v5.2)
 */

import { PAGE_SIZE, PMD_SIZE, pageAlignDown } from '../core/addr.js';
import { KernelBug, KernelWarning } from '../core/assert.js';
import { EINVAL } from '../core/errno.js';
import type { Task } from '../sched/index.js';
import { anonVmaPrepare } from './fault.js';
import type { AddressSpace } from './file.js';
import { isHugeZeroPfn, splitHugePage, splitHugePmd } from './huge_memory.js';
import type { Kernel } from './kernel.js';
import type { MmStruct } from './mm.js';
import { incMmCounter, MM_ANONPAGES } from './mm.js';
import type { MaybeTask } from './mmu_notifier.js';
import {
  MMU_NOTIFY_CLEAR,
  mmuNotifierInvalidateRangeEnd,
  mmuNotifierInvalidateRangeStart,
  notifierRange,
  runMaybeTask,
} from './mmu_notifier.js';
import type { PageStore } from './page.js';
import {
  clearPageFlags,
  PG_anon,
  PG_dirty,
  PG_swapbacked,
  PG_uptodate,
  pgmapFreeRefcount,
  setPageFlags,
  ZERO_PFN,
} from './page.js';
import { pteSlotIn } from './pagetable.js';
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_RW,
  _PAGE_SPECIAL,
  isDevicePrivateType,
  isMigrationType,
  isWriteSwpType,
  pteHiOf,
  pteLoOf,
  pteNone,
  ptePfn,
  ptePresent,
  pteWrite,
  SWP_DEVICE_READ,
  SWP_DEVICE_WRITE,
  SWP_MIGRATION_READ,
  SWP_MIGRATION_WRITE,
  swpEntryLo,
  swpType,
} from './pte.js';
import {
  AnonVma,
  pageAddNewAnonRmap,
  pageAddRmap,
  pageRemoveRmap,
  rmapMappingOf,
  rmapTargetLive,
  rmapTargets,
  TTU_IGNORE_ACCESS,
  TTU_IGNORE_MLOCK,
  TTU_MIGRATION,
  tryToUnmap,
} from './rmap.js';
import type { Vma } from './vma.js';
import { VM_HUGETLB, VM_SPECIAL, VM_WRITE, vmPageProt } from './vma.js';

/** MIGRATE_PFN_VALID: this src/dst entry holds a pfn. @see include/linux/migrate.h */
export const MIGRATE_PFN_VALID = 1 << 0;
/** MIGRATE_PFN_MIGRATE: the page is isolated and may be migrated; cleared when it cannot be. */
export const MIGRATE_PFN_MIGRATE = 1 << 1;
/** MIGRATE_PFN_LOCKED: the page is locked (v5.3; dropped from later kernels, which always lock). */
export const MIGRATE_PFN_LOCKED = 1 << 2;
/** MIGRATE_PFN_WRITE: the page was mapped writable, so the new page is mapped writable too. */
export const MIGRATE_PFN_WRITE = 1 << 3;
/** MIGRATE_PFN_DEVICE: the pfn is a ZONE_DEVICE page (v5.3). */
export const MIGRATE_PFN_DEVICE = 1 << 4;
/** MIGRATE_PFN_ERROR: the entry failed (v5.3). */
export const MIGRATE_PFN_ERROR = 1 << 5;
/** Bits below this hold the MIGRATE_PFN_* flags; the pfn is stored above it (migrate_pfn()). */
export const MIGRATE_PFN_SHIFT = 6;
const FLAG_SPAN = 2 ** MIGRATE_PFN_SHIFT;

/** migrate_pfn(pfn): `(pfn << MIGRATE_PFN_SHIFT) | MIGRATE_PFN_VALID`. */
export function migratePfn(pfn: number): number {
  return pfn * FLAG_SPAN + MIGRATE_PFN_VALID;
}

/** migrate_pfn_to_page: the entry's pfn, or -1 (NULL) unless MIGRATE_PFN_VALID is set. */
export function migratePfnToPage(e: number): number {
  return (e % FLAG_SPAN) & MIGRATE_PFN_VALID ? Math.floor(e / FLAG_SPAN) : -1;
}

/** The flag bits of an entry (the low MIGRATE_PFN_SHIFT bits), safe for any pfn. */
export function migratePfnFlags(e: number): number {
  return e % FLAG_SPAN;
}

/** `e | flags` for an entry whose pfn may not fit 32 bits. */
export function migratePfnSet(e: number, flags: number): number {
  return e - (e % FLAG_SPAN) + ((e % FLAG_SPAN) | flags);
}

/** `e & ~flags` for an entry whose pfn may not fit 32 bits. */
export function migratePfnClear(e: number, flags: number): number {
  return e - (e % FLAG_SPAN) + ((e % FLAG_SPAN) & ~flags);
}

/**
 * struct migrate_vma_ops. Both callbacks run with mmap_sem held (read at least) and may sleep (return
 * a generator). They must not modify `src`; finalize_and_map must not modify `dst` either.
 *
 * alloc_and_copy: for each src entry with MIGRATE (VALID|MIGRATE for a page, bare MIGRATE for a hole
 * or the zero page) the driver may allocate a *locked* destination page (with its own reference) and
 * store `migratePfn(dpfn) | MIGRATE_PFN_LOCKED` in dst, and copy; leaving dst 0 declines the page.
 * Migrating from device memory (src DEVICE) must not be declined: on failure set dst to
 * MIGRATE_PFN_ERROR, which the core treats as "no destination".
 *
 * finalize_and_map: entries that moved still have MIGRATE in src and a valid dst; every page is
 * still locked, so the driver can update its page table safely.
 */
export interface MigrateVmaOps {
  /**
   * alloc_and_copy(): the driver allocates destination pages for the MIGRATE_PFN_MIGRATE entries of `src`,
   * copies the data and fills `dst`.
   */
  allocAndCopy(
    vma: Vma,
    src: Float64Array,
    dst: Float64Array,
    start: number,
    end: number,
    priv: unknown,
  ): MaybeTask<void>;
  /**
   * finalize_and_map(): after the pages moved, the driver updates its own mappings for the migrated
   * entries.
   */
  finalizeAndMap(
    vma: Vma,
    src: Float64Array,
    dst: Float64Array,
    start: number,
    end: number,
    priv: unknown,
  ): MaybeTask<void>;
}

/** struct migrate_vma: the state shared by the steps. */
interface MigrateVma {
  readonly kernel: Kernel;
  readonly mm: MmStruct;
  readonly vma: Vma;
  readonly src: Float64Array;
  readonly dst: Float64Array;
  readonly start: number;
  end: number;
  npages: number;
  cpages: number;
  /**
   * Per entry, the PTE slot collect read (-1 for a hole without a PTE table), and 1 while the only
   * migration entry of the page is the one collect installed there: the page was mapped only at
   * this address and try_to_unmap had nothing to do, so finalize can restore that one PTE instead
   * of walking the rmap. Host-side bookkeeping; the result is the same.
   */
  readonly slots: Float64Array;
  readonly local: Uint8Array;
}

/** vma->vm_mm. */
export function vmaMm(vma: Vma): MmStruct {
  return vma.mm as MmStruct;
}

/**
 * migrate_vma(ops, vma, start, end, src, dst, private). The caller holds the mmap_sem of the VMA's
 * mm (read at least). src and dst need (end - start) / PAGE_SIZE entries; src is zeroed here.
 * Returns 0 (even if nothing moved), or -EINVAL for a missing argument, a hugetlb/VM_SPECIAL VMA,
 * an empty range or a range not inside the VMA.
 */
export function* migrateVma(
  ops: MigrateVmaOps | null,
  vma: Vma | null,
  start: number,
  end: number,
  src: Float64Array | null,
  dst: Float64Array | null,
  priv: unknown,
): Task<number> {
  start = pageAlignDown(start);
  end = pageAlignDown(end);
  // vma_is_dax: the model has no DAX mappings.
  if (vma === null || vma.flags & (VM_HUGETLB | VM_SPECIAL)) return -EINVAL;
  if (start < vma.start || start >= vma.end) return -EINVAL;
  if (end <= vma.start || end > vma.end) return -EINVAL;
  if (ops === null || src === null || dst === null || start >= end) return -EINVAL;
  const mm = vmaMm(vma);
  mm.mmapSem.assertHeld('any');
  const npages = (end - start) / PAGE_SIZE;
  if (src.length < npages || dst.length < npages) {
    throw new KernelBug(
      `migrate_vma: src/dst hold ${src.length}/${dst.length} entries, the range needs ${npages}`,
    );
  }
  src.fill(0, 0, npages);
  const m: MigrateVma = {
    kernel: mm.kernel,
    mm,
    vma,
    src,
    dst,
    start,
    end,
    npages: 0,
    cpages: 0,
    slots: new Float64Array(npages),
    local: new Uint8Array(npages),
  };
  mm.kernel.counters.inc('migrate_vma');

  yield* migrateVmaCollect(m);
  if (m.cpages === 0) return 0;
  migrateVmaPrepare(m);
  if (m.cpages === 0) return 0;
  yield* migrateVmaUnmap(m);
  if (m.cpages === 0) return 0;

  // Pages are locked and unmapped: their contents are stable for the driver to copy.
  const before = src.slice(0, m.npages);
  yield* runMaybeTask(ops.allocAndCopy(vma, src, dst, start, m.end, priv), true);
  checkUnchanged(before, src, 'alloc_and_copy', 'src');
  yield* migrateVmaPages(m);
  const srcBefore = src.slice(0, m.npages);
  const dstBefore = dst.slice(0, m.npages);
  yield* runMaybeTask(ops.finalizeAndMap(vma, src, dst, start, m.end, priv), true);
  checkUnchanged(srcBefore, src, 'finalize_and_map', 'src');
  checkUnchanged(dstBefore, dst, 'finalize_and_map', 'dst');
  migrateVmaFinalize(m);
  return 0;
}

/** The kernel trusts the driver; the model catches a callback writing an array it must not. */
function checkUnchanged(before: Float64Array, now: Float64Array, cb: string, name: string): void {
  for (let i = 0; i < before.length; i++) {
    if (before[i] !== now[i]) throw new KernelWarning(`migrate_vma: ${cb} modified ${name}[${i}]`);
  }
}

// -- collect ---------------------------------------------------------------------------------------

/**
 * migrate_vma_collect: walks the range inside a CLEAR invalidation and fills one src entry per page
 * (dst entries are zeroed). The walk itself is one atomic step (the page-table lock).
 */
function* migrateVmaCollect(m: MigrateVma): Task {
  const range = notifierRange(m.mm, m.start, m.end, MMU_NOTIFY_CLEAR);
  yield* mmuNotifierInvalidateRangeStart(range);
  const { pt } = m.kernel;
  m.kernel.pt.walk(m.mm.pgd, m.start, m.end, {
    present: (t, a, b) => collectTable(m, t, a, b),
    huge: (slot, a, b) => {
      if (collectSplitHuge(m, slot, a)) return collectTable(m, pt.child(slot), a, b);
      for (let addr = a; addr < b; addr += PAGE_SIZE) {
        m.slots[m.npages] = -1;
        collectEntry(m, 0);
      }
      return 0;
    },
    hole: (a, b) => {
      for (let addr = a; addr < b; addr += PAGE_SIZE) {
        m.cpages++;
        m.slots[m.npages] = -1;
        collectEntry(m, MIGRATE_PFN_MIGRATE);
      }
      return 0;
    },
  });
  yield* mmuNotifierInvalidateRangeEnd(range);
  m.end = m.start + m.npages * PAGE_SIZE;
}

function collectTable(m: MigrateVma, t: number, a: number, b: number): number {
  for (let addr = a; addr < b; addr += PAGE_SIZE) {
    const slot = pteSlotIn(t, addr);
    m.slots[m.npages] = slot;
    collectEntry(m, collectPte(m, slot));
  }
  return 0;
}

/**
 * migrate_vma_collect_pmd on a huge PMD (v5.3): the huge zero page's PMD is split
 * (split_huge_pmd); a THP is split whole (split_huge_page, under the caller's reference and the
 * page lock) and its pages are collected one by one. False if the split failed (a pin, or the
 * lock taken): the span is skipped (migrate_vma_collect_skip).
 */
function collectSplitHuge(m: MigrateVma, slot: number, addr: number): boolean {
  const { pt, mem } = m.kernel;
  const head = ptePfn(pt.lo[slot] as number, pt.hi[slot] as number);
  const haddr = addr - (addr % PMD_SIZE);
  if (isHugeZeroPfn(m.kernel, head)) {
    splitHugePmd(m.mm, slot, haddr);
    return true;
  }
  if (!mem.trylockPage(head)) return false;
  mem.getPage(head);
  const ok = splitHugePage(m.kernel, head, 1);
  mem.unlockPage(head);
  mem.putPage(head);
  return ok;
}

function collectEntry(m: MigrateVma, mpfn: number): void {
  m.dst[m.npages] = 0;
  m.src[m.npages++] = mpfn;
}

/** One PTE of migrate_vma_collect_pmd: returns the src entry. */
function collectPte(m: MigrateVma, slot: number): number {
  const { pt, mem } = m.kernel;
  const s = mem.store;
  const lo = pt.lo[slot] as number;
  const hi = pt.hi[slot] as number;
  if (pteNone(lo, hi)) {
    m.cpages++;
    return MIGRATE_PFN_MIGRATE;
  }
  const pfn = ptePfn(lo, hi);
  let mpfn: number;
  if (!ptePresent(lo)) {
    // Only device-private entries (of any device: no owner in the seed) migrate; swap, migration and
    // hwpoison entries are skipped.
    const type = swpType(lo);
    if (!isDevicePrivateType(type)) return 0;
    mpfn = migratePfnSet(migratePfn(pfn), MIGRATE_PFN_DEVICE | MIGRATE_PFN_MIGRATE);
    if (isWriteSwpType(type)) mpfn = migratePfnSet(mpfn, MIGRATE_PFN_WRITE);
  } else {
    if (pfn === ZERO_PFN) {
      m.cpages++;
      return MIGRATE_PFN_MIGRATE;
    }
    if (lo & _PAGE_SPECIAL) return 0; // vm_normal_page() is NULL
    // A PTE-mapped THP: v5.3's migrate_vma_check_page refuses PageCompound, so it is not migrated.
    if (s.isCompound(pfn)) return 0;
    mpfn = migratePfnSet(migratePfn(pfn), MIGRATE_PFN_MIGRATE | (pteWrite(lo) ? MIGRATE_PFN_WRITE : 0));
  }
  if (s.mapping[pfn] === 0) return 0;
  // The reference pins the page (and "freezes" the PTE) until it is locked and unmapped.
  mem.getPage(pfn);
  m.cpages++;
  if (mem.trylockPage(pfn)) {
    // The common case (mapped once, lock free): unmap now, as try_to_unmap would. The dirty bit is
    // not moved to the page here (v5.3 behaviour; fixed in v6.0).
    mpfn = migratePfnSet(mpfn, MIGRATE_PFN_LOCKED);
    const write = migratePfnFlags(mpfn) & MIGRATE_PFN_WRITE;
    pt.set(slot, swpEntryLo(write ? SWP_MIGRATION_WRITE : SWP_MIGRATION_READ, pfn), pteHiOf(pfn));
    pageRemoveRmap(m.mm, pfn);
    mem.putPage(pfn);
    m.local[m.npages] = 1;
  }
  return mpfn;
}

// -- prepare ---------------------------------------------------------------------------------------

/** page_mapping(): the address_space of a file or shmem page, undefined for anonymous pages. */
export function pageFileMapping(kernel: Kernel, pfn: number): AddressSpace | undefined {
  if (kernel.mem.store.isAnon(pfn)) return undefined;
  const mapping = rmapMappingOf(kernel, pfn);
  return mapping === undefined || mapping instanceof AnonVma ? undefined : mapping;
}

/**
 * migrate_vma_check_page: false if the page is pinned (references beyond its mappings, the
 * migration's own reference and the page cache's). Device-private pages always pass. The model has
 * no LRU: the reference collect took stands for the isolation reference the kernel swaps it for.
 */
function migrateVmaCheckPage(kernel: Kernel, pfn: number): boolean {
  const s = kernel.mem.store;
  if (s.isZoneDevice(pfn)) return s.isDevicePrivate(pfn);
  let extra = 1;
  if (pageFileMapping(kernel, pfn) !== undefined) extra += 1;
  return (s.refcount[pfn] as number) - extra <= (s.mapcount[pfn] as number);
}

/**
 * migrate_vma_prepare: locks the pages collect could not lock (a page whose trylock fails is
 * dropped: waiting could deadlock two migrations) and drops pinned pages, restoring the PTEs of
 * those collect had already unmapped.
 */
function migrateVmaPrepare(m: MigrateVma): void {
  const mem = m.kernel.mem;
  const { src } = m;
  let restore = 0;
  for (let i = 0; i < m.npages && m.cpages > 0; i++) {
    const pfn = migratePfnToPage(src[i] as number);
    if (pfn < 0) continue;
    let remap = true;
    if (!(migratePfnFlags(src[i] as number) & MIGRATE_PFN_LOCKED)) {
      if (!mem.trylockPage(pfn)) {
        src[i] = 0;
        m.cpages--;
        mem.putPage(pfn);
        continue;
      }
      remap = false;
      src[i] = migratePfnSet(src[i] as number, MIGRATE_PFN_LOCKED);
    }
    if (migrateVmaCheckPage(m.kernel, pfn)) continue;
    m.cpages--;
    if (remap) {
      src[i] = migratePfnClear(src[i] as number, MIGRATE_PFN_MIGRATE);
      restore++;
    } else {
      src[i] = 0;
      mem.unlockPage(pfn);
      mem.putPage(pfn);
    }
  }
  for (let i = 0, addr = m.start; i < m.npages && restore > 0; i++, addr += PAGE_SIZE) {
    const pfn = migratePfnToPage(src[i] as number);
    if (pfn < 0 || migratePfnFlags(src[i] as number) & MIGRATE_PFN_MIGRATE) continue;
    removeMigrationPte(m.kernel, m.mm, m.vma, addr, pfn, pfn);
    src[i] = 0;
    mem.unlockPage(pfn);
    mem.putPage(pfn);
    restore--;
  }
}

// -- unmap -----------------------------------------------------------------------------------------

/**
 * migrate_vma_unmap: try_to_unmap every page still mapped (elsewhere in this mm, or in other mms
 * after fork), then check for pins again. Pages still mapped or pinned are restored everywhere.
 */
function* migrateVmaUnmap(m: MigrateVma): Task {
  const { kernel, src } = m;
  const { mem } = kernel;
  const s = mem.store;
  const flags = TTU_MIGRATION | TTU_IGNORE_MLOCK | TTU_IGNORE_ACCESS;
  let restore = 0;
  for (let i = 0; i < m.npages; i++) {
    const pfn = migratePfnToPage(src[i] as number);
    if (pfn < 0 || !(migratePfnFlags(src[i] as number) & MIGRATE_PFN_MIGRATE)) continue;
    if (s.mapcount[pfn] !== 0) {
      m.local[i] = 0;
      const unmapped = yield* tryToUnmap(kernel, pfn, flags);
      if (unmapped && migrateVmaCheckPage(kernel, pfn)) continue;
    } else if (migrateVmaCheckPage(kernel, pfn)) {
      continue;
    }
    src[i] = migratePfnClear(src[i] as number, MIGRATE_PFN_MIGRATE);
    m.cpages--;
    restore++;
  }
  for (let i = 0; i < m.npages && restore > 0; i++) {
    const pfn = migratePfnToPage(src[i] as number);
    if (pfn < 0 || migratePfnFlags(src[i] as number) & MIGRATE_PFN_MIGRATE) continue;
    removeMigrationPtes(kernel, pfn, pfn);
    src[i] = 0;
    mem.unlockPage(pfn);
    restore--;
    mem.putPage(pfn); // put_page (device) or putback_lru_page (the isolation reference)
  }
}

// -- pages -----------------------------------------------------------------------------------------

/**
 * migrate_vma_pages: for each entry, no destination → not migrated; a hole with a destination →
 * migrate_vma_insert_page (inside one CLEAR invalidation from the first such hole to the end);
 * a page with a destination → migrate_page, except that only anonymous pages may go to
 * device-private memory.
 */
function* migrateVmaPages(m: MigrateVma): Task {
  const { kernel, src, dst } = m;
  const s = kernel.mem.store;
  let range: ReturnType<typeof notifierRange> | null = null;
  for (let i = 0, addr = m.start; i < m.npages; i++, addr += PAGE_SIZE) {
    const newpfn = migratePfnToPage(dst[i] as number);
    const pfn = migratePfnToPage(src[i] as number);
    if (newpfn < 0) {
      src[i] = migratePfnClear(src[i] as number, MIGRATE_PFN_MIGRATE);
      continue;
    }
    if (pfn < 0) {
      if (!(migratePfnFlags(src[i] as number) & MIGRATE_PFN_MIGRATE)) continue;
      if (range === null) {
        range = notifierRange(m.mm, addr, m.end, MMU_NOTIFY_CLEAR);
        yield* mmuNotifierInvalidateRangeStart(range);
      }
      src[i] = migrateVmaInsertPage(m, addr, newpfn, src[i] as number);
      continue;
    }
    const mapping = pageFileMapping(kernel, pfn);
    if (s.isZoneDevice(newpfn)) {
      // Only private anonymous memory may move to un-addressable device memory; other ZONE_DEVICE
      // types are not supported as destinations.
      if (!s.isDevicePrivate(newpfn) || mapping !== undefined) {
        src[i] = migratePfnClear(src[i] as number, MIGRATE_PFN_MIGRATE);
        continue;
      }
    }
    if (!migratePage(kernel, mapping, newpfn, pfn)) {
      src[i] = migratePfnClear(src[i] as number, MIGRATE_PFN_MIGRATE);
    }
  }
  // invalidate_range_only_end
  if (range !== null) yield* mmuNotifierInvalidateRangeEnd(range);
}

/**
 * migrate_vma_insert_page: maps the new page where there was a hole or the zero page. Anonymous VMAs
 * only; charges the page to the mm's memcg (failure: not migrated); a device-private page gets a
 * device-private entry (writable iff VM_WRITE), a RAM page a present PTE. Fails if a CPU fault
 * populated the PTE meanwhile. Returns the new src entry (bare MIGRATE on success).
 */
function migrateVmaInsertPage(m: MigrateVma, addr: number, pfn: number, srcEntry: number): number {
  const { vma, mm } = m;
  const { pt, mem } = m.kernel;
  const s = mem.store;
  const abort = migratePfnClear(srcEntry, MIGRATE_PFN_MIGRATE);
  // userfaultfd and DAX PMDs are not modelled; a huge PMD there aborts (pmd_trans_huge).
  if (!vma.isAnonymous() || pt.hugePmdSlot(mm.pgd, addr) >= 0) return abort;
  const slot = pt.pteSlotAlloc(mm.pgd, addr);
  anonVmaPrepare(mm, vma);
  if (!mem.charge(pfn, mm.memcgId)) return abort;
  setPageFlags(s, pfn, PG_uptodate);
  if (s.isZoneDevice(pfn) && !s.isDevicePrivate(pfn)) {
    mem.uncharge(pfn);
    return abort; // entry left uninitialised in v5.3: only device-private is supported
  }
  if (!insertTargetFree(m.kernel, slot)) {
    mem.uncharge(pfn); // mem_cgroup_cancel_charge
    return abort;
  }
  return insertMapPage(mm, vma, addr, slot, pfn);
}

/**
 * The entry migrate_vma_insert_page installs for `pfn` in `vma`: a device-private entry (writable
 * iff VM_WRITE) for a device-private page, else a present PTE with the VMA's protection, writable
 * and dirty iff VM_WRITE.
 */
function insertedEntryLo(vma: Vma, s: PageStore, pfn: number): number {
  const write = (vma.flags & VM_WRITE) !== 0;
  if (s.isDevicePrivate(pfn)) return swpEntryLo(write ? SWP_DEVICE_WRITE : SWP_DEVICE_READ, pfn);
  return pteLoOf(pfn, vmPageProt(vma.flags) | (write ? _PAGE_RW | _PAGE_DIRTY : 0));
}

/** pte_none, or the zero page: where migrate_vma_insert_page may still map (no CPU fault won). */
export function insertTargetFree(kernel: Kernel, slot: number): boolean {
  const lo = kernel.pt.lo[slot] as number;
  const hi = kernel.pt.hi[slot] as number;
  if (lo === 0 && hi === 0) return true;
  return ptePresent(lo) && ptePfn(lo, hi) === ZERO_PFN && (lo & _PAGE_SPECIAL) !== 0;
}

/**
 * The tail of migrate_vma_insert_page (both generations): rss, the new anonymous rmap, the
 * mapping's reference and the entry. Returns the new src entry, bare MIGRATE.
 */
export function insertMapPage(mm: MmStruct, vma: Vma, addr: number, slot: number, pfn: number): number {
  const { pt, mem } = mm.kernel;
  const lo = insertedEntryLo(vma, mem.store, pfn);
  incMmCounter(mm, MM_ANONPAGES);
  pageAddNewAnonRmap(mm, pfn, vma, addr);
  mem.getPage(pfn);
  pt.set(slot, lo, pteHiOf(pfn));
  mm.kernel.counters.inc('migrate_vma_inserted');
  return MIGRATE_PFN_MIGRATE;
}

/**
 * migrate_page(mapping, newpage, page, MIGRATE_SYNC_NO_COPY): migrate_page_move_mapping then
 * migrate_page_states. The contents are not copied (the driver did it in alloc_and_copy). Fails
 * (-EAGAIN → false) if the page has references beyond the expected ones: the migration's own, the
 * idle reference of a seed device-private page (none for today's), the page cache's for a file
 * page, and `extraCount` (today's folio_migrate_mapping extra_count: the fault page's reference).
 */
export function migratePage(
  kernel: Kernel,
  mapping: AddressSpace | undefined,
  newpfn: number,
  pfn: number,
  extraCount = 0,
): boolean {
  const { mem } = kernel;
  const s = mem.store;
  const idle = s.isDevicePrivate(pfn) ? pgmapFreeRefcount(s.pgmapOf(pfn)) : 0;
  const expected = 1 + idle + (mapping !== undefined ? 1 : 0) + extraCount;
  if (s.refcount[pfn] !== expected) return false;
  const index = s.index[pfn] as number;
  if (mapping !== undefined && mapping.findPage(index) !== pfn) return false;
  // migrate_page_move_mapping: no turning back from here.
  s.index[newpfn] = index;
  s.mapping[newpfn] = s.mapping[pfn] as number;
  const flags = s.flags[pfn] as number;
  setPageFlags(s, newpfn, flags & (PG_anon | PG_swapbacked));
  if (mapping !== undefined) {
    mem.getPage(newpfn); // the page cache's reference
    if (flags & PG_dirty) {
      clearPageFlags(s, pfn, PG_dirty);
      setPageFlags(s, newpfn, PG_dirty);
    }
    mapping.pages.set(index, newpfn);
    mem.putPage(pfn); // page_ref_unfreeze(page, expected - 1)
  }
  migratePageStates(kernel, newpfn, pfn);
  return true;
}

/** migrate_page_states: page flags the model keeps, then mem_cgroup_migrate (the charge moves). */
function migratePageStates(kernel: Kernel, newpfn: number, pfn: number): void {
  const s = kernel.mem.store;
  const f = s.flags[pfn] as number;
  setPageFlags(s, newpfn, f & (PG_uptodate | PG_dirty));
  kernel.mem.migrateCharge(pfn, newpfn);
}

// -- finalize --------------------------------------------------------------------------------------

/**
 * migrate_vma_finalize: every migration entry of each page (in this mm and any other) becomes the
 * new page if it moved, else the old page again; both are unlocked and the extra references go:
 * the old page is freed with its last reference, a device page drops back to 1 and goes to its
 * driver's free callback.
 */
function migrateVmaFinalize(m: MigrateVma): void {
  const { kernel, src, dst } = m;
  const { mem } = kernel;
  // Finalize does not sleep: the VMA found at the range's start is the VMA of every page in it.
  const live = !m.mm.dead && m.mm.vmaAt(m.start) === m.vma;
  for (let i = 0, addr = m.start; i < m.npages; i++, addr += PAGE_SIZE) {
    let newpfn = migratePfnToPage(dst[i] as number);
    const pfn = migratePfnToPage(src[i] as number);
    if (pfn < 0) {
      if (newpfn >= 0) {
        mem.unlockPage(newpfn);
        mem.putPage(newpfn);
      }
      continue;
    }
    if (!(migratePfnFlags(src[i] as number) & MIGRATE_PFN_MIGRATE) || newpfn < 0) {
      if (newpfn >= 0) {
        mem.unlockPage(newpfn);
        mem.putPage(newpfn);
      }
      newpfn = pfn;
    }
    if (m.local[i] === 1 && live) {
      removeMigrationPte(kernel, m.mm, m.vma, addr, pfn, newpfn, m.slots[i] as number);
    } else {
      removeMigrationPtes(kernel, pfn, newpfn);
    }
    mem.unlockPage(pfn);
    m.cpages--;
    mem.putPage(pfn); // put_page (device) or putback_lru_page (the isolation reference)
    if (newpfn !== pfn) {
      mem.unlockPage(newpfn);
      mem.putPage(newpfn); // the destination's allocation reference
      kernel.counters.inc('migrate_vma_moved');
    }
  }
}

// -- migration entries -----------------------------------------------------------------------------

/**
 * remove_migration_ptes(old, new): through the rmap of `newpfn` (the same VMAs as the old page's,
 * since mapping and index were copied), every migration entry for `oldpfn` becomes a mapping of
 * `newpfn`.
 */
export function removeMigrationPtes(kernel: Kernel, oldpfn: number, newpfn: number): void {
  for (const t of rmapTargets(kernel, newpfn)) {
    if (rmapTargetLive(t)) removeMigrationPte(kernel, t.mm, t.vma, t.address, oldpfn, newpfn);
  }
}

/**
 * remove_migration_pte for one address: if the PTE is a migration entry for `oldpfn`, map `newpfn`
 * there: a device-private entry for a device-private page, else a present, old (not accessed) PTE
 * with the VMA's protection, writable if the migration entry was a write entry and the VMA is still
 * VM_WRITE (maybe_mkwrite). Takes a page reference and an rmap for the mapping; rss is unchanged.
 * `knownSlot`: addr's PTE slot, if the caller has it (the PTE table cannot go away under mmap_sem).
 */
export function removeMigrationPte(
  kernel: Kernel,
  mm: MmStruct,
  vma: Vma,
  addr: number,
  oldpfn: number,
  newpfn: number,
  knownSlot = -1,
): boolean {
  const { pt, mem } = kernel;
  const s = mem.store;
  const slot = knownSlot >= 0 ? knownSlot : pt.pteSlot(mm.pgd, addr);
  if (slot < 0) return false;
  const lo = pt.lo[slot] as number;
  const hi = pt.hi[slot] as number;
  if (pteNone(lo, hi) || ptePresent(lo)) return false;
  const type = swpType(lo);
  if (!isMigrationType(type) || ptePfn(lo, hi) !== oldpfn) return false;
  mem.getPage(newpfn);
  const write = type === SWP_MIGRATION_WRITE && (vma.flags & VM_WRITE) !== 0;
  if (s.isDevicePrivate(newpfn)) {
    pt.set(slot, swpEntryLo(write ? SWP_DEVICE_WRITE : SWP_DEVICE_READ, newpfn), pteHiOf(newpfn));
  } else {
    const prot = (vmPageProt(vma.flags) & ~_PAGE_ACCESSED) | (write ? _PAGE_RW : 0);
    pt.set(slot, pteLoOf(newpfn, prot), pteHiOf(newpfn));
  }
  pageAddRmap(mm, newpfn);
  return true;
}
