/**
 * The page-fault handler: handle_mm_fault and the paths under it.
 *
 *   pte none, anonymous VMA   read → map the shared zero page (special PTE); write → new zeroed page
 *   pte none, file/shmem VMA  read → map the page-cache page; private write → copy it (COW);
 *                             shared write → map it writable
 *   present, write, read-only anonymous page mapped once → reuse it; otherwise copy (COW),
 *                             inside an mmu-notifier invalidation of the page
 *   migration entry           wait until the page is unlocked (the migration is over), then retry
 *   device-private entry      call the page's dev_pagemap fault callback (migrate it back)
 *   device-exclusive entry    lock the page (waiting for the driver that holds it), tell the
 *                             secondary MMUs (CLEAR), restore the PTE (remove_device_exclusive_entry)
 *
 * Permission checks (VMA flags against the access) belong to the caller, as in the kernel: the
 * arch fault handler (uaccess.ts) and GUP (gup.ts) reject an access the VMA does not allow.
 *
 * @see mm/memory.c (Linux v5.3; remove_device_exclusive_entry and restore_exclusive_pte as of v6.19)
 */

import { hex, PAGE_SIZE, PMD_SIZE, pageAlignDown } from '../core/addr.js';
import { KernelBug } from '../core/assert.js';
import { EBUSY } from '../core/errno.js';
import type { Task } from '../sched/index.js';
import {
  doHugePmdAnonymousPage,
  doHugePmdWpPage,
  type PmdFault,
  thpVmaAllowable,
  VM_FAULT_FALLBACK,
} from './huge_memory.js';
import { hugetlbFault } from './hugetlb.js';
import type { MmStruct } from './mm.js';
import { decMmCounter, incMmCounter, MM_ANONPAGES } from './mm.js';
import {
  MMU_NOTIFY_CLEAR,
  mmuNotifierInvalidateRangeEnd,
  mmuNotifierInvalidateRangeStart,
  notifierRange,
  runMaybeTask,
} from './mmu_notifier.js';
import type { DevFault, DevPagemapOps } from './page.js';
import { PG_anon, PG_anon_exclusive, PG_dirty, pageAnonExclusive, setPageFlags, ZERO_PFN } from './page.js';
import { LEVEL_PTE, pteSlotIn } from './pagetable.js';
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_PROTNONE,
  _PAGE_RW,
  _PAGE_SPECIAL,
  isDeviceExclusiveType,
  isDevicePrivateType,
  isMigrationType,
  isPmdMigrationEntry,
  isSwapPmd,
  pmdHuge,
  pteHiOf,
  pteLoOf,
  pteNone,
  ptePfn,
  SWP_HWPOISON,
  swpType,
} from './pte.js';
import { pageAddNewAnonRmap, pageAddRmap, pageRemoveRmap } from './rmap.js';
import type { Vma } from './vma.js';
import { VM_HUGETLB, VM_SHARED, VM_WRITE, vmPageProt } from './vma.js';

/** FAULT_FLAG_WRITE: the access that faulted was a write. @see include/linux/mm_types.h (enum fault_flag) */
export const FAULT_FLAG_WRITE = 0x01;
/** FAULT_FLAG_MKWRITE: the fault only makes an existing read-only PTE writable (page_mkwrite path). */
export const FAULT_FLAG_MKWRITE = 0x02;
/** FAULT_FLAG_ALLOW_RETRY: the handler may drop mmap_sem and return VM_FAULT_RETRY. */
export const FAULT_FLAG_ALLOW_RETRY = 0x04;
/** FAULT_FLAG_RETRY_NOWAIT: with ALLOW_RETRY, return VM_FAULT_RETRY without waiting (mmap_sem kept). */
export const FAULT_FLAG_RETRY_NOWAIT = 0x08;
/** FAULT_FLAG_KILLABLE: the fault may be interrupted by a fatal signal. */
export const FAULT_FLAG_KILLABLE = 0x10;
/** FAULT_FLAG_TRIED: this is the second attempt after a VM_FAULT_RETRY; it may not retry again. */
export const FAULT_FLAG_TRIED = 0x20;
/** FAULT_FLAG_USER: the fault came from user space (not a kernel access such as GUP). */
export const FAULT_FLAG_USER = 0x40;
/** FAULT_FLAG_REMOTE: faulting in an mm that is not current's (get_user_pages_remote, HMM). */
export const FAULT_FLAG_REMOTE = 0x80;
/** A FOLL_PIN read needs the anonymous page exclusive, without making it writable (v5.19). */
export const FAULT_FLAG_UNSHARE = 0x400;

