/**
 * Transparent huge pages, anonymous: the `thp` setting (/sys/kernel/mm/transparent_hugepage/
 * enabled), the PMD-level fault (a compound page mapped by a huge PMD, or the huge zero page on a
 * read), its write-protect fault, zap, fork copy and mprotect of a huge PMD, and the two splits:
 * split_huge_pmd (one huge PMD → a PTE table of 512 entries onto the same compound page) and
 * split_huge_page (the compound page → 512 order-0 pages).
 *
 * Counting follows today's folios: a PMD mapping is one entire mapcount and one folio reference
 * and 512 MM_ANONPAGES; a PTE mapping of a subpage is one mapcount of that subpage and one folio
 * reference. Splitting a PMD therefore adds 511 folio references and one mapcount per subpage,
 * and drops the entire mapcount; rss and memcg are unchanged.
 *
 * Divergences (docs/fidelity.md, "Transparent huge pages"): no deposited page table (the model's
 * page tables are not RAM, so a split can always get one); no khugepaged and no deferred split
 * queue (a partially unmapped THP keeps its 512 frames until it is freed whole, as the kernel's
 * does until its shrinker runs); the huge zero page is freed as soon as no mm holds it (the kernel
 * leaves that to a shrinker); split_huge_pmd issues no mmu-notifier invalidation of its own (the
 * translation of every address is the same before and after, and the callers that change
 * mappings issue theirs).
 *
 * @see mm/huge_memory.c (Linux v6.19: do_huge_pmd_anonymous_page, do_huge_pmd_wp_page,
 *      zap_huge_pmd, copy_huge_pmd, change_huge_pmd, __split_huge_pmd_locked,
 *      __split_huge_page, mm_get_huge_zero_folio), include/linux/huge_mm.h
 */

import { PAGE_SIZE, PMD_SIZE } from '../core/addr.js';
import { KernelBug } from '../core/assert.js';
import { ArgumentError } from '../core/errno.js';
import type { Task } from '../sched/index.js';
import type { Kernel } from './kernel.js';
import type { MmStruct } from './mm.js';
import { addMmCounter, MM_ANONPAGES } from './mm.js';
import {
  MMU_NOTIFY_CLEAR,
  mmuNotifierInvalidateRangeEnd,
  mmuNotifierInvalidateRangeStart,
  notifierRange,
} from './mmu_notifier.js';
import {
  clearPageFlags,
  HPAGE_PMD_NR,
  PG_anon,
  PG_anon_exclusive,
  PG_dirty,
  PG_head,
  PG_hugetlb,
  PG_locked,
  PG_swapbacked,
  PG_tail,
  PG_uptodate,
  pageAnonExclusive,
  pageMaybeDmaPinned,
  setPageFlags,
} from './page.js';
import { LEVEL_PTE } from './pagetable.js';
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PSE,
  _PAGE_RW,
  _PAGE_SPECIAL,
  isPmdDevicePrivateEntry,
  isPmdMigrationEntry,
  PTE_FLAGS_MASK,
  pmdHuge,
  pteHiOf,
  pteLoOf,
  ptePfn,
  readableSwpType,
  SWP_DEVICE_READ,
  SWP_DEVICE_WRITE,
  SWP_MIGRATION_READ,
  SWP_MIGRATION_WRITE,
  swpEntryLo,
  swpType,
} from './pte.js';
import { folioAddNewAnonRmapPmd, folioRemoveRmapPmd, rmapTargets } from './rmap.js';
import type { Vma } from './vma.js';
import { VM_HUGEPAGE, VM_HUGETLB, VM_NOHUGEPAGE, VM_WRITE, vmPageProt } from './vma.js';

/** /sys/kernel/mm/transparent_hugepage/enabled: when anonymous faults may get a 2 MiB page. */
export type ThpMode = 'always' | 'madvise' | 'never';
/** The THP modes, as the CLI and SimulatorOptions accept them. */
export const THP_MODES: readonly ThpMode[] = ['always', 'madvise', 'never'];

/** VM_FAULT_FALLBACK: the PMD-level handler declined; the fault continues at the PTE level. */
export const VM_FAULT_FALLBACK = 0x0800;

/** The machine-wide THP state: the sysfs setting and the huge zero folio. */
export class ThpState {
  /** /sys/kernel/mm/transparent_hugepage/enabled: always, madvise or never. */
  mode: ThpMode;
  /** Head pfn of the huge zero page, or -1 while no mm holds it. */
  hugeZeroPfn = -1;
  /** mms with MMF_HUGE_ZERO_PAGE set (each holds one huge_zero_refcount). */
  hugeZeroUsers = 0;

