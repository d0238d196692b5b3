/**
 * struct dmirror_device of today's test_hmm: one simulated device and the memory it hot-plugs —
 * MEMORY_DEVICE_PRIVATE (the CPU cannot map it) or MEMORY_DEVICE_COHERENT (the CPU maps it with
 * ordinary PTEs) — with the free list, the allocation counters and its dev_pagemap_ops:
 * `folioFree` (dmirror_devmem_free) takes a page back at refcount 0, `migrateToRam`
 * (dmirror_devmem_fault, in migrate.ts) moves the page the CPU touched back to system memory.
 *
 * Divergences from lib/test_hmm.c (docs/fidelity.md, "Today's API: device memory and migration"):
 * the device has real memory, so a device page's data lives in that page's own frame and its
 * zone_device_data points at the dmirror (test_hmm backs each private page with a system page,
 * whose zone_device_data points at the dmirror). The memory is one chunk of the device's
 * `memoryPages`, added at creation and again on the first allocation after HMM_DMIRROR_RELEASE
 * removed it (test_hmm grows it in 256 MiB chunks, on demand). The physical range of a coherent
 * chunk comes from request_free_mem_region too (test_hmm takes it from the spm_addr_dev0/1
 * module parameters).
 *
 * @see lib/test_hmm.c (Linux v6.19: struct dmirror_device, struct dmirror_chunk,
 *      dmirror_allocate_chunk, dmirror_devmem_alloc_page, dmirror_devmem_free,
 *      dmirror_device_evict_chunk, dmirror_device_remove_chunks)
 */

import { PAGE_SIZE } from '../../core/addr.js';
import { KernelBug } from '../../core/assert.js';
import { SimDevice, type SimDeviceOptions } from '../../device/device.js';
import type { Kernel } from '../../mm/kernel.js';
import type { MemremapPagemap } from '../../mm/memremap.js';
import {
  memremapPages,
  memunmapPages,
  pageZoneDeviceData,
  requestFreeMemRegion,
  setPageZoneDeviceData,
  zoneDeviceFolioInit,
  zoneDevicePageInit,
} from '../../mm/memremap.js';
import {
  MIGRATE_PFN_MIGRATE,
  migratePfn,
  migratePfnFlags,
  migratePfnSet,
  migratePfnToPage,
} from '../../mm/migrate.js';
import {
  MIGRATE_PFN_COMPOUND,
  migrateDeviceFinalize,
  migrateDevicePages,
  migrateDeviceRange,
} from '../../mm/migrate_device.js';
import type { DevFault } from '../../mm/page.js';
import {
  HPAGE_PMD_NR,
  HPAGE_PMD_ORDER,
  MEMORY_DEVICE_COHERENT,
  MEMORY_DEVICE_PRIVATE,
  PG_head,
  PG_reserved,
} from '../../mm/page.js';
import { kfree, kmallocMember, kzalloc } from '../../mm/slab.js';
import { policyCpuFault, policySink } from '../../policy/events.js';
import type { Task } from '../../sched/index.js';
import { SpinLock } from '../../sched/index.js';
import type { TestHmmDmirror } from './dmirror.js';
import { dmirrorDevmemFault } from './migrate.js';
import type { DeviceMemoryKind } from './uapi.js';
import { HMM_DMIRROR_MEMORY_DEVICE_COHERENT, HMM_DMIRROR_MEMORY_DEVICE_PRIVATE } from './uapi.js';

/** struct dmirror_chunk: one memremap'd region of the device's memory. */
export interface DmirrorChunk {
  /** chunk->pagemap, owner = the device. */
  readonly pagemap: MemremapPagemap;
  /** chunk->remove: set while the chunk is torn down, so freed pages do not go back to the list. */
  remove: boolean;
}

/** One simulated device of today's test_hmm (struct dmirror_device): see the file comment. */
export class TestHmmDevice {
  /** The machine's kernel, whose memory the device's pages are added to. */
  readonly kernel: Kernel;
  /** The hardware: memory size, DMA engine, counters, cost clock. */
  readonly device: SimDevice;
  /** HMM_DMIRROR_MEMORY_DEVICE_PRIVATE or HMM_DMIRROR_MEMORY_DEVICE_COHERENT. */
  readonly zoneDeviceType: number;
  /** mdevice->devmem_chunks (devmem_count of them). */
  chunks: DmirrorChunk[] = [];
  /** Pages handed out (mdevice->calloc). */
  calloc = 0;
  /** Pages taken back by dmirror_devmem_free (mdevice->cfree). */
  cfree = 0;
  /** mdevice->lock: guards the free list and the counters. */
  readonly lock: SpinLock;
  /** mdevice->free_pages, LIFO as the kernel's list through zone_device_data. */
  private freePages: number[] = [];
  /** mdevice->free_folios (v6.19): heads of free 512-page aligned folios, LIFO. */
  private freeFolios: number[] = [];
  /** Contexts opened on this device, for ids. */
  private contexts = 0;
  private readonly memoryPages: number;

