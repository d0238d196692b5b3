/**
 * struct page, for every frame of the simulated machine, in typed arrays indexed by pfn
 * (DESIGN decision 4). Reading one field of one page is one array load, so the hot paths
 * (fault-in, zap, walk) never allocate.
 *
 * pfn layout: pfn 0 is the shared zero page, RAM is pfns 1..ramPages, and each device-memory
 * region (ZONE_DEVICE) gets a section-aligned pfn range of its own above RAM, as memremap_pages
 * hot-plugs device memory into a range no RAM uses.
 *
 * Divergence: the kernel's _mapcount starts at -1; `mapcount` here counts mappings directly
 * (page_mapcount()), and `refcount` is page_count().
 *
 * Compound pages (folios) are order 9 only, 512 physically contiguous frames starting at a pfn
 * aligned to 512, so compound_head(tail) is arithmetic: the tail flag says "round down to 512".
 * As a folio in today's kernel (include/linux/mm_types.h, struct folio, v6.19): the refcount lives
 * on the head (tails stay 0; get_page/put_page on a tail go to the head), each subpage's
 * `mapcount` counts its PTE mappings, and `entireMapcount` (folio->_entire_mapcount) counts the
 * PMD mappings of the whole folio. A memcg charge of a folio is recorded on the head and is worth
 * 512 pages.
 *
 * @see include/linux/mm_types.h, include/linux/page-flags.h (Linux v5.3)
 */

import { ArgumentError } from '../core/errno.js';

/** Page flags (the model's subset of enum pageflags). */
export const PG_locked = 1 << 0;
/** PageUptodate: the page's contents are valid (read in or zero-filled). */
export const PG_uptodate = 1 << 1;
/** PageDirty: written since it was last cleaned. */
export const PG_dirty = 1 << 2;
/** PageLRU: on an LRU list, where reclaim can find it. */
export const PG_lru = 1 << 3;
/** PageAnon: the kernel sets PAGE_MAPPING_ANON in page->mapping; the model keeps a flag. */
export const PG_anon = 1 << 4;
/** PageSwapBacked: anonymous and shmem pages. */
export const PG_swapbacked = 1 << 5;
/** PageReserved: never freed or reclaimed (the zero page). */
export const PG_reserved = 1 << 6;
/** PageBuddy: the page is on the allocator's free list. */
export const PG_buddy = 1 << 7;
/** Taken off the LRU for migration (isolate_lru_page). */
export const PG_isolated = 1 << 8;
/** PageAnonExclusive (v5.19): this anonymous page is mapped by one process only and may be reused by COW. */
export const PG_anon_exclusive = 1 << 9;

/**
 * What a FOLL_PIN adds to a small page's refcount, so one counter tells pins from plain references.
 * @see include/linux/mm.h GUP_PIN_COUNTING_BIAS (Linux v5.7+)
 */
export const GUP_PIN_COUNTING_BIAS = 1024;

/**
 * Page-flag writes go through these two, never through `flags[pfn] = flags[pfn] | ...` by hand.
 * Convention: the kernel's SetPageX / ClearPageX / __SetPageX / folio_set_x(page) is
 * `setPageFlags(s, pfn, PG_x)` / `clearPageFlags(s, pfn, PG_x)`, with any mask of PG_ bits (one
 * call where the kernel sets several flags in a row). Whole-word stores stay direct: the allocator
 * initialising a frame (PG_buddy, PG_head, 0) sets the word, not a bit.
 * @see include/linux/page-flags.h (Linux v5.3)
 */
export function setPageFlags(s: PageStore, pfn: number, mask: number): void {
  s.flags[pfn] = (s.flags[pfn] as number) | mask;
}

/** Clears the PG_* bits of `mask` on `pfn` (ClearPage*). */
export function clearPageFlags(s: PageStore, pfn: number, mask: number): void {
  s.flags[pfn] = (s.flags[pfn] as number) & ~mask;
}