  constructor(mode: ThpMode = 'madvise') {
    if (!THP_MODES.includes(mode))
      throw new ArgumentError('thp', `expected 'always', 'madvise' or 'never', got ${String(mode)}`);
    this.mode = mode;
  }
}

/** is_huge_zero_pmd: a huge PMD onto the huge zero page. */
export function isHugeZeroPfn(kernel: Kernel, pfn: number): boolean {
  return pfn === kernel.thp.hugeZeroPfn && pfn >= 0;
}

/**
 * thp_vma_allowable_order + thp_vma_suitable_order for an anonymous private fault at `haddr`:
 * THP enabled for this VMA by the setting and its VM_HUGEPAGE/VM_NOHUGEPAGE advice, and the
 * aligned 2 MiB range inside the VMA with its pgoff aligned too.
 */
export function thpVmaAllowable(kernel: Kernel, vma: Vma, haddr: number): boolean {
  const mode = kernel.thp.mode;
  if (mode === 'never' || (mode === 'madvise' && !(vma.flags & VM_HUGEPAGE))) return false;
  return thpVmaAllowableForced(vma) && haddr >= vma.start && haddr + PMD_SIZE <= vma.end;
}

/**
 * The VMA could hold THPs whatever the sysfs setting says (MADV_COLLAPSE's TVA_FORCED_COLLAPSE):
 * anonymous, not VM_NOHUGEPAGE or hugetlb, its pgoff aligned with its address to 2 MiB.
 */
export function thpVmaAllowableForced(vma: Vma): boolean {
  if (vma.flags & (VM_NOHUGEPAGE | VM_HUGETLB) || !vma.isAnonymous()) return false;
  return (vma.start / PAGE_SIZE - vma.pgoff) % HPAGE_PMD_NR === 0;
}

/** The huge PMD's lo word for `head` with protection `prot` (mk_huge_pmd). */
export function hugePmdLo(head: number, prot: number): number {
  return pteLoOf(head, prot | _PAGE_PSE);
}

// -- the huge zero page ---------------------------------------------------------------------------

/**
 * mm_get_huge_zero_folio: the first use in an mm takes a reference for it (MMF_HUGE_ZERO_PAGE);
 * the first user in the machine allocates the folio. Returns its head, or -1 if no aligned block
 * is free (the fault falls back).
 */
export function mmGetHugeZeroPage(mm: MmStruct): number {
  const thp = mm.kernel.thp;
  if (mm.hugeZero) return thp.hugeZeroPfn;
  if (thp.hugeZeroPfn < 0) {
    const head = mm.kernel.mem.allocCompound();
    if (head < 0) return -1;
    thp.hugeZeroPfn = head;
    mm.kernel.counters.inc('thp_zero_page_alloc');
  }
  thp.hugeZeroUsers++;
  mm.hugeZero = true;
  return thp.hugeZeroPfn;
}

/** mm_put_huge_zero_folio at exit: the last mm gives the folio back (the shrinker's job in Linux). */
export function mmPutHugeZeroPage(mm: MmStruct): void {
  if (!mm.hugeZero) return;
  mm.hugeZero = false;
  const thp = mm.kernel.thp;
  if (--thp.hugeZeroUsers > 0) return;
  const head = thp.hugeZeroPfn;
  thp.hugeZeroPfn = -1;
  mm.kernel.mem.putPage(head);
}

// -- fault ----------------------------------------------------------------------------------------

/**
 * What the two huge-PMD fault handlers (do_huge_pmd_anonymous_page, hugetlb_fault) take: the PMD
 * level's part of struct vm_fault, with the 2 MiB-aligned address and the VMA's page protection.
 */
export interface PmdFault {
  /** The faulting address space. */
  readonly mm: MmStruct;
  /** The VMA containing the fault. */
  readonly vma: Vma;
  /** The fault address rounded down to 2 MiB. */
  readonly haddr: number;
  /** PageTablePool slot of the PMD entry for haddr. */
  readonly pmdSlot: number;
  /** The access was a write (FAULT_FLAG_WRITE). */
  readonly write: boolean;
  /** The VMA's page protection bits (vm_page_prot) for a new entry. */
  readonly prot: number;
}

