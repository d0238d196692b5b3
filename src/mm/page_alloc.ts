/**
 * Physical memory: the page allocator, page references, page locks and page contents.
 *
 * RAM has a fixed capacity; running out makes allocPage() return -1 and the caller report
 * -ENOMEM / VM_FAULT_OOM, as the kernel's allocation paths do (the model has no reclaim).
 * Frees are checked like free_pages_check(): a mapped, locked or still-referenced page being freed
 * is "BUG: Bad page state".
 *
 * Free areas of order 0 and 9. Order-0 pages come off a LIFO stack of free pfns (the per-cpu list
 * of the kernel: the most recently freed page is handed out first, and at boot the lowest pfn).
 * An order-9 request (a THP or a hugetlb page) needs 512 free frames aligned to 512; the
 * allocator takes the highest aligned block whose frames are all PG_buddy, so order-0
 * allocations (from the low end) and huge pages (from the high end) fragment each other as little
 * as they can. Its frames stay on the order-0 stack as stale entries
 * that a pop skips (they are not PG_buddy), so small allocations keep their order. A compound page
 * freed whole goes to the order-9 free area (a stack of blocks), which order-0 requests split only
 * once the order-0 stack is empty, as the buddy allocator splits a higher order only when the lower
 * ones are empty. When no aligned block is wholly free an order-9 request fails (-1), and the THP
 * fault falls back to small pages as the kernel's does.
 *
 * Divergence: the kernel's buddy allocator merges freed buddies into higher-order free blocks and
 * splits them on demand; here "block k is free at order 9" is read off the per-block count, which
 * is what the buddy merge would have produced, without orders 1..8 or 10.
 *
 * @see mm/page_alloc.c, mm/swap.c (__put_page), mm/filemap.c (lock_page) (Linux v5.3)
 * @see mm/page_alloc.c (__rmqueue_smallest, free_one_page) (Linux v6.19) for orders above 0
 */

import { KernelBug } from '../core/assert.js';
import { ArgumentError, describeValue } from '../core/errno.js';
import { HostArrays } from '../core/host_arrays.js';
import type { Task } from '../sched/index.js';
import { WaitQueue } from '../sched/index.js';
import { MemcgTable } from './memcg.js';
import type { DevPagemap } from './page.js';
import {
  clearPageFlags,
  HPAGE_PMD_NR,
  PAGES_PER_SECTION,
  PageStore,
  PG_buddy,
  PG_head,
  PG_hugetlb,
  PG_locked,
  PG_reserved,
  PG_tail,
  pgmapFreeRefcount,
  RAM_PAGES_MAX,
  sectionAlign,
  setPageFlags,
  ZERO_PFN,
  ZONE_DEVICE,
} from './page.js';

/** PAGE_SIZE in bytes: 4 KiB, as on x86-64. */
export const PAGE_BYTES = 4096;

/** The size and shape of a machine's physical memory. */
export interface PhysMemOptions {
  /** Pages of RAM (not counting the zero page). */
  ramPages: number;
  /** Keep page contents (false: a policy-only simulation, every page reads as zeros). */
  contents?: boolean;
  /**
   * Memory section size in pages, the granularity of RAM and of device-memory hot-plug (default
   * PAGES_PER_SECTION, x86-64's 128 MiB). The explorer uses small sections so that the machine it
   * builds for every schedule is small; nothing else depends on the value.
   */
  sectionPages?: number;
  /**
   * Device memory the machine may hot-plug later, in pages (each region section-aligned): room
   * for its struct pages is reserved up front, so the hot-plug copies nothing. A hint: more still fits.
   */
  reservePages?: number;
}

/** Freed page buffers kept for reuse (16 MiB): host-side allocation cost only. */
const SPARE_BUFFERS_MAX = 4096;

/** Page buffers of released machines (PhysMem.release), shared by every machine after them. */
const pagePool: Uint8Array[] = [];

/** Where stores go on a machine without page contents: written, never read. */
const discarded = new Uint8Array(PAGE_BYTES);
const PAGE_POOL_MAX = 256;

/**
 * The one check of a machine's RAM size, for every way in (PhysMem, the Simulator's `ramPages`
 * option): an integer in 1..RAM_PAGES_MAX, else an ArgumentError naming `ramPages`.
 */