/**
 * VM_FAULT_OOM: no memory for the fault; reclaim or the OOM killer follows. @see include/linux/mm_types.h
 * (enum vm_fault_reason)
 */
export const VM_FAULT_OOM = 0x0001;
/** VM_FAULT_SIGBUS: the access is delivered SIGBUS (e.g. beyond the end of a file, hugetlb pool empty). */
export const VM_FAULT_SIGBUS = 0x0002;
/** VM_FAULT_MAJOR: the fault needed I/O (swap-in or a page-cache read), counted as pgmajfault. */
export const VM_FAULT_MAJOR = 0x0004;
/** VM_FAULT_WRITE: a copy-on-write break happened (v5.3; removed in later kernels). */
export const VM_FAULT_WRITE = 0x0008;
/** VM_FAULT_HWPOISON: the page is hardware-poisoned; the access gets SIGBUS (BUS_MCEERR_AR). */
export const VM_FAULT_HWPOISON = 0x0010;
/** VM_FAULT_SIGSEGV: the access is delivered SIGSEGV. */
export const VM_FAULT_SIGSEGV = 0x0040;
/** VM_FAULT_NOPAGE: the ->fault handler installed the PTE itself; nothing to map. */
export const VM_FAULT_NOPAGE = 0x0100;
/** VM_FAULT_LOCKED: the ->fault handler returns the page locked. */
export const VM_FAULT_LOCKED = 0x0200;
/** VM_FAULT_RETRY: mmap_sem was dropped; the caller must retry the fault (with FAULT_FLAG_TRIED). */
export const VM_FAULT_RETRY = 0x0400;
/** The VM_FAULT_* bits that make a fault fail (OOM, SIGBUS, SIGSEGV, HWPOISON). */
export const VM_FAULT_ERROR = VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV | VM_FAULT_HWPOISON;

/**
 * handle_mm_fault: the caller holds mmap_sem (read) and has checked the access against the VMA.
 * A fault that runs out of memory reclaims lazyfree pages and tries once more: the model's place
 * for the direct reclaim __alloc_pages_slowpath runs before an allocation fails (vmscan.ts).
 */
export function* handleMmFault(mm: MmStruct, vma: Vma, address: number, flags: number): Task<number> {
  const ret = yield* handleMmFaultOnce(mm, vma, address, flags);
  if (!(ret & VM_FAULT_OOM) || !(yield* reclaimHooks.directReclaim(mm))) return ret;
  return yield* handleMmFaultOnce(mm, vma, address, flags);
}

/** Set by vmscan.ts (kept out of this file's imports to avoid a cycle through rmap.ts). */
export const reclaimHooks: {
  /** Direct reclaim for a fault that hit VM_FAULT_OOM: true if it freed something, so retry. */
  directReclaim: (mm: MmStruct) => Task<boolean>;
} = {
  // biome-ignore lint/correctness/useYield: the default reclaims nothing
  *directReclaim() {
    return false;
  },
};