/**
 * do_huge_pmd_anonymous_page: a read maps the huge zero page read-only; a write allocates a
 * compound page, charges 512 pages, maps it writable and dirty with a huge PMD (entire mapcount 1,
 * 512 MM_ANONPAGES). Returns 0, or VM_FAULT_FALLBACK when no huge page (or charge) can be had.
 * The caller has run anon_vma_prepare.
 */
export function doHugePmdAnonymousPage(vmf: PmdFault): number {
  const { mm, vma, haddr, pmdSlot, write, prot } = vmf;
  const { pt, counters } = mm.kernel;
  if (!write) {
    const zero = mmGetHugeZeroPage(mm);
    if (zero < 0) return VM_FAULT_FALLBACK;
    pt.set(pmdSlot, hugePmdLo(zero, prot & ~_PAGE_RW), pteHiOf(zero));
    return 0;
  }
  const head = vmaAllocAnonFolioPmd(mm);
  if (head < 0) return VM_FAULT_FALLBACK;
  mapAnonFolioPmd(mm, vma, head, haddr, pmdSlot, prot);
  counters.inc('thp_fault_alloc');
  return 0;
}

/** vma_alloc_anon_folio_pmd: a compound page charged 512 pages, or -1 (counted as a fallback). */
function vmaAllocAnonFolioPmd(mm: MmStruct): number {
  const { mem, counters } = mm.kernel;
  const head = mem.allocCompound();
  if (head < 0) {
    counters.inc('thp_fault_fallback');
    return -1;
  }
  if (!mem.chargeCompound(head, mm.memcgId)) {
    mem.putPage(head);
    counters.inc('thp_fault_fallback_charge');
    return -1;
  }
  return head;
}

/** map_anon_folio_pmd: the new folio, writable (if the VMA is) and dirty, 512 pages of rss. */
function mapAnonFolioPmd(
  mm: MmStruct,
  vma: Vma,
  head: number,
  haddr: number,
  pmdSlot: number,
  prot: number,
): void {
  folioAddNewAnonRmapPmd(mm, vma, head, haddr);
  addMmCounter(mm, MM_ANONPAGES, HPAGE_PMD_NR);
  const rw = vma.flags & VM_WRITE ? _PAGE_RW : 0;
  mm.kernel.pt.set(pmdSlot, hugePmdLo(head, prot | rw | _PAGE_DIRTY), pteHiOf(head));
}

/**
 * do_huge_zero_wp_pmd (v6.13+): a write to the huge zero page replaces it with a new THP inside a
 * CLEAR invalidation of the 2 MiB (rechecking the PMD after the notifiers, which may sleep); if no
 * THP can be had the PMD is split and the fault falls back to the PTE level, which copies the one
 * page written from the small zero page.
 */
export function* doHugeZeroWpPmd(mm: MmStruct, vma: Vma, haddr: number, pmdSlot: number): Task<number> {
  const { pt, mem } = mm.kernel;
  const head = vmaAllocAnonFolioPmd(mm);
  if (head < 0) {
    splitHugePmd(mm, pmdSlot, haddr);
    return VM_FAULT_FALLBACK;
  }
  const lo = pt.lo[pmdSlot] as number;
  const hi = pt.hi[pmdSlot] as number;
  const range = notifierRange(mm, haddr, haddr + PMD_SIZE, MMU_NOTIFY_CLEAR);
  yield* mmuNotifierInvalidateRangeStart(range);
  if (pt.lo[pmdSlot] === lo && pt.hi[pmdSlot] === hi) {
    pt.clear(pmdSlot);
    mapAnonFolioPmd(mm, vma, head, haddr, pmdSlot, lo & _PAGE_PROT_OF_PMD);
    mm.kernel.counters.inc('thp_fault_alloc');
  } else {
    mem.putPage(head);
  }
  yield* mmuNotifierInvalidateRangeEnd(range);
  return 0;
}

/** The protection bits of a huge PMD that a new mapping in its place keeps (not RW/D/PSE/pfn). */
const _PAGE_PROT_OF_PMD = PTE_FLAGS_MASK & ~(_PAGE_RW | _PAGE_DIRTY | _PAGE_PSE | _PAGE_SPECIAL);

/**
 * do_huge_pmd_wp_page: a write to a read-only huge PMD. The huge zero page takes
 * do_huge_zero_wp_pmd. The folio is reused whole when this PMD holds its only reference (v6.19:
 * folio_ref_count == 1); otherwise the PMD is split and the fault falls back to the PTE level,
 * which copies the one subpage written (the kernel stopped copying whole THPs on COW in v5.8).
 */