/**
 * page_maybe_dma_pinned: a refcount of at least the bias means a pin is probably held (1024 plain
 * references give a false positive, as in the kernel). A THP's pins count on its head's refcount:
 * the kernel keeps a separate _pincount for large folios (docs/fidelity.md).
 * @see include/linux/mm.h folio_maybe_dma_pinned (Linux v6.19)
 */
export function pageMaybeDmaPinned(s: PageStore, pfn: number): boolean {
  return (s.refcount[s.compoundHead(pfn)] as number) >= GUP_PIN_COUNTING_BIAS;
}

/** PageAnonExclusive. */
export function pageAnonExclusive(s: PageStore, pfn: number): boolean {
  return ((s.flags[pfn] as number) & PG_anon_exclusive) !== 0;
}

/** PageAnon && !PageSwapBacked: MADV_FREE made the page lazyfree (folio_mark_lazyfree). */
export function pageLazyfree(s: PageStore, pfn: number): boolean {
  return ((s.flags[pfn] as number) & (PG_anon | PG_swapbacked | PG_buddy)) === PG_anon;
}

/** PageHead / PageTail of a compound page (the kernel keeps them in flags and page->compound_head). */
export const PG_head = 1 << 10;
/** PageTail: a tail page of a compound page; its head is the 512-aligned pfn below. */
export const PG_tail = 1 << 11;
/** PageHuge: a hugetlbfs folio (its head; the pool owns it while its refcount is 0). */
export const PG_hugetlb = 1 << 12;

/** The one compound order the model has: a PMD's worth of pages (HPAGE_PMD_ORDER on x86-64). */
export const HPAGE_PMD_ORDER = 9;
/** Base pages in a PMD-mapped huge page (512). */
export const HPAGE_PMD_NR = 2 ** HPAGE_PMD_ORDER;

/** The zone of ordinary RAM. */
export const ZONE_NORMAL = 0;
/** The zone of device memory hot-plugged by memremap_pages (no LRU, no buddy allocator). */
export const ZONE_DEVICE = 1;

/** The shared zero page (ZERO_PAGE(0)). */
export const ZERO_PFN = 0;
/**
 * The largest RAM a machine may have, in pages (2^26 = 256 GiB), checked in one place,
 * checkRamPages (page_alloc.ts), whichever way the size comes in (PhysMem, the Simulator's options).
 */
export const RAM_PAGES_MAX = 2 ** 26;
/** Pages per memory section on x86-64 (PA_SECTION_SIZE = 128 MiB). */
export const PAGES_PER_SECTION = 2 ** 15;

/** `pages` rounded up to whole sections of `sectionPages`: memory is present and hot-plugged by section. */
export function sectionAlign(pages: number, sectionPages = PAGES_PER_SECTION): number {
  return Math.ceil(pages / sectionPages) * sectionPages;
}

/** dev_pagemap type: device memory the CPU cannot access (it faults to migrate back). */
export const MEMORY_DEVICE_PRIVATE = 1;
/** dev_pagemap type: device memory the CPU can access coherently (v5.2 only; not modelled). */
export const MEMORY_DEVICE_PUBLIC = 2;
/**
 * dev_pagemap type: device memory the CPU can access coherently (v5.19+), mapped by ordinary
 * present PTEs. The kernel's enum memory_type numbers it 2, the value v5.2's MEMORY_DEVICE_PUBLIC
 * had; both generations live in one model, so the model's numbering is its own here: 3.
 * @see include/linux/memremap.h enum memory_type (Linux v6.19)
 */
export const MEMORY_DEVICE_COHERENT = 3;

/**
 * Today's struct dev_pagemap_ops, the members a device-private or device-coherent pgmap of the
 * model has. Both run in the mm core's context: `folioFree` inside the put that dropped the last
 * reference (it must not sleep), `migrateToRam` from do_swap_page with the faulting page locked and
 * referenced by the core (it may sleep).
 * @see include/linux/memremap.h struct dev_pagemap_ops (Linux v6.19)
 */
