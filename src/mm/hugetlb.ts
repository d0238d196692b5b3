/**
 * hugetlbfs, 2 MiB pages, private anonymous mappings (MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB):
 * a fixed pool of huge pages taken from the page allocator at boot (hugetlbPages, as the
 * nr_hugepages sysctl or hugepages= boot option), reservation at mmap time (hugetlb_reserve_pages:
 * the mmap fails with -ENOMEM unless free - reserved covers the mapping), faults that take a page
 * from the pool (consuming the VMA's reservation for that index) and map it with a huge PMD, COW
 * of private pages after fork (hugetlb_wp), and the pool counts /proc/meminfo shows
 * (HugePages_Total, HugePages_Free, HugePages_Rsvd).
 *
 * As in the kernel, hugetlb pages are not counted in rss (they go to the mm's hugetlb usage,
 * HugetlbPages in /proc/pid/status) and not charged to the memory cgroup (memory_hugetlb_accounting
 * is off by default); a free pool page has refcount 0; a mapping is one entire mapcount and one
 * reference. VMA boundaries must be 2 MiB aligned (hugetlb_vm_op_split: -EINVAL otherwise), and
 * hugetlb VMAs never merge (their vm_ops have a close).
 *
 * Divergences (docs/fidelity.md, "hugetlbfs"): only private anonymous mappings (MAP_SHARED |
 * MAP_HUGETLB and hugetlbfs files are -EINVAL here); one huge page size (2 MiB); no surplus pages
 * (nr_overcommit_hugepages = 0, the default); a COW that finds the pool empty fails with SIGBUS
 * instead of unmapping the page from the children (HPAGE_RESV_UNMAPPED); the reservation map is a
 * set of huge-page indices per mapping, not the kernel's region list.
 *
 * @see mm/hugetlb.c (Linux v6.19: hugetlb_reserve_pages, hugetlb_acct_memory, alloc_hugetlb_folio,
 *      hugetlb_no_page, hugetlb_wp, copy_hugetlb_page_range, __unmap_hugepage_range,
 *      hugetlb_vm_op_close, hugetlb_vm_op_split), fs/hugetlbfs/inode.c
 */

import { PMD_SIZE } from '../core/addr.js';
import { KernelBug } from '../core/assert.js';
import type { PmdFault } from './huge_memory.js';
import type { MmStruct } from './mm.js';
import { HPAGE_PMD_NR, PG_hugetlb, setPageFlags } from './page.js';
import type { PhysMem } from './page_alloc.js';
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PROTNONE,
  _PAGE_PSE,
  _PAGE_RW,
  pteHiOf,
  pteLoOf,
  pteNone,
  ptePfn,
} from './pte.js';
import { folioAddNewAnonRmapPmd, folioRemoveRmapPmd } from './rmap.js';
import type { Vma } from './vma.js';
import { VM_HUGETLB, VM_WRITE } from './vma.js';

/** The hstate of the one huge page size: its pool and counters. */
export class HugetlbPool {
  /** HugePages_Total: pages the pool holds (allocated from the buddy allocator at boot). */
  readonly total: number;
  /** HugePages_Rsvd: reserved by mappings but not yet faulted in. */
  resv = 0;
  /** Heads of the free pool pages (refcount 0), LIFO (dequeue_hugetlb_folio_node_exact). */
  private readonly freeList: number[] = [];

  constructor(mem: PhysMem, nrHugePages: number) {
    for (let i = 0; i < nrHugePages; i++) {
      const head = mem.allocCompound();
      if (head < 0) break; // "HugeTLB: allocating N of page size 2.00 MiB failed. Only allocated M"
      setPageFlags(mem.store, head, PG_hugetlb);
      mem.store.refcount[head] = 0;
      this.freeList.push(head);
    }
    this.total = this.freeList.length;
    mem.freeHugetlbFolio = (head) => this.enqueue(head);
  }