export function* doHugePmdWpPage(mm: MmStruct, vma: Vma, haddr: number, pmdSlot: number): Task<number> {
  const { pt, mem } = mm.kernel;
  const lo = pt.lo[pmdSlot] as number;
  const head = ptePfn(lo, pt.hi[pmdSlot] as number);
  if (isHugeZeroPfn(mm.kernel, head)) return yield* doHugeZeroWpPmd(mm, vma, haddr, pmdSlot);
  const exclusive = mm.kernel.behaviour.anonExclusive && pageAnonExclusive(mem.store, head);
  if ((exclusive || mem.store.refcount[head] === 1) && vma.flags & VM_WRITE) {
    pt.lo[pmdSlot] = (lo | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED) >>> 0;
    return 0;
  }
  splitHugePmd(mm, pmdSlot, haddr);
  return VM_FAULT_FALLBACK;
}

// -- zap, copy, change_protection ----------------------------------------------------------------

/** zap_huge_pmd: the whole 2 MiB goes; a compound page loses its PMD mapping and 512 rss. */
export function zapHugePmd(mm: MmStruct, pmdSlot: number): void {
  const { pt, mem } = mm.kernel;
  const lo = pt.lo[pmdSlot] as number;
  const head = ptePfn(lo, pt.hi[pmdSlot] as number);
  pt.clear(pmdSlot);
  if (isHugeZeroPfn(mm.kernel, head)) return;
  folioRemoveRmapPmd(mm, head);
  addHugeRss(mm, head, -HPAGE_PMD_NR);
  mem.putPage(head);
}

/** 512 pages of rss for a THP; hugetlb pages count in hugetlb_usage instead (hugetlb_count_add). */
function addHugeRss(mm: MmStruct, head: number, n: number): void {
  if ((mm.kernel.mem.store.flags[head] as number) & PG_hugetlb) {
    mm.hugetlbUsage += n;
    return;
  }
  const c = mm.mmCounter(head);
  addMmCounter(mm, c, n);
}

/**
 * copy_huge_pmd at fork: the child maps the same folio (or the huge zero page) with a huge PMD,
 * both sides write-protected and the child's entry old; one more entire mapcount and reference,
 * 512 more MM_ANONPAGES in the child.
 */
export function copyHugePmd(
  dst: MmStruct,
  src: MmStruct,
  pmdSlot: number,
  haddr: number,
  cow: boolean,
): void {
  const { pt, mem } = src.kernel;
  let lo = pt.lo[pmdSlot] as number;
  const hi = pt.hi[pmdSlot] as number;
  const head = ptePfn(lo, hi);
  const dstSlot = pt.pmdSlotAlloc(dst.pgd, haddr);
  if (isHugeZeroPfn(src.kernel, head)) {
    mmGetHugeZeroPage(dst);
    pt.set(dstSlot, lo & ~_PAGE_ACCESSED, hi);
    return;
  }
  if (cow && lo & _PAGE_RW) {
    lo &= ~_PAGE_RW;
    pt.lo[pmdSlot] = lo;
  }
  mem.getPage(head);
  dupAnonRmapPmd(src, head);
  addHugeRss(dst, head, HPAGE_PMD_NR);
  pt.set(dstSlot, lo & ~_PAGE_ACCESSED, hi);
}

/** folio_try_dup_anon_rmap_pmd: one more entire mapping, and no subpage is exclusive any more. */
function dupAnonRmapPmd(mm: MmStruct, head: number): void {
  const s = mm.kernel.mem.store;
  for (let i = 0; i < HPAGE_PMD_NR; i++) clearPageFlags(s, head + i, PG_anon_exclusive);
  s.entireMapcount.set(head, (s.entireMapcount.get(head) ?? 0) + 1);
}

// -- non-present PMDs: migration and device-private entries (v6.19) -------------------------------

/** The PMD at `slot` made the readable entry of its kind, if it was writable (pmd_to_swp_entry). */
function makeSwapPmdReadable(mm: MmStruct, slot: number): void {
  const { pt } = mm.kernel;
  const lo = pt.lo[slot] as number;
  const hi = pt.hi[slot] as number;
  pt.set(slot, swpEntryLo(readableSwpType(swpType(lo)), ptePfn(lo, hi)), hi);
}

/**
 * zap_huge_pmd on a non-present PMD: 512 pages of rss go either way; a device-private entry still
 * maps its folio, so it also drops the entire mapping and the reference. A migration entry holds
 * neither (set_pmd_migration_entry dropped them), so nothing else moves.
 * @see mm/huge_memory.c zap_huge_pmd (Linux v6.19)
 */