export interface DevPagemapOps {
  /** folio_free (page_free before v6.19): the page's refcount reached 0; the driver owns it again. */
  folioFree(pfn: number): void;
  /** migrate_to_ram: the CPU touched a device-private entry; returns a VM_FAULT_* code. */
  migrateToRam?(vmf: DevFault): Generator<string, number, unknown> | number;
  /** folio_split (v6.19): a large device folio was split; `tail` is a new order-0 folio of `head`'s. */
  folioSplit?(head: number, tail: number): void;
}

/**
 * The interface mm defines for ZONE_DEVICE memory (struct dev_pagemap), in two generations that
 * share one model:
 *
 * - the seed's (hmm_devmem, v5.3): `pageFree` and `fault`, no `ops`. Its pages idle at refcount 1:
 *   mm calls `pageFree` when a device page's refcount drops back to 1, `fault` when the CPU touches
 *   a device-private entry;
 * - today's (memremapPages, src/mm/memremap.ts, v6.19): `ops`. A free page has refcount 0,
 *   zone_device_page_init gives it 1, the last put calls `ops.folioFree` (free_zone_device_folio)
 *   and the CPU fault calls `ops.migrateToRam` with the page locked.
 *
 * `pgmapFreeRefcount` says which rule a pgmap follows.
 *
 * @see include/linux/memremap.h (Linux v5.3 dev_pagemap_ops.page_free; v6.19 struct dev_pagemap)
 */
export interface DevPagemap {
  /** MEMORY_DEVICE_PRIVATE, MEMORY_DEVICE_PUBLIC or MEMORY_DEVICE_COHERENT. */
  readonly type: number;
  /**
   * dev_pagemap.owner (v5.7): who the memory belongs to, so hmm_range_fault and migrate_vma can tell
   * a driver's own device-private pages from another's. The seed's hmm_devmem has none (undefined).
   */
  readonly owner?: unknown;
  /** First pfn of the region. */
  pfnFirst: number;
  /** One past the last pfn of the region. */
  pfnLast: number;
  /** dev_pagemap_ops.page_free (v5.3) / hmm_devmem_ops.free via hmm_devmem_free (v5.2): the seed's. */
  pageFree?(pfn: number): void;
  /**
   * The seed's CPU fault on a device-private entry (do_swap_page → device_private_entry_fault).
   * Runs with mmap_sem held for read; returns a VM_FAULT_* code. It may sleep, so it is a generator.
   */
  fault?(vmf: DevFault): Generator<string, number, unknown>;
  /** Today's dev_pagemap_ops; a pgmap with ops follows today's refcount rule. */
  readonly ops?: DevPagemapOps;
}

/**
 * The refcount of a free page of `pgmap`: 1 for the seed's (v5.3: ZONE_DEVICE pages idled at 1 and
 * page_free ran at 1), 0 for today's (since "mm: remove the extra ZONE_DEVICE struct page
 * refcount", v5.19, commit 27674ef6c73f).
 */
export function pgmapFreeRefcount(pgmap: DevPagemap | undefined): number {
  return pgmap?.ops === undefined ? 1 : 0;
}

/** What the device fault callback is told (the fields of struct vm_fault hmm's callback uses). */
export interface DevFault {
  /** The faulting mm. */
  readonly mm: unknown;
  /** The faulting VMA. */
  readonly vma: unknown;
  /** The faulting address. */
  readonly address: number;
  /** The device page the entry points at (today's vmf->page: locked and referenced by the core). */
  readonly pfn: number;
  /** FAULT_FLAG_* of the fault. */
  readonly flags: number;
  /** True when a device-private PMD faulted (do_huge_pmd_device_private: vmf->pte is NULL). */
  readonly pmd?: boolean;
}

/** Bytes of per-pfn arrays: index (8), flags, refcount, mapcount, mapping, memcg, pgmapSlot (4 each), zone (1). */
const BYTES_PER_PFN = 33;
/** Buffers of released stores, by size in pfns (PageStore.release). */
const storeSpares = new Map<number, ArrayBuffer[]>();
const STORE_SPARES_MAX = 4;