export function checkRamPages(ramPages: unknown): asserts ramPages is number {
  if (typeof ramPages !== 'number' || !Number.isInteger(ramPages) || ramPages < 1 || ramPages > RAM_PAGES_MAX)
    throw new ArgumentError(
      'ramPages',
      `expected an integer in 1..${RAM_PAGES_MAX} (2^26 pages: 256 GiB), got ${describeValue(ramPages)}`,
    );
}

/**
 * Physical memory: the buddy allocator's free pages, page locks and wait queues, memcg charging and page
 * contents. @see mm/page_alloc.c, mm/filemap.c (lock_page)
 */
export class PhysMem {
  /** The struct page state of every pfn, RAM and device memory alike. */
  readonly store: PageStore;
  /** The memory cgroups pages are charged to. */
  readonly memcgs = new MemcgTable();
  /** Pages of RAM: pfns 1..ramPages (pfn 0 is the zero page). */
  readonly ramPages: number;
  /** Whether page bytes are kept (PhysMemOptions.contents). */
  readonly contentsEnabled: boolean;
  /** The machine's bookkeeping arrays (this free list, drivers' buffers), reused after release(). */
  readonly arrays = new HostArrays();
  /** The order-0 stack; entries whose pfn is no longer PG_buddy are stale and skipped. */
  private readonly freeList: Int32Array;
  /** Height of freeList, stale entries included. */
  private top: number;
  /** No order-9 allocation has happened, so freeList has no stale entry. */
  private clean = true;
  /** Blocks freed whole (the order-9 free area); stale once allocCompound took them again. */
  private readonly freeBlocks: number[] = [];
  private nrFree: number;
  private readonly pageWaitqueues = new Map<number, WaitQueue>();
  /** memunmap_pages waiting for a pgmap's last page to be freed (its percpu ref, pgmap->done). */
  private readonly pgmapWaitqueues = new Map<DevPagemap, WaitQueue>();
  /** free_huge_folio: where a hugetlb folio goes when its last reference drops (hugetlb.ts). */
  freeHugetlbFolio: (head: number) => void = (head) => {
    throw new KernelBug(`free_huge_folio: pfn ${head} with no hugetlb pool`);
  };
  /** Pages handed out and returned over the run (for leak checks and stats). */
  allocCount = 0;
  /** Pages returned to the allocator over the run (see allocCount). */
  freeCount = 0;

  constructor(opts: PhysMemOptions) {
    const { ramPages } = opts;
    checkRamPages(ramPages);
    this.ramPages = ramPages;
    this.contentsEnabled = opts.contents ?? true;
    const section = opts.sectionPages ?? PAGES_PER_SECTION;
    if (!Number.isInteger(section) || section < 1 || section > PAGES_PER_SECTION) {
      throw new ArgumentError(
        'sectionPages',
        `expected an integer in 1..${PAGES_PER_SECTION}, got ${section}`,
      );
    }
    const size = sectionAlign(ramPages + 1, section);
    const reserve = sectionAlign(opts.reservePages ?? 0, section);
    this.store = new PageStore(size, section, size + reserve, this.contentsEnabled);
    this.store.flags[ZERO_PFN] = PG_reserved;
    this.store.refcount[ZERO_PFN] = 1;
    this.freeList = this.arrays.i32(ramPages);
    for (let i = 0; i < ramPages; i++) this.freeList[i] = ramPages - i;
    this.store.flags.fill(PG_buddy, 1, ramPages + 1);
    this.top = ramPages;
    this.nrFree = ramPages;
    // pfns between the end of RAM and the section boundary exist but are never handed out.
    this.store.flags.fill(PG_reserved, ramPages + 1, size);
  }

  /** Free RAM pages now (NR_FREE_PAGES). */
  get freePages(): number {
    return this.nrFree;
  }

  /** Whether `pfn` is a RAM page (not the zero page, not device memory). */
  isRam(pfn: number): boolean {
    return pfn >= 1 && pfn <= this.ramPages;
  }

  /** alloc_page(GFP_HIGHUSER_MOVABLE): a page with refcount 1 and zeroed contents, or -1. */
  allocPage(): number {
    if (this.nrFree === 0) return -1;
    const s = this.store;
    let pfn: number;
    // Until the first order-9 allocation the stack holds no stale entry: pop without looking.
    if (this.clean && this.top > 0) pfn = this.freeList[--this.top] as number;
    else pfn = this.popSlow();
    this.nrFree--;
    s.flags[pfn] = 0;
    s.refcount[pfn] = 1;
    this.allocCount++;
    return pfn;
  }