export function zapSwapPmd(mm: MmStruct, pmdSlot: number): void {
  const { pt, mem } = mm.kernel;
  const lo = pt.lo[pmdSlot] as number;
  const hi = pt.hi[pmdSlot] as number;
  const head = ptePfn(lo, hi);
  const devicePrivate = isPmdDevicePrivateEntry(lo, hi);
  if (!devicePrivate && !isPmdMigrationEntry(lo, hi)) throw new KernelBug(`zap_huge_pmd: swap PMD ${lo}`);
  pt.clear(pmdSlot);
  addHugeRss(mm, head, -HPAGE_PMD_NR);
  if (!devicePrivate) return;
  folioRemoveRmapPmd(mm, head);
  mem.putPage(head);
}

/**
 * copy_huge_pmd on a non-present PMD: a write migration or device-private entry turns read in the
 * parent first, and the child gets the same entry and 512 rss. A device-private entry maps its
 * folio, so the child's copy also takes a reference and an entire mapping (no subpage exclusive).
 * @see mm/huge_memory.c copy_huge_pmd (Linux v6.19)
 */
export function copySwapPmd(dst: MmStruct, src: MmStruct, pmdSlot: number, haddr: number): void {
  const { pt, mem } = src.kernel;
  makeSwapPmdReadable(src, pmdSlot);
  const lo = pt.lo[pmdSlot] as number;
  const hi = pt.hi[pmdSlot] as number;
  const head = ptePfn(lo, hi);
  if (isPmdDevicePrivateEntry(lo, hi)) {
    mem.getPage(head);
    dupAnonRmapPmd(src, head);
  }
  addHugeRss(dst, head, HPAGE_PMD_NR);
  pt.set(pt.pmdSlotAlloc(dst.pgd, haddr), lo, hi);
}

/**
 * change_huge_pmd on a non-present PMD, whatever the new protection ("a protection check is
 * difficult so just be safe and disable write"): a write migration or device-private entry turns
 * read. Divergence: the model has no readable-exclusive migration type, so an anonymous folio's
 * entry becomes a plain read one.
 * @see mm/huge_memory.c change_non_present_huge_pmd (Linux v6.19)
 */
export function changeSwapPmd(mm: MmStruct, pmdSlot: number): void {
  makeSwapPmdReadable(mm, pmdSlot);
}

/** change_huge_pmd: new protection bits on the whole PMD; the huge zero page stays read-only. */
export function changeHugePmd(mm: MmStruct, pmdSlot: number, prot: number, protBits: number): void {
  const { pt } = mm.kernel;
  const lo = pt.lo[pmdSlot] as number;
  const head = ptePfn(lo, pt.hi[pmdSlot] as number);
  const p = isHugeZeroPfn(mm.kernel, head) ? prot & ~_PAGE_RW : prot;
  pt.lo[pmdSlot] = ((lo & ~protBits) | p) >>> 0;
}

// -- split_huge_pmd -------------------------------------------------------------------------------

/**
 * __split_huge_pmd_locked: the huge PMD at `pmdSlot` (mapping [haddr, haddr+2 MiB)) becomes a PTE
 * table of 512 entries with the PMD's bits. A compound page's entire mapping becomes 512 PTE
 * mappings (+1 mapcount per subpage, +511 folio references, entire mapcount -1); the huge zero
 * page becomes 512 special PTEs onto the small zero page (__split_huge_zero_page_pmd).
 */
export function splitHugePmd(mm: MmStruct, pmdSlot: number, haddr: number): void {
  const { pt, mem } = mm.kernel;
  const lo = pt.lo[pmdSlot] as number;
  const hi = pt.hi[pmdSlot] as number;
  if (!(lo & _PAGE_PSE)) throw new KernelBug(`split_huge_pmd: 0x${haddr.toString(16)} is not a huge PMD`);
  const head = ptePfn(lo, hi);
  const bits = lo & PTE_FLAGS_MASK & ~_PAGE_PSE;
  const zero = isHugeZeroPfn(mm.kernel, head);
  pt.clear(pmdSlot);
  const t = pt.populateTable(pmdSlot, LEVEL_PTE);
  const first = t * HPAGE_PMD_NR;
  const hiFlags = hi & ~pteHiOf(head);
  if (zero) {
    const zlo = pteLoOf(0, (bits & ~(_PAGE_RW | _PAGE_DIRTY)) | _PAGE_SPECIAL);
    for (let i = 0; i < HPAGE_PMD_NR; i++) pt.set(first + i, zlo, 0);
    mm.kernel.counters.inc('thp_split_pmd');
    return;
  }
  const s = mem.store;
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const pfn = head + i;
    s.mapcount[pfn] = (s.mapcount[pfn] as number) + 1;
    pt.set(first + i, pteLoOf(pfn, bits), (pteHiOf(pfn) | hiFlags) >>> 0);
  }
  s.refcount[head] = (s.refcount[head] as number) + HPAGE_PMD_NR - 1;
  folioRemoveRmapPmd(mm, head);
  mm.kernel.counters.inc('thp_split_pmd');
}