function storeBuffer(size: number): ArrayBuffer {
  const b = storeSpares.get(size)?.pop();
  if (b === undefined) return new ArrayBuffer(size * BYTES_PER_PFN);
  new Uint8Array(b).fill(0);
  return b;
}

/** What a released store's arrays become: empty, and the same for every released store. */
const RELEASED = {
  buffer: new ArrayBuffer(0),
  index: new Float64Array(0),
  flags: new Uint32Array(0),
  refcount: new Int32Array(0),
  mapcount: new Int32Array(0),
  mapping: new Int32Array(0),
  memcg: new Int32Array(0),
  pgmapSlot: new Int32Array(0),
  zone: new Uint8Array(0),
};

function spareStoreBuffer(b: ArrayBuffer): void {
  const size = b.byteLength / BYTES_PER_PFN;
  if (size === 0) return;
  let list = storeSpares.get(size);
  if (list === undefined) {
    list = [];
    storeSpares.set(size, list);
  }
  if (list.length < STORE_SPARES_MAX) list.push(b);
}

/**
 * The struct page array (mem_map) as parallel typed arrays indexed by pfn: flags, counts, mapping, zone
 * and contents. @see include/linux/mm_types.h (struct page)
 */
export class PageStore {
  /** page->flags by pfn: the PG_* bits. */
  flags!: Uint32Array;
  /** page->_refcount by pfn: 0 means free. */
  refcount!: Int32Array;
  /** Page-table mappings of each pfn (page_mapcount(); the kernel stores it biased by -1). */
  mapcount!: Int32Array;
  /** Id of the owning anon_vma or address_space (0 = none). */
  mapping!: Int32Array;
  /** page->index: offset in the file, or the linear page index for anonymous pages. */
  index!: Float64Array;
  /** Id of the memcg the page is charged to (0 = uncharged). */
  memcg!: Int32Array;
  /** The zone of each pfn (ZONE_NORMAL, ZONE_DEVICE, ...). */
  zone!: Uint8Array;
  /** Slot in `pgmaps` for ZONE_DEVICE pages (0 = none). */
  pgmapSlot!: Int32Array;
  /** Page contents, stored lazily: undefined reads as zeros. */
  contents: (Uint8Array | undefined)[];
  /** The registered dev_pagemaps, indexed by pgmapSlot; slot 0 is unused. */
  readonly pgmaps: (DevPagemap | undefined)[] = [undefined];
  /** Per-page driver data (hmm_devmem_page_set_drvdata / page->zone_device_data). */
  readonly drvdata = new Map<number, unknown>();
  /** folio->_entire_mapcount by head pfn: PMD mappings of the compound page (absent = 0). */
  readonly entireMapcount = new Map<number, number>();
  /** Number of pfns the arrays cover. */
  size: number;
  /** Memory hot-plug granularity in pages (PAGES_PER_SECTION unless the machine says otherwise). */
  readonly sectionPages: number;

  /** The one buffer every per-pfn array is a view of (see carve). */
  private buffer: ArrayBuffer;
  /** Pfns the buffer has room for: up to here, growing re-carves the views and copies nothing. */
  private capacity: number;

  /** False on a machine without page contents: `contents` stays empty, every entry reads undefined. */
  private readonly keepsContents: boolean;

  /**
   * `capacity` (default `size`) reserves room for pfns to be hot-plugged later (the machine's device
   * memory): growing within it copies nothing, and the room costs no memory until it is written.
   * `contents` false: the machine keeps no page contents, so `contents` holds nothing (and must
   * never be written).
   */
  constructor(size: number, sectionPages = PAGES_PER_SECTION, capacity = size, contents = true) {
    this.size = size;
    this.sectionPages = sectionPages;
    this.capacity = Math.max(size, capacity);
    this.keepsContents = contents;
    this.buffer = storeBuffer(this.capacity);
    this.carve(size);
    this.contents = contents ? new Array<Uint8Array | undefined>(size).fill(undefined) : [];
  }