function* handleMmFaultOnce(mm: MmStruct, vma: Vma, address: number, flags: number): Task<number> {
  const addr = pageAlignDown(address);
  if (!vma.contains(addr)) throw new KernelBug(`handle_mm_fault: 0x${addr.toString(16)} outside ${vma}`);
  const { pt } = mm.kernel;
  const pmdSlot = pt.pmdSlotAlloc(mm.pgd, addr);
  mm.kernel.counters.inc('pgfault');
  if (vma.flags & VM_HUGETLB) {
    anonVmaPrepare(mm, vma);
    return hugetlbFault(pmdFault(mm, vma, addr, pmdSlot, flags), HUGETLB_CODES);
  }
  if (pt.child(pmdSlot) === 0) {
    const r = yield* hugePmdFault(mm, vma, addr, pmdSlot, flags);
    if (r !== VM_FAULT_FALLBACK) return r;
  }
  const slot = pteSlotIn(pt.child(pmdSlot) || pt.populateTable(pmdSlot, LEVEL_PTE), addr);
  const lo = pt.lo[slot] as number;
  const hi = pt.hi[slot] as number;
  if (pteNone(lo, hi)) {
    if (vma.file !== null) return doFault(mm, vma, addr, slot, flags);
    if (!vma.isAnonymous()) return VM_FAULT_SIGBUS;
    return doAnonymousPage(mm, vma, addr, slot, flags);
  }
  if (!(lo & (_PAGE_PRESENT | _PAGE_PROTNONE))) return yield* doSwapPage(mm, vma, addr, lo, hi, flags);
  if (lo & _PAGE_PROTNONE) return doNumaPage(mm, vma, slot);
  if (flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE) && !(lo & _PAGE_RW))
    return yield* doWpPage(mm, vma, addr, slot, flags);
  pt.lo[slot] = (lo | _PAGE_ACCESSED | (flags & FAULT_FLAG_WRITE ? _PAGE_DIRTY : 0)) >>> 0;
  return 0;
}

/**
 * The PMD level of __handle_mm_fault: a none PMD in a THP-eligible anonymous VMA takes
 * do_huge_pmd_anonymous_page; a huge PMD takes the write-protect fault, the PROT_NONE restore or
 * just the accessed/dirty update. VM_FAULT_FALLBACK sends the fault on to the PTE level.
 */
function* hugePmdFault(mm: MmStruct, vma: Vma, addr: number, pmdSlot: number, flags: number): Task<number> {
  const { pt } = mm.kernel;
  const lo = pt.lo[pmdSlot] as number;
  const haddr = addr - (addr % PMD_SIZE);
  if (pteNone(lo, pt.hi[pmdSlot] as number)) {
    if (!thpVmaAllowable(mm.kernel, vma, haddr)) return VM_FAULT_FALLBACK;
    anonVmaPrepare(mm, vma);
    return doHugePmdAnonymousPage(pmdFault(mm, vma, addr, pmdSlot, flags));
  }
  const hi = pt.hi[pmdSlot] as number;
  if (isSwapPmd(lo, hi))
    return yield* swapPmdFault(mm, vma, addr, ptePfn(lo, hi), isPmdMigrationEntry(lo, hi), flags);
  if (!pmdHuge(lo)) return VM_FAULT_FALLBACK;
  if (lo & _PAGE_PROTNONE) return doNumaPage(mm, vma, pmdSlot);
  if (flags & FAULT_FLAG_WRITE && !(lo & _PAGE_RW)) return yield* doHugePmdWpPage(mm, vma, haddr, pmdSlot);
  pt.lo[pmdSlot] = (lo | _PAGE_ACCESSED | (flags & FAULT_FLAG_WRITE ? _PAGE_DIRTY : 0)) >>> 0;
  return 0;
}

/**
 * __handle_mm_fault on a non-present PMD: a migration entry waits for the folio
 * (pmd_migration_entry_wait) and the access retries; a device-private one calls its pgmap's
 * migrate_to_ram with the head locked and referenced across the call (do_huge_pmd_device_private;
 * a head locked by someone else: the access retries);
 * a head whose refcount already fell to 0 is being freed, and the access retries.
 * @see mm/memory.c __handle_mm_fault, mm/huge_memory.c do_huge_pmd_device_private (Linux v6.19)
 */