/**
 * __split_huge_pmd_locked on a non-present PMD: 512 PTE entries of its kind onto the subpages, the
 * write bit kept. A migration entry holds no mapping, so nothing else moves; a device-private
 * entry's entire mapping becomes 512 PTE mappings of the still-large folio (+1 mapcount per
 * subpage, +511 references, entire mapcount -1), as for a present THP. rss is unchanged.
 * @see mm/huge_memory.c __split_huge_pmd_locked (Linux v6.19, the !present branch)
 */
export function splitSwapPmd(mm: MmStruct, pmdSlot: number): void {
  const { pt, mem } = mm.kernel;
  const lo = pt.lo[pmdSlot] as number;
  const hi = pt.hi[pmdSlot] as number;
  const head = ptePfn(lo, hi);
  const type = swpType(lo);
  const devicePrivate = isPmdDevicePrivateEntry(lo, hi);
  if (!devicePrivate && !isPmdMigrationEntry(lo, hi)) throw new KernelBug(`split_huge_pmd: swap PMD ${lo}`);
  pt.clear(pmdSlot);
  const first = pt.populateTable(pmdSlot, LEVEL_PTE) * HPAGE_PMD_NR;
  for (let i = 0; i < HPAGE_PMD_NR; i++) pt.set(first + i, swpEntryLo(type, head + i), pteHiOf(head + i));
  if (devicePrivate) {
    const s = mem.store;
    for (let i = 0; i < HPAGE_PMD_NR; i++) s.mapcount[head + i] = (s.mapcount[head + i] as number) + 1;
    s.refcount[head] = (s.refcount[head] as number) + HPAGE_PMD_NR - 1;
    folioRemoveRmapPmd(mm, head);
  }
  mm.kernel.counters.inc('thp_split_pmd');
}

/**
 * split_huge_pmd(vma, pmd, address): splits the huge PMD covering `addr`, if there is one, present
 * or not (v6.19 splits PMD migration and device-private entries too).
 */
export function splitHugePmdAt(mm: MmStruct, addr: number): void {
  const { pt } = mm.kernel;
  const slot = pt.hugePmdSlot(mm.pgd, addr);
  if (slot >= 0) splitHugePmd(mm, slot, addr - (addr % PMD_SIZE));
  const sw = pt.swapPmdSlot(mm.pgd, addr);
  if (sw >= 0) splitSwapPmd(mm, sw);
}

/**
 * Splits every huge PMD that maps part of [start, end), for the callers that then walk the range
 * PTE by PTE (mremap's move_page_tables, MADV_FREE) where the kernel has a PMD-level path
 * (move_huge_pmd, madvise_free_huge_pmd) the model does not (docs/fidelity.md).
 */
export function splitHugePmdsIn(mm: MmStruct, start: number, end: number): void {
  for (let a = start - (start % PMD_SIZE); a < end; a += PMD_SIZE) splitHugePmdAt(mm, a);
}

/**
 * vma_adjust_trans_huge: a VMA boundary about to be made at `addr` inside a huge PMD's 2 MiB
 * splits that PMD first (__split_vma, and through it partial munmap, mprotect and madvise).
 */
export function vmaAdjustTransHuge(mm: MmStruct, addr: number): void {
  if (addr % PMD_SIZE !== 0) splitHugePmdAt(mm, addr);
}

// -- split_huge_page ------------------------------------------------------------------------------

/**
 * The slot of the PMD at `addr` in `mm` if it maps the folio at `head` (a present huge PMD or a
 * device-private one), or -1: the PMD mappings that try_to_migrate and unmap_folio act on.
 */
export function folioPmdSlot(mm: MmStruct, addr: number, head: number): number {
  const { pt } = mm.kernel;
  let slot = pt.hugePmdSlot(mm.pgd, addr);
  if (slot < 0) {
    slot = pt.swapPmdSlot(mm.pgd, addr);
    if (slot >= 0 && !isPmdDevicePrivateEntry(pt.lo[slot] as number, pt.hi[slot] as number)) return -1;
  }
  return slot >= 0 && ptePfn(pt.lo[slot] as number, pt.hi[slot] as number) === head ? slot : -1;
}

