/**
 * Today's ZONE_DEVICE memory: a driver reserves a physical range (request_free_mem_region), fills
 * a struct dev_pagemap (type MEMORY_DEVICE_PRIVATE or MEMORY_DEVICE_COHERENT, owner, ops) and
 * hot-plugs it with memremap_pages, which gives every page a struct page in ZONE_DEVICE.
 *
 * Refcounting as since v5.19 ("mm: remove the extra ZONE_DEVICE struct page refcount"): a free
 * device page has refcount 0; the driver's allocator hands one out with zone_device_page_init
 * (refcount 1, locked), and the put that drops the last reference calls free_zone_device_folio →
 * `ops.folioFree` (src/mm/page_alloc.ts putPage). The seed's hmm_devmem (src/hmm/seed/devmem.ts)
 * keeps v5.3's rule, free pages at refcount 1; `pgmapFreeRefcount` tells the two apart, per pgmap.
 *
 * Device-private pages are never CPU-mapped: they appear in page tables as device-private swap
 * entries, and a CPU access faults into `ops.migrateToRam` (mm/memory.c do_swap_page, src/mm/fault.ts).
 * Device-coherent pages are CPU-addressable: mapped by ordinary present PTEs, anonymous, on no LRU;
 * they are never pinned long-term (FOLL_LONGTERM migrates them out first, src/mm/gup.ts).
 *
 * memunmap_pages sleeps until the last page is freed, as the kernel does.
 *
 * The model hands out physical ranges itself: request_free_mem_region reserves the next
 * section-aligned range above everything present (the kernel searches iomem_resource top-down).
 *
 * @see mm/memremap.c, include/linux/memremap.h, kernel/resource.c request_free_mem_region (Linux v6.19)
 */

import { PAGE_SIZE } from '../core/addr.js';
import { KernelBug, KernelWarning } from '../core/assert.js';
import { ArgumentError, EINVAL, ENOMEM, ERANGE } from '../core/errno.js';
import type { Task } from '../sched/index.js';
import type { Kernel } from './kernel.js';
import type { DevPagemap, PageStore } from './page.js';
import {
  HPAGE_PMD_NR,
  HPAGE_PMD_ORDER,
  MEMORY_DEVICE_COHERENT,
  MEMORY_DEVICE_PRIVATE,
  PG_head,
  PG_locked,
  PG_reserved,
  PG_tail,
  sectionAlign,
  setPageFlags,
  ZONE_DEVICE,
  ZONE_NORMAL,
} from './page.js';

/** x86-64 MAX_PHYSMEM_BITS (4-level paging): no device range may end above 2^46 bytes. */
const MAX_PHYSMEM_BITS = 46;
/** The most struct pages (RAM plus every device region) the model will allocate. */
const STRUCT_PAGES_MAX = 2 ** 26;

/** struct range: a physical byte range, `end` inclusive (as the kernel's). */
export interface PhysRange {
  /** First byte. */
  readonly start: number;
  /** Last byte (inclusive). */
  readonly end: number;
}

/**
 * Today's struct dev_pagemap as a driver fills it before memremapPages: the mm core's DevPagemap
 * plus the physical range. `pfnFirst`/`pfnLast` are set by memremapPages.
 */
export interface MemremapPagemap extends DevPagemap {
  /** pgmap->range (nr_range = 1). */
  readonly range: PhysRange;
}

/** Reserved ranges per machine: the end (in pfns) of the last one request_free_mem_region gave. */
const reservedEnd = new WeakMap<PageStore, number>();

/**
 * request_free_mem_region(&iomem_resource, size, name): reserves a free physical range of `size`
 * bytes (rounded up to whole memory sections), or -errno: -EINVAL for a size that is not a positive
 * integer, -ERANGE above 2^MAX_PHYSMEM_BITS, -ENOMEM past the model's struct-page budget.
 */
export function requestFreeMemRegion(kernel: Kernel, size: number): PhysRange | number {
  if (!Number.isSafeInteger(size) || size <= 0) return -EINVAL;
  const store = kernel.mem.store;
  const section = store.sectionPages;
  const npages = sectionAlign(Math.ceil(size / PAGE_SIZE), section);
  const first = Math.max(store.nextDeviceRegion(), reservedEnd.get(store) ?? 0);
  if ((first + npages) * PAGE_SIZE > 2 ** MAX_PHYSMEM_BITS) return -ERANGE;
  if (first + npages > STRUCT_PAGES_MAX) return -ENOMEM;
  reservedEnd.set(store, first + npages);
  return { start: first * PAGE_SIZE, end: (first + npages) * PAGE_SIZE - 1 };
}