  constructor(
    kernel: Kernel,
    id: number,
    memoryPages: number,
    kind: DeviceMemoryKind,
    opts: SimDeviceOptions = {},
  ) {
    this.kernel = kernel;
    this.device = new SimDevice(id, memoryPages, kernel.mem, opts);
    this.memoryPages = memoryPages;
    this.lock = new SpinLock(`dmirror_device${id}.lock`);
    this.zoneDeviceType =
      kind === 'private' ? HMM_DMIRROR_MEMORY_DEVICE_PRIVATE : HMM_DMIRROR_MEMORY_DEVICE_COHERENT;
    // dmirror_device_init: build the free list of the first chunk.
    this.allocateChunk();
  }

  /** dmirror_is_private_zone. */
  get isPrivateZone(): boolean {
    return this.zoneDeviceType === HMM_DMIRROR_MEMORY_DEVICE_PRIVATE;
  }

  /** An id for a new context (open file) on this device. */
  newContextId(): number {
    return this.contexts++;
  }

  /** Free pages on the lists (a free folio counts its 512). */
  get freeCount(): number {
    return this.freePages.length + this.freeFolios.length * HPAGE_PMD_NR;
  }

  /** True if pfn is a page of one of this device's chunks (page->pgmap->owner == mdevice). */
  owns(pfn: number): boolean {
    const s = this.kernel.mem.store;
    return s.isValidPfn(pfn) && s.isZoneDevice(pfn) && s.pgmapOf(pfn)?.owner === this;
  }

  /**
   * dmirror_allocate_chunk: reserve and memremap a region of the device's size, of its type, with
   * the device as owner, and put every page on the free list. The kernel WARNs on a pgmap without
   * its ops or owner; ours always has them, so a failure here is the machine's (out of physical
   * range or struct pages): a KernelBug.
   */
  private allocateChunk(): DmirrorChunk {
    const range = requestFreeMemRegion(this.kernel, this.memoryPages * PAGE_SIZE);
    if (typeof range === 'number')
      throw new KernelBug(`test_hmm: request_free_mem_region failed with ${range}`);
    const pagemap: MemremapPagemap = {
      type: this.isPrivateZone ? MEMORY_DEVICE_PRIVATE : MEMORY_DEVICE_COHERENT,
      owner: this,
      range: { start: range.start, end: range.start + this.memoryPages * PAGE_SIZE - 1 },
      pfnFirst: 0,
      pfnLast: 0,
      ops: {
        folioFree: (pfn) => this.devmemFree(pfn),
        folioSplit: (head, tail) => this.devmemFolioSplit(head, tail),
        migrateToRam: (vmf: DevFault) => {
          // The owner's policy hears of it (UVM's thrashing detector counts it); the page goes back anyway.
          const owner = pageZoneDeviceData(this.kernel, vmf.pfn) as TestHmmDmirror | undefined;
          if (owner !== undefined)
            policyCpuFault(policySink(owner.pt.trace, this.device), owner.policy, vmf.address, vmf.pfn);
          return dmirrorDevmemFault(this, vmf);
        },
      },
    };
    // kzalloc(sizeof(*devmem)): the dev_pagemap is embedded in it (devmem->pagemap), so a page's
    // pgmap read after dmirror_device_remove_chunks' kfree is a use after free.
    const slab = this.kernel.slab;
    const name = () => this.device.name;
    const chunk: DmirrorChunk = kzalloc(
      slab,
      { pagemap, remove: false },
      'struct dmirror_chunk',
      'dmirror_allocate_chunk',
      name,
    );
    kmallocMember(slab, chunk, pagemap, 'pagemap');
    const first = memremapPages(this.kernel, chunk.pagemap);
    if (first < 0) throw new KernelBug(`test_hmm: memremap_pages failed with ${first}`);
    this.chunks.push(chunk);
    // Under mdevice->lock in the kernel; here one atomic step, which may also run at device
    // creation, outside any simulated thread (module init).
    // v6.19 builds a chunk of folios when a large allocation asks for it and of pages otherwise;
    // the model's one chunk has both: every aligned 512 pages a folio, the rest pages.
    for (let pfn = pagemap.pfnFirst; pfn < pagemap.pfnLast; ) {
      if (pfn % HPAGE_PMD_NR === 0 && pfn + HPAGE_PMD_NR <= pagemap.pfnLast) {
        this.freeFolios.push(pfn);
        pfn += HPAGE_PMD_NR;
      } else {
        this.freePages.push(pfn++);
      }
    }
    return chunk;
  }