  /**
   * Points every per-pfn array at its part of this.buffer (Float64 first, for alignment): `size`
   * pfns of each, at offsets set by the capacity, so that a larger size keeps every value in place.
   */
  private carve(size: number): void {
    const b = this.buffer;
    const cap = this.capacity;
    let off = 0;
    this.index = new Float64Array(b, off, size);
    off += 8 * cap;
    this.flags = new Uint32Array(b, off, size);
    off += 4 * cap;
    this.refcount = new Int32Array(b, off, size);
    off += 4 * cap;
    this.mapcount = new Int32Array(b, off, size);
    off += 4 * cap;
    this.mapping = new Int32Array(b, off, size);
    off += 4 * cap;
    this.memcg = new Int32Array(b, off, size);
    off += 4 * cap;
    this.pgmapSlot = new Int32Array(b, off, size);
    off += 4 * cap;
    this.zone = new Uint8Array(b, off, size);
  }

  /** Extends the arrays to cover `size` pfns (memory hot-plug of a device region). */
  grow(size: number): void {
    if (size <= this.size) return;
    // holes read as undefined, as the pushed undefineds did; one allocation, not a push per pfn
    if (this.keepsContents) this.contents.length = size;
    if (size <= this.capacity) {
      this.carve(size);
      this.size = size;
      return;
    }
    const old = {
      index: this.index,
      flags: this.flags,
      refcount: this.refcount,
      mapcount: this.mapcount,
      mapping: this.mapping,
      memcg: this.memcg,
      pgmapSlot: this.pgmapSlot,
      zone: this.zone,
    };
    const oldBuffer = this.buffer;
    this.capacity = size;
    this.buffer = storeBuffer(size);
    this.carve(size);
    this.index.set(old.index);
    this.flags.set(old.flags);
    this.refcount.set(old.refcount);
    this.mapcount.set(old.mapcount);
    this.mapping.set(old.mapping);
    this.memcg.set(old.memcg);
    this.pgmapSlot.set(old.pgmapSlot);
    this.zone.set(old.zone);
    spareStoreBuffer(oldBuffer);
    this.size = size;
  }

  /**
   * Gives the arrays' buffer to the next store of the same size (zeroed then); the store is empty
   * afterwards. The caller promises its machine is never used again (PhysMem.release).
   */
  release(): void {
    spareStoreBuffer(this.buffer);
    this.buffer = RELEASED.buffer;
    this.capacity = 0;
    this.size = 0;
    // empty views shared by every released store: the buffer now belongs to the next machine
    this.index = RELEASED.index;
    this.flags = RELEASED.flags;
    this.refcount = RELEASED.refcount;
    this.mapcount = RELEASED.mapcount;
    this.mapping = RELEASED.mapping;
    this.memcg = RELEASED.memcg;
    this.pgmapSlot = RELEASED.pgmapSlot;
    this.zone = RELEASED.zone;
    this.contents = [];
  }

  /** pfn_valid(): whether `pfn` has a struct page here. */
  isValidPfn(pfn: number): boolean {
    return Number.isInteger(pfn) && pfn >= 0 && pfn < this.size;
  }

  /** ArgumentError naming `argument` unless `pfn` has a struct page. */
  checkPfn(pfn: number, argument = 'pfn'): void {
    if (!this.isValidPfn(pfn)) throw new ArgumentError(argument, `no struct page for pfn ${pfn}`);
  }

  /** is_zone_device_page(): the pfn belongs to a dev_pagemap. */
  isZoneDevice(pfn: number): boolean {
    return this.zone[pfn] === ZONE_DEVICE;
  }

  /** page->pgmap: the dev_pagemap of a ZONE_DEVICE pfn, undefined for normal pages. */
  pgmapOf(pfn: number): DevPagemap | undefined {
    return this.pgmaps[this.pgmapSlot[pfn] as number];
  }

  /** is_device_private_page(). */
  isDevicePrivate(pfn: number): boolean {
    return this.zone[pfn] === ZONE_DEVICE && this.pgmapOf(pfn)?.type === MEMORY_DEVICE_PRIVATE;
  }