/** memremap_pages' checks of the ops a type needs; the WARN text is the kernel's. */
function checkPagemap(pgmap: MemremapPagemap): string | null {
  if (pgmap.type === MEMORY_DEVICE_PRIVATE) {
    if (pgmap.ops?.migrateToRam === undefined) return 'Missing migrate_to_ram method';
    if (pgmap.ops.folioFree === undefined) return 'Missing folio_free method';
    if (pgmap.owner === undefined || pgmap.owner === null) return 'Missing owner';
    return null;
  }
  if (pgmap.type === MEMORY_DEVICE_COHERENT) {
    if (pgmap.ops?.folioFree === undefined) return 'Missing folio_free method';
    if (pgmap.owner === undefined || pgmap.owner === null) return 'Missing owner';
    return null;
  }
  return `Invalid pgmap type ${pgmap.type}`;
}

/**
 * memremap_pages(pgmap, nid): hot-plugs `pgmap.range` as ZONE_DEVICE memory of `pgmap.type`.
 * Returns the first pfn, or -EINVAL for a range that is not page-aligned, was not reserved or is
 * already in use. A type other than PRIVATE/COHERENT, a private pgmap without migrate_to_ram,
 * folio_free or owner, or a coherent one without folio_free or owner is the kernel's WARN (then
 * -EINVAL): a KernelWarning.
 * Every page starts free (refcount 0).
 */
export function memremapPages(kernel: Kernel, pgmap: MemremapPagemap): number {
  const warn = checkPagemap(pgmap);
  // The kernel WARNs and returns -EINVAL; the model reports the WARN (API misuse) by throwing it.
  if (warn !== null) throw new KernelWarning(`memremap_pages: ${warn}`);
  const { start, end } = pgmap.range;
  const store = kernel.mem.store;
  if (start % PAGE_SIZE !== 0 || (end + 1) % PAGE_SIZE !== 0 || end < start) return -EINVAL;
  const first = start / PAGE_SIZE;
  const npages = (end + 1 - start) / PAGE_SIZE;
  if (first + npages > (reservedEnd.get(store) ?? 0) || first <= kernel.mem.ramPages) return -EINVAL;
  for (let pfn = first; pfn < Math.min(first + npages, store.size); pfn++) {
    if (store.zone[pfn] === ZONE_DEVICE) return -EINVAL; // get_dev_pagemap: the range is taken
  }
  store.addDeviceRegionAt(first, npages, pgmap);
  kernel.counters.inc('memremap_pages');
  return first;
}

/** pgmaps memunmap_pages has killed (percpu_ref_kill): no page of theirs may be handed out again. */
const dying = new WeakSet<DevPagemap>();

/** True while some page of `pgmap` has a reference. */
function pgmapInUse(kernel: Kernel, pgmap: DevPagemap): boolean {
  const { refcount } = kernel.mem.store;
  for (let pfn = pgmap.pfnFirst; pfn < pgmap.pfnLast; pfn++) if (refcount[pfn] !== 0) return true;
  return false;
}

/**
 * memunmap_pages(pgmap): kills the pgmap (zone_device_page_init on it is a WARN from now on),
 * sleeps until every page of it has been freed (pgmap->done), then removes the region. A page
 * nobody ever puts leaves it asleep, as in the kernel.
 */
export function* memunmapPages(kernel: Kernel, pgmap: DevPagemap): Task {
  const store = kernel.mem.store;
  const slot = store.pgmapSlot[pgmap.pfnFirst] as number;
  if (store.pgmaps[slot] !== pgmap)
    throw new KernelBug(`memunmap_pages: pfn ${pgmap.pfnFirst} is not in this pgmap`);
  dying.add(pgmap);
  yield* kernel.mem.pgmapWaitqueue(pgmap).waitEvent(() => !pgmapInUse(kernel, pgmap));
  for (let pfn = pgmap.pfnFirst; pfn < pgmap.pfnLast; pfn++) {
    store.zone[pfn] = ZONE_NORMAL;
    store.pgmapSlot[pfn] = 0;
    store.flags[pfn] = 0;
    store.drvdata.delete(pfn);
  }
  store.pgmaps[slot] = undefined;
  kernel.counters.inc('memunmap_pages');
}