function* swapPmdFault(
  mm: MmStruct,
  vma: Vma,
  addr: number,
  head: number,
  migration: boolean,
  flags: number,
): Task<number> {
  const { mem } = mm.kernel;
  if (migration) {
    mm.kernel.counters.inc('migration_entry_wait');
    yield* mem.waitOnPageLocked(head);
    return 0;
  }
  const ops = mem.store.pgmapOf(head)?.ops;
  if (ops?.migrateToRam === undefined)
    throw new KernelBug(`do_huge_pmd_device_private: pfn ${head} has no migrate_to_ram`);
  mm.kernel.counters.inc('device_private_fault');
  if ((mem.store.refcount[head] as number) <= 0) return 0; // get_page_unless_zero failed: being freed
  if (!mem.trylockPage(head)) return 0; // someone else is migrating it: retry the access
  mem.getPage(head);
  const vmf = { mm, vma, address: addr, pfn: head, flags, pmd: true };
  const ret = yield* runMaybeTask(ops.migrateToRam(vmf), true);
  mem.unlockPage(head);
  mem.putPage(head);
  return ret;
}

const HUGETLB_CODES = { sigbus: VM_FAULT_SIGBUS };

function pmdFault(mm: MmStruct, vma: Vma, addr: number, pmdSlot: number, flags: number): PmdFault {
  const haddr = addr - (addr % PMD_SIZE);
  return { mm, vma, haddr, pmdSlot, write: (flags & FAULT_FLAG_WRITE) !== 0, prot: vmPageProt(vma.flags) };
}

/** anon_vma_prepare: the VMA gets the anon_vma its new anonymous pages will belong to. */
export function anonVmaPrepare(mm: MmStruct, vma: Vma): void {
  if (vma.anonVma !== null) return;
  const av = mm.kernel.newAnonVma();
  vma.anonVma = av;
  vma.anonChain.push(av);
  av.vmas.add(vma);
}

/**
 * Allocates and charges a page for `mm`, or returns -1 (VM_FAULT_OOM). The page comes zeroed.
 */
export function allocChargedPage(mm: MmStruct): number {
  const mem = mm.kernel.mem;
  const pfn = mem.allocPage();
  if (pfn < 0) return -1;
  if (!mem.charge(pfn, mm.memcgId)) {
    mem.putPage(pfn);
    return -1;
  }
  return pfn;
}

/** do_anonymous_page. */
export function doAnonymousPage(mm: MmStruct, vma: Vma, addr: number, slot: number, flags: number): number {
  const { pt } = mm.kernel;
  const prot = vmPageProt(vma.flags);
  if (!(flags & FAULT_FLAG_WRITE)) {
    pt.set(slot, pteLoOf(ZERO_PFN, prot | _PAGE_SPECIAL), pteHiOf(ZERO_PFN));
    return 0;
  }
  anonVmaPrepare(mm, vma);
  const pfn = allocChargedPage(mm);
  if (pfn < 0) return VM_FAULT_OOM;
  pageAddNewAnonRmap(mm, pfn, vma, addr);
  incMmCounter(mm, MM_ANONPAGES);
  const rw = vma.flags & VM_WRITE ? _PAGE_RW | _PAGE_DIRTY : 0;
  pt.set(slot, pteLoOf(pfn, prot | rw), pteHiOf(pfn));
  return 0;
}

/**
 * handle_mm_fault on each page of [start, end) in turn, for as long as it would end in
 * do_anonymous_page: an anonymous VMA (no file, not hugetlb), a PTE table present or a none PMD
 * that takes no THP there, and a none PTE. Each page is what handle_mm_fault makes of it (pgfault
 * counted, the table populated, the page allocated, charged, rmapped and counted in rss), without a
 * generator per page. Stops at the PMD boundary, before the first page that needs more, and before
 * a write whose allocation or charge could fail (the OOM and direct reclaim belong to
 * handle_mm_fault). Returns how many pages it faulted; the caller runs the rest through
 * handleMmFault.
 * @see mm/memory.c handle_mm_fault, __handle_mm_fault, do_anonymous_page (Linux v6.19)
 */