  /**
   * dmirror_devmem_alloc_page (order 0): a free device page, initialised (zone_device_page_init:
   * refcount 1, locked), its zone_device_data the dmirror; or -1. With no chunk left (after
   * RELEASE) a new one is added, as dmirror_allocate_chunk does when the list runs dry.
   */
  allocPage(dmirror: TestHmmDmirror): number {
    this.lock.lock();
    if (this.freePages.length === 0) this.breakFolio();
    let pfn = this.freePages.pop();
    if (pfn !== undefined) this.calloc++;
    this.lock.unlock();
    if (pfn === undefined) {
      if (this.chunks.length > 0) return -1;
      this.allocateChunk();
      this.lock.lock();
      pfn = this.freePages.pop() as number;
      this.calloc++;
      this.lock.unlock();
    }
    zoneDevicePageInit(this.kernel, pfn);
    setPageZoneDeviceData(this.kernel, pfn, dmirror);
    return pfn;
  }

  /**
   * No free page left: a free folio's 512 pages become free pages (where test_hmm would add a new
   * chunk of pages: the model's device memory is the one chunk). Under mdevice->lock.
   */
  private breakFolio(): void {
    const head = this.freeFolios.pop();
    if (head === undefined) return;
    const s = this.kernel.mem.store;
    for (let pfn = head + HPAGE_PMD_NR - 1; pfn >= head; pfn--) {
      s.flags[pfn] = PG_reserved;
      this.freePages.push(pfn);
    }
  }

  /**
   * dmirror_devmem_alloc_page(dmirror, is_large = true): a free 512-page folio, initialised
   * (zone_device_folio_init of order 9: referenced, locked), its zone_device_data the dmirror; or
   * -1 with none free (the caller falls back to 512 pages). After HMM_DMIRROR_RELEASE a new chunk
   * is added first.
   */
  allocFolio(dmirror: TestHmmDmirror): number {
    if (this.chunks.length === 0) this.allocateChunk();
    this.lock.lock();
    const head = this.freeFolios.pop();
    if (head !== undefined) this.calloc += HPAGE_PMD_NR;
    this.lock.unlock();
    if (head === undefined) return -1;
    zoneDeviceFolioInit(this.kernel, head, HPAGE_PMD_ORDER);
    for (let i = 0; i < HPAGE_PMD_NR; i++) setPageZoneDeviceData(this.kernel, head + i, dmirror);
    return head;
  }

  /** Pages of the device's chunks not on the free lists: allocated and not yet given back. */
  get pagesInUse(): number {
    let total = 0;
    for (const c of this.chunks) total += c.pagemap.pfnLast - c.pagemap.pfnFirst;
    return total - this.freeCount;
  }

  /**
   * dmirror_devmem_folio_split (ops.folio_split): `tail` is a new order-0 folio of `head`'s; it
   * keeps the dmirror as its zone_device_data (test_hmm also splits the backing system folio).
   */
  private devmemFolioSplit(head: number, tail: number): void {
    setPageZoneDeviceData(this.kernel, tail, pageZoneDeviceData(this.kernel, head));
  }

  /**
   * dmirror_devmem_free (ops.folio_free): back on the free list, unless its chunk is being removed.
   * The page's contents go with its last user (nothing may read a free page, and its next user gets
   * a copy or zeroes first), so the host buffer is reused, as the seed's dmirror does.
   */
  private devmemFree(pfn: number): void {
    const s = this.kernel.mem.store;
    const large = ((s.flags[pfn] as number) & PG_head) !== 0;
    const nr = large ? HPAGE_PMD_NR : 1;
    for (let i = 0; i < nr; i++) this.kernel.mem.clearPage(pfn + i);
    this.lock.lock();
    const chunk = this.chunks.find((c) => c.pagemap === s.pgmapOf(pfn));
    if (chunk !== undefined && !chunk.remove) {
      this.cfree += nr;
      if (large) this.freeFolios.push(pfn);
      else this.freePages.push(pfn);
    }
    this.lock.unlock();
  }