/** The pgmap of a device page of a live region (page_pgmap), or a KernelBug. */
function livePgmap(kernel: Kernel, pfn: number, who: string): DevPagemap {
  const store = kernel.mem.store;
  store.checkPfn(pfn);
  const pgmap = store.isZoneDevice(pfn) ? store.pgmapOf(pfn) : undefined;
  if (pgmap === undefined) throw new KernelBug(`${who}: pfn ${pfn} is not a ZONE_DEVICE page`);
  return pgmap;
}

/**
 * zone_device_page_init(page): the driver's allocator hands a free device page out: refcount 1,
 * locked. A page that is not free is a driver bug (the kernel would set_page_count over live
 * references): a KernelWarning. Only today's pgmaps have free pages at 0.
 */
export function zoneDevicePageInit(kernel: Kernel, pfn: number): void {
  const pgmap = livePgmap(kernel, pfn, 'zone_device_page_init');
  const s = kernel.mem.store;
  if (pgmap.ops === undefined)
    throw new KernelBug('zone_device_page_init: the seed hmm_devmem has no free-at-0 pages');
  if (dying.has(pgmap)) throw new KernelWarning(`zone_device_page_init: pfn ${pfn} after memunmap_pages`);
  if (s.refcount[pfn] !== 0 || ((s.flags[pfn] as number) & PG_locked) !== 0)
    throw new KernelWarning(`zone_device_page_init: pfn ${pfn} is in use (refcount ${s.refcount[pfn]})`);
  s.refcount[pfn] = 1;
  if (!kernel.mem.trylockPage(pfn)) throw new KernelBug(`zone_device_page_init: pfn ${pfn} locked`);
}

/**
 * zone_device_folio_init(folio, pgmap, order) (v6.19): order 0 is zone_device_page_init; order 9
 * makes the 512 free device pages from an aligned `head` one large folio (PG_head, the tails
 * PG_tail at refcount 0), referenced once and locked. A page of it in use is a KernelWarning.
 */
export function zoneDeviceFolioInit(kernel: Kernel, head: number, order: number): void {
  if (order === 0) {
    zoneDevicePageInit(kernel, head);
    return;
  }
  if (order !== HPAGE_PMD_ORDER)
    throw new ArgumentError('order', `expected 0 or ${HPAGE_PMD_ORDER}, got ${order}`);
  if (head % HPAGE_PMD_NR !== 0)
    throw new ArgumentError('head', `pfn ${head} is not ${HPAGE_PMD_NR}-aligned`);
  const s = kernel.mem.store;
  livePgmap(kernel, head + HPAGE_PMD_NR - 1, 'zone_device_folio_init');
  for (let pfn = head + 1; pfn < head + HPAGE_PMD_NR; pfn++) {
    if (s.refcount[pfn] !== 0 || ((s.flags[pfn] as number) & PG_locked) !== 0)
      throw new KernelWarning(`zone_device_folio_init: pfn ${pfn} is in use (refcount ${s.refcount[pfn]})`);
  }
  zoneDevicePageInit(kernel, head);
  for (let pfn = head + 1; pfn < head + HPAGE_PMD_NR; pfn++) s.flags[pfn] = PG_reserved | PG_tail;
  setPageFlags(s, head, PG_head);
}

/** page->zone_device_data: the driver's word per device page (undefined until set). */
export function pageZoneDeviceData(kernel: Kernel, pfn: number): unknown {
  livePgmap(kernel, pfn, 'zone_device_data');
  return kernel.mem.store.drvdata.get(pfn);
}

/** page->zone_device_data = data. */
export function setPageZoneDeviceData(kernel: Kernel, pfn: number, data: unknown): void {
  livePgmap(kernel, pfn, 'zone_device_data');
  kernel.mem.store.drvdata.set(pfn, data);
}

/** page_pgmap(page): the pgmap of a ZONE_DEVICE page; an ArgumentError for any other pfn. */
export function pagePgmap(kernel: Kernel, pfn: number): DevPagemap {
  const store = kernel.mem.store;
  store.checkPfn(pfn);
  const pgmap = store.isZoneDevice(pfn) ? store.pgmapOf(pfn) : undefined;
  if (pgmap === undefined) throw new ArgumentError('pfn', `pfn ${pfn} is not a ZONE_DEVICE page`);
  return pgmap;
}