export function doAnonymousPages(mm: MmStruct, vma: Vma, start: number, end: number, flags: number): number {
  if (vma.file !== null || !vma.isAnonymous() || vma.flags & VM_HUGETLB) return 0;
  const { pt } = mm.kernel;
  const pmdEnd = start - (start % PMD_SIZE) + PMD_SIZE;
  const n = (Math.min(end, pmdEnd) - start) / PAGE_SIZE;
  const room = flags & FAULT_FLAG_WRITE ? Math.min(n, allocRoom(mm)) : n;
  if (room <= 0) return 0;
  const pmd = pt.pmdSlotAlloc(mm.pgd, start);
  let table = pt.child(pmd);
  if (table === 0) {
    // a huge, migrating or device-private PMD, or one that may take a THP: the PMD level decides
    if (!pteNone(pt.lo[pmd] as number, pt.hi[pmd] as number)) return 0;
    if (thpVmaAllowable(mm.kernel, vma, start - (start % PMD_SIZE))) return 0;
    table = pt.populateTable(pmd, LEVEL_PTE);
  }
  const first = pteSlotIn(table, start);
  let i = 0;
  for (; i < room; i++) {
    const slot = first + i;
    if (!pteNone(pt.lo[slot] as number, pt.hi[slot] as number)) break;
    // allocRoom made sure this cannot fail; a failure here would be lost, so it is a bug
    if (doAnonymousPage(mm, vma, start + i * PAGE_SIZE, slot, flags) !== 0)
      throw new KernelBug(`doAnonymousPages: do_anonymous_page failed at ${hex(start + i * PAGE_SIZE)}`);
  }
  if (i > 0) mm.kernel.counters.inc('pgfault', i);
  return i;
}

/** Pages `mm` can allocate and charge now without failing: free RAM, and its memcg's headroom. */
function allocRoom(mm: MmStruct): number {
  const mem = mm.kernel.mem;
  const cg = mem.memcgs.get(mm.memcgId);
  const headroom = cg === undefined ? 0 : cg.limitPages - cg.usagePages;
  return Math.min(mem.freePages, headroom);
}

/** do_fault: do_read_fault, do_cow_fault or do_shared_fault on a file or shmem VMA. */
function doFault(mm: MmStruct, vma: Vma, addr: number, slot: number, flags: number): number {
  const file = vma.file!;
  const { pt, mem } = mm.kernel;
  const index = vma.linearPageIndex(addr);
  if (index >= file.npages) return VM_FAULT_SIGBUS;
  const cached = file.findOrCreatePage(mem, index, mm.memcgId);
  if (cached < 0) return VM_FAULT_OOM;
  const prot = vmPageProt(vma.flags);
  if (flags & FAULT_FLAG_WRITE && !(vma.flags & VM_SHARED)) {
    anonVmaPrepare(mm, vma);
    const pfn = allocChargedPage(mm);
    if (pfn < 0) return VM_FAULT_OOM;
    mem.copyPage(pfn, cached);
    pageAddNewAnonRmap(mm, pfn, vma, addr);
    incMmCounter(mm, MM_ANONPAGES);
    pt.set(slot, pteLoOf(pfn, prot | _PAGE_RW | _PAGE_DIRTY), pteHiOf(pfn));
    return 0;
  }
  mem.getPage(cached);
  pageAddRmap(mm, cached);
  const c = mm.mmCounter(cached);
  incMmCounter(mm, c);
  const dirty = flags & FAULT_FLAG_WRITE ? _PAGE_DIRTY : 0;
  if (dirty) file.markDirty(mem, cached);
  pt.set(slot, pteLoOf(cached, prot | dirty), pteHiOf(cached));
  return 0;
}