  /**
   * dmirror_device_remove_chunks (HMM_DMIRROR_RELEASE): for each chunk, stop taking pages back,
   * drop its free pages from the list, evict the pages in use to system memory, memunmap it.
   */
  *removeChunks(): Task {
    for (const chunk of this.chunks) {
      this.lock.lock();
      chunk.remove = true;
      const { pfnFirst, pfnLast } = chunk.pagemap;
      this.freePages = this.freePages.filter((pfn) => pfn < pfnFirst || pfn >= pfnLast);
      this.freeFolios = this.freeFolios.filter((pfn) => pfn < pfnFirst || pfn >= pfnLast);
      this.lock.unlock();
      yield* this.evictChunk(chunk);
      yield* memunmapPages(this.kernel, chunk.pagemap);
      kfree(this.kernel.slab, chunk, 'dmirror_device_remove_chunks');
    }
    this.chunks = [];
    this.freePages = [];
    this.freeFolios = [];
  }

  /**
   * dmirror_fops_release's eviction since commit 744dd97752ef ("lib: test_hmm: evict device pages
   * on file close to avoid use-after-free", in 6.18.y stable): every chunk's pages in use, of any
   * opener, back to system memory, so none is left naming the dmirror about to be freed.
   */
  *evictChunks(): Task {
    for (const chunk of this.chunks) yield* this.evictChunk(chunk);
  }

  /** dmirror_device_evict_chunk: every page of the chunk in use, to system memory (evictRange). */
  private *evictChunk(chunk: DmirrorChunk): Task {
    const { pfnFirst, pfnLast } = chunk.pagemap;
    yield* this.evictRange(pfnFirst, pfnLast - pfnFirst);
  }

  /**
   * The eviction of dmirror_device_evict_chunk over the device pages [pfnFirst, pfnFirst + npages):
   * migrate_device_range, a system page for every page in use (alloc_page with __GFP_NOFAIL: the
   * model has no reclaim to wait on, so an empty RAM is a KernelBug), one DMA copy,
   * migrate_device_pages, migrate_device_finalize. Free pages are skipped. Returns the pages that
   * moved (a pinned one stays).
   * The svm engine evicts with it too (drivers/svm/modern.ts), as UVM evicts an HMM page by pfn.
   */
  *evictRange(pfnFirst: number, npages: number): Task<number> {
    const { kernel } = this;
    const src = kernel.mem.arrays.f64(npages);
    const dst = kernel.mem.arrays.f64(npages);
    yield* migrateDeviceRange(kernel, src, pfnFirst, npages);
    const dstPages: number[] = [];
    const srcPages: number[] = [];
    for (let i = 0; i < npages; i++) {
      const spage = migratePfnToPage(src[i] as number);
      if (spage < 0 || !(migratePfnFlags(src[i] as number) & MIGRATE_PFN_MIGRATE)) continue;
      const large = migratePfnFlags(src[i] as number) & MIGRATE_PFN_COMPOUND;
      const dpage = large ? kernel.mem.allocCompound() : kernel.mem.allocPage();
      if (dpage < 0) throw new KernelBug('test_hmm: evict_chunk: folio_alloc(__GFP_NOFAIL) found no memory');
      kernel.mem.trylockPage(dpage);
      dst[i] = migratePfnSet(migratePfn(dpage), large);
      for (let j = 0; j < (large ? HPAGE_PMD_NR : 1); j++) {
        dstPages.push(dpage + j);
        srcPages.push(spage + j);
      }
    }
    this.device.dma.submit(dstPages, srcPages);
    yield* migrateDevicePages(kernel, src, dst, npages);
    let moved = 0;
    for (let i = 0; i < npages; i++)
      if (migratePfnToPage(dst[i] as number) >= 0 && migratePfnFlags(src[i] as number) & MIGRATE_PFN_MIGRATE)
        moved++;
    migrateDeviceFinalize(kernel, src, dst, npages);
    this.device.counters.migratedToRam += dstPages.length;
    return moved;
  }
}