  /**
   * alloc_pages(order 9) with __GFP_COMP: 512 aligned frames as one compound page, the head at
   * refcount 1, the tails at 0 with PG_tail; or -1 if no aligned block is wholly free.
   */
  allocCompound(): number {
    const block = this.freeBlock();
    if (block < 0) return -1;
    const head = block * HPAGE_PMD_NR;
    const s = this.store;
    for (let pfn = head; pfn < head + HPAGE_PMD_NR; pfn++) s.flags[pfn] = PG_tail;
    this.nrFree -= HPAGE_PMD_NR;
    this.clean = false;
    s.flags[head] = PG_head;
    s.refcount[head] = 1;
    this.allocCount += HPAGE_PMD_NR;
    return head;
  }

  /** Order-9 blocks wholly free right now (the order-9 free area's length). */
  get freeHugeBlocks(): number {
    let n = 0;
    for (let b = this.lastBlock(); b >= 0; b--) if (this.blockWhollyFree(b)) n++;
    return n;
  }

  /**
   * The highest wholly free aligned block, or -1. The scan of a block stops at its first frame in
   * use, so a fragmented machine costs about one check per block; the order-0 paths keep no
   * per-block books (their speed is the fault-in benchmark's).
   */
  private freeBlock(): number {
    for (let b = this.lastBlock(); b >= 0; b--) if (this.blockWhollyFree(b)) return b;
    return -1;
  }

  /** The highest block that lies wholly inside RAM. */
  private lastBlock(): number {
    return Math.floor((this.ramPages + 1) / HPAGE_PMD_NR) - 1;
  }

  private blockWhollyFree(b: number): boolean {
    const flags = this.store.flags;
    for (let pfn = b * HPAGE_PMD_NR; pfn < (b + 1) * HPAGE_PMD_NR; pfn++)
      if (!((flags[pfn] as number) & PG_buddy)) return false;
    return true;
  }

  /** Pops past stale entries, splitting a block freed whole when the stack runs dry. */
  private popSlow(): number {
    const flags = this.store.flags;
    for (;;) {
      if (this.top === 0) this.splitFreeBlock();
      const pfn = this.freeList[--this.top] as number;
      if ((flags[pfn] as number) & PG_buddy) return pfn;
    }
  }

  /**
   * The order-0 stack ran dry (only stale entries were left): split a block freed whole onto it
   * (expand() of an order-9 buddy). nrFree > 0 guarantees one: every free frame is either on the
   * stack or in a wholly free block that was freed whole.
   */
  private splitFreeBlock(): void {
    const s = this.store;
    for (;;) {
      const block = this.freeBlocks.pop();
      if (block === undefined) throw new KernelBug('page allocator: free pages on no free list');
      // Frames taken since (a stale stack entry popped, or the block taken whole) are skipped.
      const first = block * HPAGE_PMD_NR;
      for (let pfn = first + HPAGE_PMD_NR - 1; pfn >= first; pfn--)
        if ((s.flags[pfn] as number) & PG_buddy) this.freeList[this.top++] = pfn;
      if (this.top > 0) return;
    }
  }

  /** An order-0 free: onto the stack (dropping stale entries first if it is full). */
  private pushFree(pfn: number): void {
    if (this.top === this.freeList.length) this.compactFreeList();
    this.freeList[this.top++] = pfn;
    this.nrFree++;
  }

  /** Drops stale and duplicate entries, keeping the order of the rest (the topmost copy wins). */
  private compactFreeList(): void {
    const s = this.store;
    const seen = new Uint8Array(this.ramPages + 1);
    const kept: number[] = [];
    for (let i = this.top - 1; i >= 0; i--) {
      const pfn = this.freeList[i] as number;
      if (seen[pfn] || !((s.flags[pfn] as number) & PG_buddy)) continue;
      seen[pfn] = 1;
      kept.push(pfn);
    }
    this.top = kept.length;
    for (let i = 0; i < kept.length; i++) this.freeList[kept.length - 1 - i] = kept[i] as number;
  }