/** do_swap_page for the swap-type entries the model has. */
function* doSwapPage(
  mm: MmStruct,
  vma: Vma,
  addr: number,
  lo: number,
  hi: number,
  flags: number,
): Task<number> {
  const type = swpType(lo);
  const pfn = ptePfn(lo, hi);
  if (isMigrationType(type)) {
    mm.kernel.counters.inc('migration_entry_wait');
    yield* mm.kernel.mem.waitOnPageLocked(pfn);
    return 0;
  }
  if (isDevicePrivateType(type)) {
    const pgmap = mm.kernel.mem.store.pgmapOf(pfn);
    if (pgmap === undefined)
      throw new KernelBug(`do_swap_page: device-private entry for pfn ${pfn} without a pgmap`);
    mm.kernel.counters.inc('device_private_fault');
    const vmf = { mm, vma, address: addr, pfn, flags };
    if (pgmap.ops !== undefined) return yield* devicePrivateMigrateToRam(mm, pgmap.ops, vmf);
    if (pgmap.fault === undefined)
      throw new KernelBug(`do_swap_page: pgmap of pfn ${pfn} has no fault method`);
    return yield* pgmap.fault(vmf);
  }
  if (isDeviceExclusiveType(type)) return yield* removeDeviceExclusiveEntry(mm, vma, addr, lo, hi);
  if (type === SWP_HWPOISON) return VM_FAULT_HWPOISON;
  // The model has no swap device: a swapped-out entry can be built (for HMM's tests) but not read in.
  return VM_FAULT_SIGBUS;
}

/**
 * do_swap_page's device-private branch as today's kernel has it: the page is locked (trylock; if
 * that fails, wait for the lock and retry the fault) and referenced while the PTE is known to
 * point at it, then `migrate_to_ram` runs with that page as vmf->page (which migrate_vma_setup
 * takes as `fault_page`); afterwards the core unlocks and drops it.
 * @see mm/memory.c do_swap_page (Linux v6.19)
 */
function* devicePrivateMigrateToRam(mm: MmStruct, ops: DevPagemapOps, vmf: DevFault): Task<number> {
  const { mem } = mm.kernel;
  const { pfn } = vmf;
  // folio_trylock: the lock of a large folio is its head's. migrate_to_ram may split the folio
  // (migrate_vma_split_folio moves the lock and reference to vmf->page's new folio), so the
  // folio is looked up again afterwards.
  const folio = mem.store.compoundHead(pfn);
  if (!mem.trylockPage(folio)) {
    yield* mem.waitOnPageLocked(folio);
    return 0;
  }
  mem.getPage(pfn);
  if (ops.migrateToRam === undefined)
    throw new KernelBug(`do_swap_page: device-private pfn ${pfn} has no migrate_to_ram`);
  const ret = yield* runMaybeTask(ops.migrateToRam(vmf), true);
  mem.unlockPage(mem.store.compoundHead(pfn));
  mem.putPage(pfn);
  return ret;
}

/**
 * remove_device_exclusive_entry: a CPU access to a page a device holds for atomics. The page lock
 * is what the device's holder keeps while it programs its MMU, so the fault sleeps on it; then a
 * CLEAR invalidation (no owner, since v6.15: the device loses the page, it is not converting it)
 * and, if the entry is still the one that faulted, the PTE comes back. A page already freed (the
 * entry was zapped meanwhile) needs nothing: folio_try_get fails. The fault then retries the access.
 */
function* removeDeviceExclusiveEntry(
  mm: MmStruct,
  vma: Vma,
  addr: number,
  lo: number,
  hi: number,
): Task<number> {
  const { pt, mem } = mm.kernel;
  const pfn = ptePfn(lo, hi);
  const folio = mem.store.compoundHead(pfn);
  if ((mem.store.refcount[folio] as number) === 0) return 0;
  mem.getPage(pfn);
  yield* mem.lockPage(folio);
  const range = notifierRange(mm, addr, addr + PAGE_SIZE, MMU_NOTIFY_CLEAR);
  yield* mmuNotifierInvalidateRangeStart(range);
  const slot = pt.pteSlot(mm.pgd, addr);
  if (slot >= 0 && pt.lo[slot] === lo && pt.hi[slot] === hi) {
    restoreExclusivePte(mm, vma, slot, pfn);
    mm.kernel.counters.inc('device_exclusive_restore');
  }
  mem.unlockPage(folio);
  mem.putPage(pfn);
  yield* mmuNotifierInvalidateRangeEnd(range);
  return 0;
}