/**
 * split_huge_page: the compound page at `head` becomes 512 order-0 pages. Every PMD mapping of it,
 * present or device-private, in any mm, is split first (unmap_folio's TTU_SPLIT_HUGE_PMD); then
 * each subpage keeps its own PTE mappings as its references, the head keeps the references nobody maps through (the caller's), each page
 * carries one page of the folio's memcg charge, and subpages nobody maps are freed. Fails with
 * false, changing nothing else, if references beyond the mappings and `extraPins` (the caller's)
 * exist (can_split_folio: a GUP pin blocks the split).
 */
export function splitHugePage(kernel: Kernel, head: number, extraPins: number): boolean {
  const s = kernel.mem.store;
  if (!((s.flags[head] as number) & PG_head))
    throw new KernelBug(`split_huge_page: pfn ${head} is not a head`);
  if (s.refcount[head] !== s.folioMapcount(head) + extraPins) return false;
  for (const t of rmapTargets(kernel, head)) {
    const slot = folioPmdSlot(t.mm, t.address, head);
    if (slot < 0) continue;
    if (pmdHuge(kernel.pt.lo[slot] as number)) splitHugePmd(t.mm, slot, t.address);
    else splitSwapPmd(t.mm, slot);
  }
  if (s.entireMapcount.has(head)) throw new KernelBug(`split_huge_page: pfn ${head} still PMD-mapped`);
  // split_page_memcg: the folio's charge of 512 becomes one page's charge on each subpage.
  const memcg = s.memcg[head] as number;
  let tailRefs = 0;
  const orphans: number[] = [];
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const pfn = head + i;
    clearPageFlags(s, pfn, PG_head | PG_tail);
    s.memcg[pfn] = memcg;
    if (i === 0) continue;
    s.refcount[pfn] = s.mapcount[pfn] as number;
    tailRefs += s.mapcount[pfn] as number;
    if (s.mapcount[pfn] === 0) orphans.push(pfn);
  }
  s.refcount[head] = (s.refcount[head] as number) - tailRefs;
  if (s.refcount[head] === 0) orphans.push(head);
  notifyFolioSplit(kernel, head);
  for (const pfn of orphans) freeOrphan(kernel, pfn);
  kernel.counters.inc('thp_split_page');
  return true;
}

// -- device-private THP: PMD migration entries and the folio split (v6.19) -------------------------

/**
 * set_pmd_migration_entry: the huge PMD or device-private PMD at `pmdSlot` becomes a migration PMD
 * for `head` (write if the entry was writable); its dirty bit moves to the folio, its entire
 * mapping and reference go (the caller holds one of its own). False, nothing changed, if the
 * folio is exclusive and may be pinned (folio_try_share_anon_rmap_pmd fails: -EBUSY).
 * @see mm/huge_memory.c set_pmd_migration_entry (Linux v6.19)
 */
export function setPmdMigrationEntry(mm: MmStruct, pmdSlot: number, head: number): boolean {
  const { pt, mem } = mm.kernel;
  const s = mem.store;
  const lo = pt.lo[pmdSlot] as number;
  const present = (lo & _PAGE_PSE) !== 0;
  const write = present ? (lo & _PAGE_RW) !== 0 : swpType(lo) === SWP_DEVICE_WRITE;
  if (mm.kernel.behaviour.anonExclusive && pageAnonExclusive(s, head)) {
    if (pageMaybeDmaPinned(s, head)) return false;
    for (let i = 0; i < HPAGE_PMD_NR; i++) clearPageFlags(s, head + i, PG_anon_exclusive);
  }
  if (present && lo & _PAGE_DIRTY) setPageFlags(s, head, PG_dirty);
  pt.set(pmdSlot, swpEntryLo(write ? SWP_MIGRATION_WRITE : SWP_MIGRATION_READ, head), pteHiOf(head));
  folioRemoveRmapPmd(mm, head);
  mem.putPage(head);
  return true;
}

/**
 * remove_migration_pmd: the migration PMD at `pmdSlot` maps `newHead` again — a device-private PMD
 * entry for a device-private folio, else a present huge PMD with the VMA's protection, old, writable
 * if the migration entry was — with a reference and an anonymous entire mapping (exclusive unless
 * the entry was a read one). rss is unchanged.
 * @see mm/huge_memory.c remove_migration_pmd (Linux v6.19)
 */