  /** free_unref_page after free_pages_check: the page must be unreferenced and unmapped. */
  freePage(pfn: number): void {
    const s = this.store;
    const flags = s.flags[pfn] as number;
    if (!this.isRam(pfn) || (flags & (PG_buddy | PG_reserved)) !== 0) {
      throw new KernelBug(`BUG: Bad page state: freeing pfn ${pfn} which is not an allocated RAM page`);
    }
    if (s.refcount[pfn] !== 0 || s.mapcount[pfn] !== 0 || (flags & PG_locked) !== 0) {
      throw new KernelBug(
        `BUG: Bad page state: pfn ${pfn} refcount ${s.refcount[pfn]} mapcount ${s.mapcount[pfn]}${
          flags & PG_locked ? ' locked' : ''
        }`,
      );
    }
    if (flags & PG_hugetlb) {
      this.releaseHugetlb(pfn);
      return;
    }
    if (flags & PG_head) {
      this.freeCompound(pfn);
      return;
    }
    this.uncharge(pfn);
    s.flags[pfn] = PG_buddy;
    s.mapping[pfn] = 0;
    s.index[pfn] = 0;
    this.dropContents(pfn);
    this.pushFree(pfn);
    this.freeCount++;
  }

  /** free_huge_folio: unmapped, back to the hugetlb pool (not the buddy) with its rmap cleared. */
  private releaseHugetlb(head: number): void {
    const s = this.store;
    if ((s.entireMapcount.get(head) ?? 0) !== 0)
      throw new KernelBug(`BUG: Bad page state: hugetlb pfn ${head} freed while mapped`);
    for (let pfn = head; pfn < head + HPAGE_PMD_NR; pfn++) {
      s.flags[pfn] = pfn === head ? PG_head | PG_hugetlb : PG_tail;
      s.mapping[pfn] = 0;
      s.index[pfn] = 0;
      this.dropContents(pfn);
    }
    this.freeHugetlbFolio(head);
  }

  /** free_compound_page: every frame must be unmapped; the folio's charge (512 pages) goes too. */
  private freeCompound(head: number): void {
    const s = this.store;
    if ((s.entireMapcount.get(head) ?? 0) !== 0)
      throw new KernelBug(`BUG: Bad page state: compound pfn ${head} freed while PMD-mapped`);
    for (let pfn = head + 1; pfn < head + HPAGE_PMD_NR; pfn++) {
      if (s.mapcount[pfn] !== 0 || s.refcount[pfn] !== 0 || !((s.flags[pfn] as number) & PG_tail))
        throw new KernelBug(
          `BUG: Bad page state: tail pfn ${pfn} of ${head} refcount ${s.refcount[pfn]} mapcount ${s.mapcount[pfn]}`,
        );
    }
    this.uncharge(head);
    s.entireMapcount.delete(head);
    for (let pfn = head; pfn < head + HPAGE_PMD_NR; pfn++) {
      s.flags[pfn] = PG_buddy;
      s.mapping[pfn] = 0;
      s.index[pfn] = 0;
      this.dropContents(pfn);
    }
    this.nrFree += HPAGE_PMD_NR;
    this.freeBlocks.push(head >>> 9);
    this.freeCount += HPAGE_PMD_NR;
  }

  /** get_page (folio_get for a subpage of a compound page). */
  getPage(pfn: number): void {
    const s = this.store;
    if ((s.flags[pfn] as number) & PG_tail) pfn = s.compoundHead(pfn);
    if ((s.refcount[pfn] as number) <= 0) throw new KernelBug(`VM_BUG_ON_PAGE: get_page on free pfn ${pfn}`);
    s.refcount[pfn] = (s.refcount[pfn] as number) + 1;
  }

  /**
   * put_page: the last reference frees a RAM page. A ZONE_DEVICE page goes back to its driver when
   * its refcount drops to its pgmap's free refcount: 1 for the seed's hmm_devmem
   * (put_devmap_managed_page → page_free), 0 for today's pgmaps (free_zone_device_folio →
   * folio_free).
   */
  putPage(pfn: number): void {
    const s = this.store;
    if ((s.flags[pfn] as number) & PG_tail) pfn = s.compoundHead(pfn);
    const ref = (s.refcount[pfn] as number) - 1;
    if (s.zone[pfn] === ZONE_DEVICE) {
      this.putDevicePage(pfn, ref);
      return;
    }
    if (ref < 0) throw new KernelBug(`VM_BUG_ON_PAGE: page refcount underflow on pfn ${pfn}`);
    s.refcount[pfn] = ref;
    if (ref === 0) {
      if (pfn === ZERO_PFN) throw new KernelBug('VM_BUG_ON_PAGE: last reference to the zero page dropped');
      this.freePage(pfn);
    }
  }