/**
 * restore_exclusive_pte: the device-exclusive entry becomes a present, old PTE with the VMA's
 * protection; writable (and dirty if the page is) only if the VMA is writable and the page is
 * still exclusively this mapping's (can_change_pte_writable): after mprotect(PROT_READ) the page
 * comes back read-only. The page lock must be held. Mapcount, rss and references are unchanged:
 * the entry was a mapping all along.
 */
export function restoreExclusivePte(mm: MmStruct, vma: Vma, slot: number, pfn: number): void {
  const s = mm.kernel.mem.store;
  if (!s.isLocked(s.compoundHead(pfn)))
    throw new KernelBug(`restore_exclusive_pte: folio of pfn ${pfn} is not locked`);
  let prot = vmPageProt(vma.flags) & ~_PAGE_ACCESSED;
  if (vma.flags & VM_WRITE && pageAnonExclusive(s, pfn)) {
    prot |= _PAGE_RW | ((s.flags[pfn] as number) & PG_dirty ? _PAGE_DIRTY : 0);
  }
  mm.kernel.pt.set(slot, pteLoOf(pfn, prot), pteHiOf(pfn));
}

/**
 * try_restore_exclusive_pte (fork): restore without sleeping, or -EBUSY if the page is locked (a
 * driver is still programming its MMU), which fails the fork.
 */
export function tryRestoreExclusivePte(mm: MmStruct, vma: Vma, slot: number, pfn: number): number {
  const { mem } = mm.kernel;
  const folio = mem.store.compoundHead(pfn);
  if (!mem.trylockPage(folio)) return -EBUSY;
  restoreExclusivePte(mm, vma, slot, pfn);
  mem.unlockPage(folio);
  return 0;
}

/**
 * A PROT_NONE entry (PTE or huge PMD) in a VMA that is accessible again: restore the VMA's
 * protection (do_numa_page, do_huge_pmd_numa_page).
 */
function doNumaPage(mm: MmStruct, vma: Vma, slot: number): number {
  const { pt } = mm.kernel;
  const lo = pt.lo[slot] as number;
  pt.lo[slot] = ((lo & ~(_PAGE_PRESENT | _PAGE_PROTNONE | _PAGE_RW)) | vmPageProt(vma.flags)) >>> 0;
  return 0;
}

/** do_wp_page: a write to a present, read-only entry. */
function* doWpPage(mm: MmStruct, vma: Vma, addr: number, slot: number, flags: number): Task<number> {
  const { pt, mem } = mm.kernel;
  const lo = pt.lo[slot] as number;
  const pfn = ptePfn(lo, pt.hi[slot] as number);
  if (lo & _PAGE_SPECIAL) return yield* wpPageCopy(mm, vma, addr, slot, flags);
  if ((vma.flags & (VM_SHARED | VM_WRITE)) === (VM_SHARED | VM_WRITE)) {
    setPageFlags(mem.store, pfn, PG_dirty);
    return wpPageReuse(mm, vma, slot);
  }
  if (mem.store.flags[pfn]! & PG_anon) {
    if (mem.store.isLocked(pfn)) {
      // trylock_page failed: sleep on the lock, then start over if the entry changed meanwhile.
      mem.getPage(pfn);
      yield* mem.lockPage(pfn);
      mem.unlockPage(pfn);
      mem.putPage(pfn);
      if (pt.lo[slot] !== lo) return 0;
    }
    if (mm.kernel.behaviour.cowReuseNeedsSoleRef) {
      if (wpCanReuseAnonPage(mm, vma, pfn)) return wpPageReuse(mm, vma, slot, flags);
    } else if (mem.store.pageMapcount(pfn) === 1) {
      // reuse_swap_page: v5.3 reuses an anonymous page mapped once, even if GUP holds a pin on it. A
      // subpage of a THP counts its folio's PMD mappings too (page_trans_huge_mapcount).
      return wpPageReuse(mm, vma, slot, flags);
    }
  }
  if (flags & FAULT_FLAG_UNSHARE && !(mem.store.flags[pfn]! & PG_anon)) return 0;
  return yield* wpPageCopy(mm, vma, addr, slot, flags);
}