export function removeMigrationPmd(mm: MmStruct, vma: Vma, pmdSlot: number, newHead: number): void {
  const { pt, mem } = mm.kernel;
  const s = mem.store;
  const lo = pt.lo[pmdSlot] as number;
  const write = swpType(lo) === SWP_MIGRATION_WRITE;
  mem.getPage(newHead);
  if (s.isDevicePrivate(newHead)) {
    pt.set(pmdSlot, swpEntryLo(write ? SWP_DEVICE_WRITE : SWP_DEVICE_READ, newHead), pteHiOf(newHead));
  } else {
    const prot = (vmPageProt(vma.flags) & ~(_PAGE_ACCESSED | _PAGE_RW)) | (write ? _PAGE_RW : 0);
    pt.set(pmdSlot, hugePmdLo(newHead, prot), pteHiOf(newHead));
  }
  folioAddAnonRmapPmd(mm, vma, newHead, write && mm.kernel.behaviour.anonExclusive);
}

/**
 * folio_add_anon_rmap_pmd: one more entire mapping of an anonymous folio. Its ->mapping and ->index
 * stay (folio_migrate_mapping copied them from the folio it replaces): after fork the folio belongs
 * to the anon_vma it was created in, the parent's, which the child's chain links, while the child's
 * VMA's own anon_vma is another (__page_check_anon_rmap checks only that they share a root).
 */
function folioAddAnonRmapPmd(mm: MmStruct, vma: Vma, head: number, exclusive: boolean): void {
  const s = mm.kernel.mem.store;
  if (vma.anonVma === null) throw new KernelBug('folio_add_anon_rmap_pmd: VMA has no anon_vma');
  for (let i = 0; i < HPAGE_PMD_NR; i++)
    setPageFlags(s, head + i, PG_anon | PG_swapbacked | (exclusive ? PG_anon_exclusive : 0));
  s.entireMapcount.set(head, (s.entireMapcount.get(head) ?? 0) + 1);
}

/**
 * folio_split_unmapped(folio, 0): a locked large folio nobody maps (its mappings are migration
 * entries) becomes 512 order-0 folios, each locked, with the folio's flags, ->mapping and index,
 * one page of the charge and one reference; the head keeps the rest but the reference the caller
 * took for the split. A device folio's driver hears of each new folio (dev_pagemap_ops.folio_split).
 * @see mm/huge_memory.c folio_split_unmapped, __folio_split (Linux v6.19)
 */
export function folioSplitUnmapped(kernel: Kernel, head: number): void {
  const s = kernel.mem.store;
  if (!((s.flags[head] as number) & PG_head))
    throw new KernelBug(`folio_split_unmapped: pfn ${head} is not a head`);
  if (s.folioMapcount(head) !== 0) throw new KernelBug(`folio_split_unmapped: pfn ${head} is mapped`);
  const keep = (s.flags[head] as number) & (PG_locked | PG_anon | PG_swapbacked | PG_dirty | PG_uptodate);
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const pfn = head + i;
    clearPageFlags(s, pfn, PG_head | PG_tail);
    s.memcg[pfn] = s.memcg[head] as number;
    if (i === 0) continue;
    setPageFlags(s, pfn, keep);
    s.mapping[pfn] = s.mapping[head] as number;
    s.index[pfn] = (s.index[head] as number) + i;
    s.refcount[pfn] = 1;
  }
  s.refcount[head] = (s.refcount[head] as number) - 1;
  notifyFolioSplit(kernel, head);
  kernel.counters.inc('thp_split_page');
}

/** A subpage nobody maps after a split: a RAM page to the allocator, a device page to its driver. */
function freeOrphan(kernel: Kernel, pfn: number): void {
  if (!kernel.mem.store.isZoneDevice(pfn)) {
    kernel.mem.freePage(pfn);
    return;
  }
  kernel.mem.store.refcount[pfn] = 1;
  kernel.mem.putPage(pfn); // free_zone_device_folio: the driver takes it back
}

/** dev_pagemap_ops.folio_split(head, tail) for each new folio of a split device folio. */
function notifyFolioSplit(kernel: Kernel, head: number): void {
  const s = kernel.mem.store;
  const ops = s.isZoneDevice(head) ? s.pgmapOf(head)?.ops : undefined;
  if (ops?.folioSplit === undefined) return;
  for (let i = 1; i < HPAGE_PMD_NR; i++) ops.folioSplit(head, head + i);
}