  private putDevicePage(pfn: number, ref: number): void {
    const s = this.store;
    const pgmap = s.pgmapOf(pfn);
    const idle = pgmapFreeRefcount(pgmap);
    if (ref < idle) throw new KernelBug(`VM_BUG_ON_PAGE: page refcount underflow on pfn ${pfn}`);
    s.refcount[pfn] = ref;
    if (ref !== idle) return;
    if (s.mapcount[pfn] !== 0)
      throw new KernelBug(`BUG: Bad page state: device pfn ${pfn} freed while mapped`);
    this.uncharge(pfn);
    s.mapping[pfn] = 0;
    s.index[pfn] = 0;
    // The folio keeps its order: the driver's folio_free reads it (folio_order).
    s.flags[pfn] = PG_reserved | ((s.flags[pfn] as number) & PG_head);
    if (pgmap?.ops !== undefined) pgmap.ops.folioFree(pfn);
    else pgmap?.pageFree?.(pfn);
    if (pgmap !== undefined) this.pgmapWaitqueues.get(pgmap)?.wakeUpAll();
  }

  /** Where memunmap_pages sleeps until every page of `pgmap` is free (free_zone_device_folio wakes it). */
  pgmapWaitqueue(pgmap: DevPagemap): WaitQueue {
    let wq = this.pgmapWaitqueues.get(pgmap);
    if (wq === undefined) {
      wq = new WaitQueue('pgmap->done');
      this.pgmapWaitqueues.set(pgmap, wq);
    }
    return wq;
  }

  /** mem_cgroup_try_charge + commit for a newly allocated page. */
  charge(pfn: number, memcgId: number): boolean {
    const cg = this.memcgs.get(memcgId);
    if (cg === undefined) throw new KernelBug(`memcg: no cgroup ${memcgId}`);
    if (!cg.tryCharge(1)) return false;
    this.store.memcg[pfn] = memcgId;
    return true;
  }

  /** mem_cgroup_charge of a folio: 512 pages for a compound head. */
  chargeCompound(head: number, memcgId: number): boolean {
    const cg = this.memcgs.get(memcgId);
    if (cg === undefined) throw new KernelBug(`memcg: no cgroup ${memcgId}`);
    if (!cg.tryCharge(HPAGE_PMD_NR)) return false;
    this.store.memcg[head] = memcgId;
    return true;
  }

  /**
   * mem_cgroup_uncharge(): returns the page's charge (a whole THP for a head) to its memcg; no-op if
   * uncharged.
   */
  uncharge(pfn: number): void {
    const id = this.store.memcg[pfn] as number;
    if (id === 0) return;
    this.memcgs.get(id)?.uncharge((this.store.flags[pfn] as number) & PG_head ? HPAGE_PMD_NR : 1);
    this.store.memcg[pfn] = 0;
  }

  /** mem_cgroup_migrate: the new page takes over the old page's charge (no new charge, no failure). */
  migrateCharge(oldPfn: number, newPfn: number): void {
    const s = this.store;
    s.memcg[newPfn] = s.memcg[oldPfn] as number;
    s.memcg[oldPfn] = 0;
  }

  // -- page lock ---------------------------------------------------------------------------------

  /** page_waitqueue(): the wait queue lock_page() sleeps on for `pfn`, created on first use. */
  pageWaitqueue(pfn: number): WaitQueue {
    let wq = this.pageWaitqueues.get(pfn);
    if (wq === undefined) {
      wq = new WaitQueue(`page_waitqueue(${pfn})`);
      this.pageWaitqueues.set(pfn, wq);
    }
    return wq;
  }

  /** trylock_page(): sets PG_locked and returns true, or false if the page is already locked. */
  trylockPage(pfn: number): boolean {
    const s = this.store;
    const f = s.flags[pfn] as number;
    if ((f & PG_locked) !== 0) return false;
    setPageFlags(s, pfn, PG_locked);
    return true;
  }

  /** lock_page(): sleeps until PG_locked can be taken. */
  *lockPage(pfn: number): Task {
    while (!this.trylockPage(pfn)) {
      yield* this.pageWaitqueue(pfn).waitEvent(() => !this.store.isLocked(pfn));
    }
  }