  /** HugePages_Free. */
  get free(): number {
    return this.freeList.length;
  }

  /** Whether `head` is a free pool page (for the checkers). */
  isFree(head: number): boolean {
    return this.freeList.includes(head);
  }

  /** Whether free - reserved covers n more pages. */
  canReserve(n: number): boolean {
    return this.free - this.resv >= n;
  }

  /** hugetlb_acct_memory: reserve n pages, or false if free - reserved does not cover them. */
  reserve(n: number): boolean {
    if (!this.canReserve(n)) return false;
    this.resv += n;
    return true;
  }

  /**
   * Releases `n` reserved pages (hugetlb_acct_memory with a negative delta); a KernelBug if fewer are
   * reserved.
   */
  unreserve(n: number): void {
    if (n > this.resv) throw new KernelBug(`hugetlb: unreserving ${n} of ${this.resv} reserved pages`);
    this.resv -= n;
  }

  /** dequeue_hugetlb_folio: a free page at refcount 1, or -1. */
  dequeue(): number {
    return this.freeList.pop() ?? -1;
  }

  /** free_huge_folio: the last reference went; the page returns to the pool, not to the buddy. */
  private enqueue(head: number): void {
    this.freeList.push(head);
  }
}

/** The huge-page index of `addr` in `vma` (vma_hugecache_offset). */
function hugeIndex(vma: Vma, addr: number): number {
  return Math.floor(vma.linearPageIndex(addr) / HPAGE_PMD_NR);
}

/**
 * hugetlb_reserve_pages for a new private mapping [start, end): reserves one page per 2 MiB and
 * records the indices in the VMA's reservation map. False: -ENOMEM.
 */
export function hugetlbReservePages(mm: MmStruct, vma: Vma): boolean {
  const n = (vma.end - vma.start) / PMD_SIZE;
  if (!mm.kernel.hugetlb.reserve(n)) return false;
  const resv = new Set<number>();
  for (let a = vma.start; a < vma.end; a += PMD_SIZE) resv.add(hugeIndex(vma, a));
  vma.hugetlbResv = resv;
  return true;
}

/** hugetlb_vm_op_close: reservations of the VMA's range never faulted in go back to the pool. */
export function hugetlbVmOpClose(mm: MmStruct, vma: Vma): void {
  const resv = vma.hugetlbResv;
  if (resv === null) return;
  let n = 0;
  for (let a = vma.start; a < vma.end; a += PMD_SIZE) if (resv.delete(hugeIndex(vma, a))) n++;
  mm.kernel.hugetlb.unreserve(n);
}

/** hugetlb_vm_op_split: a hugetlb VMA may only be split on a 2 MiB boundary (-EINVAL otherwise). */
export function hugetlbSplitAllowed(mm: MmStruct, start: number, end: number): boolean {
  for (const addr of [start, end]) {
    const vma = mm.vmaAt(addr);
    if (vma !== null && vma.flags & VM_HUGETLB && vma.start !== addr && addr % PMD_SIZE !== 0) return false;
  }
  return true;
}

/**
 * alloc_hugetlb_folio: consumes the VMA's reservation for this index if it has one, else needs an
 * unreserved free page. The folio comes zeroed at refcount 1, or -1 (the fault's SIGBUS).
 */
function allocHugetlbFolio(mm: MmStruct, vma: Vma, addr: number): number {
  const pool = mm.kernel.hugetlb;
  const reserved = vma.hugetlbResv?.delete(hugeIndex(vma, addr)) === true;
  if (!reserved && pool.free - pool.resv <= 0) return -1;
  if (reserved) pool.unreserve(1);
  const head = pool.dequeue();
  if (head < 0) throw new KernelBug('hugetlb: a reservation with no free page behind it');
  const s = mm.kernel.mem.store;
  s.refcount[head] = 1;
  for (let i = 0; i < HPAGE_PMD_NR; i++) mm.kernel.mem.clearPage(head + i);
  return head;
}