  /** is_device_coherent_page(). */
  isDeviceCoherent(pfn: number): boolean {
    return this.zone[pfn] === ZONE_DEVICE && this.pgmapOf(pfn)?.type === MEMORY_DEVICE_COHERENT;
  }

  /** is_device_public_page(): a CPU-addressable device page (MEMORY_DEVICE_PUBLIC, v5.3 only). */
  isDevicePublic(pfn: number): boolean {
    return this.zone[pfn] === ZONE_DEVICE && this.pgmapOf(pfn)?.type === MEMORY_DEVICE_PUBLIC;
  }

  /** PageAnon(): the page belongs to an anon_vma, not a file. */
  isAnon(pfn: number): boolean {
    return ((this.flags[pfn] as number) & PG_anon) !== 0;
  }

  /** compound_head: the head of the compound page `pfn` belongs to (itself if not a tail). */
  compoundHead(pfn: number): number {
    return ((this.flags[pfn] as number) & PG_tail) !== 0 ? pfn - (pfn % HPAGE_PMD_NR) : pfn;
  }

  /** PageCompound: head or tail of a compound page. */
  isCompound(pfn: number): boolean {
    return ((this.flags[pfn] as number) & (PG_head | PG_tail)) !== 0;
  }

  /** compound_order of a head (0 for a small page). */
  compoundOrder(pfn: number): number {
    return ((this.flags[pfn] as number) & PG_head) !== 0 ? HPAGE_PMD_ORDER : 0;
  }

  /** folio_entire_mapcount of the folio `pfn` belongs to. */
  entireMapcountOf(pfn: number): number {
    if (!this.isCompound(pfn)) return 0;
    return this.entireMapcount.get(this.compoundHead(pfn)) ?? 0;
  }

  /** page_mapcount: this page's PTE mappings plus the PMD mappings of its whole folio. */
  pageMapcount(pfn: number): number {
    return (this.mapcount[pfn] as number) + this.entireMapcountOf(pfn);
  }

  /** folio_mapcount of a compound page: its PMD mappings plus every subpage's PTE mappings. */
  folioMapcount(head: number): number {
    let n = this.entireMapcount.get(head) ?? 0;
    for (let i = 0; i < HPAGE_PMD_NR; i++) n += this.mapcount[head + i] as number;
    return n;
  }

  /** PageLocked(): PG_locked is set. */
  isLocked(pfn: number): boolean {
    return ((this.flags[pfn] as number) & PG_locked) !== 0;
  }

  /**
   * Hot-plugs `npages` of ZONE_DEVICE memory in a section-aligned range above everything present,
   * as devm_memremap_pages does. Returns the first pfn.
   */
  addDeviceRegion(npages: number, pgmap: DevPagemap): number {
    const first = this.nextDeviceRegion();
    this.addDeviceRegionAt(first, npages, pgmap);
    return first;
  }

  /** The first pfn of the next section-aligned region above everything present. */
  nextDeviceRegion(): number {
    return sectionAlign(this.size, this.sectionPages);
  }

  /**
   * Hot-plugs `npages` of ZONE_DEVICE memory at `first` (memmap_init_zone_device): every page starts
   * free, at its pgmap's free refcount (pgmapFreeRefcount).
   */
  addDeviceRegionAt(first: number, npages: number, pgmap: DevPagemap): void {
    this.grow(Math.max(this.size, sectionAlign(first + npages, this.sectionPages)));
    const slot = this.pgmaps.length;
    this.pgmaps.push(pgmap);
    const idle = pgmapFreeRefcount(pgmap);
    const end = first + npages;
    this.zone.fill(ZONE_DEVICE, first, end);
    this.pgmapSlot.fill(slot, first, end);
    this.refcount.fill(idle, first, end);
    this.flags.fill(PG_reserved, first, end);
    pgmap.pfnFirst = first;
    pgmap.pfnLast = first + npages;
  }
}