  /** unlock_page(): clears PG_locked and wakes the waiters; a KernelBug if it was not locked. */
  unlockPage(pfn: number): void {
    const s = this.store;
    const f = s.flags[pfn] as number;
    if ((f & PG_locked) === 0) throw new KernelBug(`VM_BUG_ON_PAGE: unlock_page of unlocked pfn ${pfn}`);
    clearPageFlags(s, pfn, PG_locked);
    this.pageWaitqueues.get(pfn)?.wakeUpAll();
  }

  /** wait_on_page_locked: used by a fault that finds a migration entry (migration_entry_wait). */
  *waitOnPageLocked(pfn: number): Task {
    if (!this.store.isLocked(pfn)) return;
    yield* this.pageWaitqueue(pfn).waitEvent(() => !this.store.isLocked(pfn));
  }

  // -- contents ----------------------------------------------------------------------------------

  /**
   * The page's bytes for writing (allocated on first write). Without contents every page shares one
   * scratch page that nothing reads (reads see zeros), so a store allocates nothing.
   */
  pageBytes(pfn: number): Uint8Array {
    if (!this.contentsEnabled) return discarded;
    const s = this.store;
    let b = s.contents[pfn];
    if (b === undefined) {
      b = this.usedBuffer()?.fill(0) ?? new Uint8Array(PAGE_BYTES);
      if (pfn !== ZERO_PFN) s.contents[pfn] = b;
    }
    return b;
  }

  /** Copies `len` bytes at `offset` of page `pfn` into `dst`; a page never written reads as zeros. */
  readBytes(pfn: number, offset: number, dst: Uint8Array, dstOffset: number, len: number): void {
    const b = this.store.contents[pfn];
    if (b === undefined) dst.fill(0, dstOffset, dstOffset + len);
    else dst.set(b.subarray(offset, offset + len), dstOffset);
  }

  /**
   * Copies `len` bytes of `src` into page `pfn` at `offset`; a KernelBug on the zero page, a no-op without
   * contents.
   */
  writeBytes(pfn: number, offset: number, src: Uint8Array, srcOffset: number, len: number): void {
    if (pfn === ZERO_PFN) throw new KernelBug('BUG: write to the shared zero page');
    if (!this.contentsEnabled) return;
    this.pageBytes(pfn).set(src.subarray(srcOffset, srcOffset + len), offset);
  }

  /** copy_highpage (the DMA engine and COW both use it). */
  copyPage(dstPfn: number, srcPfn: number): void {
    if (!this.contentsEnabled) return; // nothing is kept, so nothing to copy or drop
    const src = this.store.contents[srcPfn];
    if (src === undefined) {
      this.store.contents[dstPfn] = undefined;
      return;
    }
    const dst = this.store.contents[dstPfn];
    if (dst !== undefined) dst.set(src);
    else {
      const b = this.usedBuffer();
      if (b === undefined) this.store.contents[dstPfn] = src.slice();
      else {
        b.set(src);
        this.store.contents[dstPfn] = b;
      }
    }
  }

  /** clear_highpage. */
  clearPage(pfn: number): void {
    this.dropContents(pfn);
  }

  /** Host storage of pages that were freed or cleared, reused before allocating more. */
  private readonly spare: Uint8Array[] = [];

  /**
   * A page buffer used before (this machine's, else a released machine's), not zeroed, or
   * undefined: a fresh 4 KiB one costs ~5 µs off the JS heap (core/host_arrays.ts).
   */
  private usedBuffer(): Uint8Array | undefined {
    return this.spare.pop() ?? pagePool.pop();
  }

  /**
   * Discards the machine's memory: page contents go to a pool the next machines allocate from, the
   * page store's arrays to the next store of the same size, and `arrays` to the next machines. The caller promises that nothing of
   * this machine is used again (the explorer builds and discards one per schedule).
   */
  release(): void {
    const pool = pagePool;
    for (const b of this.store.contents) if (b !== undefined && pool.length < PAGE_POOL_MAX) pool.push(b);
    for (const b of this.spare) if (pool.length < PAGE_POOL_MAX) pool.push(b);
    this.spare.length = 0;
    this.store.release();
    this.arrays.release();
  }

  private dropContents(pfn: number): void {
    const b = this.store.contents[pfn];
    if (b === undefined) return;
    this.store.contents[pfn] = undefined;
    if (this.spare.length < SPARE_BUFFERS_MAX) this.spare.push(b);
  }
}