/**
 * PageAnonExclusive || wp_can_reuse_anon_folio (v5.9 / v5.19): reuse only a page no one else can
 * reach — exclusive, or whose single reference is this mapping's. A pinned page (refcount ≥ 1024)
 * or one GUP holds is copied. Reuse makes it exclusive and moves its rmap to this VMA's anon_vma.
 */
function wpCanReuseAnonPage(mm: MmStruct, vma: Vma, pfn: number): boolean {
  const s = mm.kernel.mem.store;
  if (pageAnonExclusive(s, pfn)) return true;
  const head = s.compoundHead(pfn);
  // A large folio: reusable only if every reference is one of its mappings and this PTE is the
  // subpage's only one (wp_can_reuse_anon_folio's large-folio test, simplified to one mm).
  if (s.isCompound(pfn)) return s.pageMapcount(pfn) === 1 && s.refcount[head] === s.folioMapcount(head);
  if (s.refcount[pfn] !== 1) return false;
  setPageFlags(s, pfn, PG_anon_exclusive);
  if (vma.anonVma !== null) s.mapping[pfn] = vma.anonVma.id;
  return true;
}

/** wp_page_reuse: maybe_mkwrite — the entry becomes writable only if the VMA is; unshare leaves it. */
function wpPageReuse(mm: MmStruct, vma: Vma, slot: number, flags = 0): number {
  const { pt } = mm.kernel;
  if (flags & FAULT_FLAG_UNSHARE && !(flags & FAULT_FLAG_WRITE)) return 0;
  const rw = vma.flags & VM_WRITE ? _PAGE_RW : 0;
  pt.lo[slot] = ((pt.lo[slot] as number) | rw | _PAGE_DIRTY | _PAGE_ACCESSED) >>> 0;
  return VM_FAULT_WRITE;
}

/**
 * wp_page_copy: break COW into a new anonymous page. The notifier runs before the entry changes,
 * and because a notifier may sleep, the entry is checked again afterwards (pte_same); if it changed
 * the new page is dropped and the fault retried.
 */
function* wpPageCopy(mm: MmStruct, vma: Vma, addr: number, slot: number, flags: number): Task<number> {
  const { pt, mem } = mm.kernel;
  const oldLo = pt.lo[slot] as number;
  const oldHi = pt.hi[slot] as number;
  const oldPfn = ptePfn(oldLo, oldHi);
  const oldNormal = !(oldLo & _PAGE_SPECIAL);
  anonVmaPrepare(mm, vma);
  const pfn = allocChargedPage(mm);
  if (pfn < 0) return VM_FAULT_OOM;
  if (oldNormal) mem.copyPage(pfn, oldPfn);
  const range = notifierRange(mm, addr, addr + PAGE_SIZE, MMU_NOTIFY_CLEAR);
  yield* mmuNotifierInvalidateRangeStart(range);
  if (pt.lo[slot] !== oldLo || pt.hi[slot] !== oldHi) {
    mem.putPage(pfn);
    yield* mmuNotifierInvalidateRangeEnd(range);
    return 0;
  }
  if (oldNormal && !(mem.store.flags[oldPfn]! & PG_anon)) {
    const c = mm.mmCounter(oldPfn);
    decMmCounter(mm, c);
    incMmCounter(mm, MM_ANONPAGES);
  } else if (!oldNormal) {
    incMmCounter(mm, MM_ANONPAGES);
  }
  pageAddNewAnonRmap(mm, pfn, vma, addr);
  const unshare = flags & FAULT_FLAG_UNSHARE && !(flags & FAULT_FLAG_WRITE);
  const rw = unshare ? 0 : _PAGE_RW | _PAGE_DIRTY;
  pt.set(slot, pteLoOf(pfn, vmPageProt(vma.flags) | rw), pteHiOf(pfn));
  if (oldNormal) {
    pageRemoveRmap(mm, oldPfn);
    mem.putPage(oldPfn);
  }
  yield* mmuNotifierInvalidateRangeEnd(range);
  mm.kernel.counters.inc('cow');
  return VM_FAULT_WRITE;
}