/** The result codes hugetlb_fault returns (a subset of VM_FAULT_*; the caller's values). */
export interface HugetlbFaultCodes {
  /** The caller's VM_FAULT_SIGBUS value, returned when no pool page is left. */
  readonly sigbus: number;
}

/**
 * hugetlb_fault at the PMD slot of `haddr` (the caller ran anon_vma_prepare): a none entry takes a
 * pool page (hugetlb_no_page; a private write maps it writable at once, the no_page COW
 * optimisation), a write to a read-only entry takes hugetlb_wp, a PROT_NONE entry gets the VMA's
 * protection back, anything else just its accessed/dirty bits. Returns 0 or `codes.sigbus`.
 */
export function hugetlbFault(vmf: PmdFault, codes: HugetlbFaultCodes): number {
  const { mm, vma, haddr, pmdSlot, write, prot } = vmf;
  const { pt } = mm.kernel;
  const lo = pt.lo[pmdSlot] as number;
  if (pteNone(lo, pt.hi[pmdSlot] as number)) {
    const head = allocHugetlbFolio(mm, vma, haddr);
    if (head < 0) return codes.sigbus;
    folioAddNewAnonRmapPmd(mm, vma, head, haddr); // hugetlb_add_new_anon_rmap
    mm.hugetlbUsage += HPAGE_PMD_NR;
    const rw = write && vma.flags & VM_WRITE ? _PAGE_RW | _PAGE_DIRTY : 0;
    pt.set(pmdSlot, pteLoOf(head, prot | rw | _PAGE_PSE), pteHiOf(head));
    return 0;
  }
  if (lo & _PAGE_PROTNONE) {
    pt.lo[pmdSlot] = ((lo & ~(_PAGE_PROTNONE | _PAGE_RW | 1)) | prot | _PAGE_PSE) >>> 0;
    return 0;
  }
  if (write && !(lo & _PAGE_RW)) return hugetlbWp(mm, vma, haddr, pmdSlot, codes);
  pt.lo[pmdSlot] = (lo | _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0)) >>> 0;
  return 0;
}

/**
 * hugetlb_wp: a private page mapped only here is reused; otherwise a new pool page gets a copy of
 * all 2 MiB and replaces it in this mapping (the old folio loses one mapping and reference).
 */
function hugetlbWp(mm: MmStruct, vma: Vma, haddr: number, pmdSlot: number, codes: HugetlbFaultCodes): number {
  const { pt, mem } = mm.kernel;
  const s = mem.store;
  const lo = pt.lo[pmdSlot] as number;
  const old = ptePfn(lo, pt.hi[pmdSlot] as number);
  const rw = vma.flags & VM_WRITE ? _PAGE_RW : 0;
  if (s.refcount[old] === 1) {
    pt.lo[pmdSlot] = (lo | rw | _PAGE_DIRTY | _PAGE_ACCESSED) >>> 0;
    return 0;
  }
  const head = allocHugetlbFolio(mm, vma, haddr);
  if (head < 0) return codes.sigbus;
  for (let i = 0; i < HPAGE_PMD_NR; i++) mem.copyPage(head + i, old + i);
  folioAddNewAnonRmapPmd(mm, vma, head, haddr); // hugetlb_add_new_anon_rmap
  pt.set(pmdSlot, pteLoOf(head, (lo & 0xfff) | rw | _PAGE_DIRTY | _PAGE_ACCESSED), pteHiOf(head));
  folioRemoveRmapPmd(mm, old); // hugetlb_remove_rmap
  mem.putPage(old);
  mm.kernel.counters.inc('hugetlb_cow');
  return 0;
}

/** Whether `head` is a hugetlb folio (PageHuge). */
export function isHugetlbFolio(mem: PhysMem, head: number): boolean {
  return ((mem.store.flags[head] as number) & PG_hugetlb) !== 0;
}
