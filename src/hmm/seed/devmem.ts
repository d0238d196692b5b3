/**
 * HMM device memory (hmm_devmem): un-addressable device memory given struct pages, so the core mm
 * can migrate process memory to it and back (hmm.rst, "Represent and manage device memory from
 * core kernel point of view"). The memory is hot-plugged as a MEMORY_DEVICE_PRIVATE ZONE_DEVICE
 * region: the CPU cannot reach it, so in CPU page tables its pages only ever appear as
 * device-private swap entries, and any CPU access faults into the driver's `fault` callback, which
 * must migrate the page back to system memory. The driver keeps the data itself (its device
 * memory); nothing reads or writes the contents of a device page's struct page.
 *
 * Device pages idle at refcount 1 and never return to the page allocator: when the last user goes
 * (refcount back to 1) hmm_devmem_free clears page->mapping and hands the page to `ops.free`.
 *
 * API era: this is the v5.2 API (struct hmm_devmem, hmm_devmem_add, struct hmm_devmem_ops) that the
 * seed document describes; v5.3 replaced it with dev_pagemap_ops (page_free, migrate_to_ram). The
 * kernel's hmm_devmem_add finds the machine implicitly; here it is the first argument
 * (`hmmDevmemAdd(kernel, ops, device, size)`), since one process may hold several simulated machines.
 *
 * Not modelled: hmm_devmem_add_resource and MEMORY_DEVICE_PUBLIC (CPU-coherent device memory
 * mapped with devmap PTEs, removed in v5.3), hmm_device_new/put, and devm teardown (v5.2 has no
 * hmm_devmem_remove; the region lives as long as the simulator).
 *
 * @see include/linux/hmm.h, mm/hmm.c (hmm_devmem_*), include/linux/memremap.h (Linux v5.2)
 */

import { PAGE_SIZE } from '../../core/addr.js';
import { KernelBug } from '../../core/assert.js';
import { ArgumentError, EINVAL, ENOMEM, ERANGE } from '../../core/errno.js';
import type { Kernel } from '../../mm/kernel.js';
import type { MmStruct } from '../../mm/mm.js';
import type { MaybeTask } from '../../mm/mmu_notifier.js';
import { runMaybeTask } from '../../mm/mmu_notifier.js';
import type { DevFault, DevPagemap } from '../../mm/page.js';
import { MEMORY_DEVICE_PRIVATE, PAGES_PER_SECTION, sectionAlign } from '../../mm/page.js';
import type { Vma } from '../../mm/vma.js';

/** PA_SECTION_SIZE: device memory is hot-plugged in whole memory sections (128 MiB on x86-64). */
export const PA_SECTION_SIZE = PAGES_PER_SECTION * PAGE_SIZE;
/** x86-64 MAX_PHYSMEM_BITS (4-level paging): no device range may end above 2^46 bytes. */
export const MAX_PHYSMEM_BITS = 46;
/**
 * The most struct pages (RAM plus every device region) the simulator will allocate. Past it,
 * hmmDevmemAdd fails with -ENOMEM, as the kernel does when it cannot allocate the memmap.
 */
export const DEVMEM_STRUCT_PAGES_MAX = 2 ** 26;
/** ioresource descriptor of the region hmm_devmem_add reserves. */
export const IORES_DESC_DEVICE_PRIVATE_MEMORY = 6;

/**
 * struct hmm_devmem_ops.
 *
 * free(devmem, pfn): the page's last user is gone (refcount back to 1); the driver owns it again.
 * Runs inside put_page, so it must not sleep.
 *
 * fault(devmem, vma, addr, pfn, flags): the CPU (a fault or GUP) touched a device-private entry at
 * `addr` (mmap_sem held for read at least). The driver must migrate the page back to system memory
 * (it may migrate more, but `addr` first) and return a VM_FAULT_* code: 0 (or VM_FAULT_MAJOR),
 * VM_FAULT_SIGBUS if the page cannot be migrated (device gone), VM_FAULT_OOM if no system page is
 * available. `pfn` is a hint and may already be stale. `vmaMm(vma)` (mm/migrate.ts) is the mm.
 * The kernel's pmdp argument is not modelled.
 */
export interface HmmDevmemOps {
  /** ->free(): device page `pfn` has no user left; the driver owns it again (must not sleep). */
  free(devmem: HmmDevmem, pfn: number): void;
  /**
   * ->fault(): the CPU touched device page `pfn` at `addr`; migrate it back and return 0 or a VM_FAULT_*
   * code.
   */
  fault(devmem: HmmDevmem, vma: Vma, addr: number, pfn: number, flags: number): MaybeTask<number>;
}

/** The physical range the region occupies (struct resource). */
export interface DevmemResource {
  /** First physical byte address of the region. */
  readonly start: number;
  /** Inclusive, as in struct resource. */
  readonly end: number;
  /** The resource descriptor (IORES_DESC_DEVICE_PRIVATE_MEMORY). */
  readonly desc: number;
}

/** struct hmm_devmem. */
export class HmmDevmem {
  /** The kernel the region was hot-plugged into. */
  readonly kernel: Kernel;
  /** The driver's free and fault callbacks. */
  readonly ops: HmmDevmemOps;
  /** The driver's device (struct device), opaque to HMM. */
  readonly device: unknown;
  /** First pfn of the region. */
  readonly pfnFirst: number;
  /** One past the last pfn (half-open, as in the kernel). */
  readonly pfnLast: number;
  /** The physical range the region occupies. */
  readonly resource: DevmemResource;
  /** The dev_pagemap the region was hot-plugged with (type MEMORY_DEVICE_PRIVATE). */
  readonly pagemap: DevPagemap;

  constructor(kernel: Kernel, ops: HmmDevmemOps, device: unknown, pagemap: DevPagemap) {
    this.kernel = kernel;
    this.ops = ops;
    this.device = device;
    this.pagemap = pagemap;
    this.pfnFirst = pagemap.pfnFirst;
    this.pfnLast = pagemap.pfnLast;
    this.resource = {
      start: this.pfnFirst * PAGE_SIZE,
      end: this.pfnLast * PAGE_SIZE - 1,
      desc: IORES_DESC_DEVICE_PRIVATE_MEMORY,
    };
  }

  /** Pages in the region (pfnLast - pfnFirst). */
  get npages(): number {
    return this.pfnLast - this.pfnFirst;
  }

  /** Whether `pfn` lies in this region. */
  contains(pfn: number): boolean {
    return pfn >= this.pfnFirst && pfn < this.pfnLast;
  }
}

/** The dev_pagemap hmm_devmem_add registers: page_free → hmm_devmem_free, page_fault → hmm_devmem_fault. */
class HmmDevmemPagemap implements DevPagemap {
  readonly type = MEMORY_DEVICE_PRIVATE;
  pfnFirst = 0;
  pfnLast = 0;
  devmem: HmmDevmem | null = null;

  private get live(): HmmDevmem {
    if (this.devmem === null) throw new KernelBug('hmm_devmem: pagemap used before hmm_devmem_add finished');
    return this.devmem;
  }

  /** hmm_devmem_free: clears page->mapping, then ops->free. */
  pageFree(pfn: number): void {
    const devmem = this.live;
    devmem.kernel.mem.store.mapping[pfn] = 0;
    devmem.ops.free(devmem, pfn);
  }

  /** hmm_devmem_fault (via device_private_entry_fault). */
  *fault(vmf: DevFault): Generator<string, number, unknown> {
    const devmem = this.live;
    devmem.kernel.counters.inc('hmm_devmem_fault');
    return yield* runMaybeTask(
      devmem.ops.fault(devmem, vmf.vma as Vma, vmf.address, vmf.pfn, vmf.flags),
      true,
    );
  }
}

/**
 * hmm_devmem_add(ops, device, size): hot-plugs `size` bytes (rounded up to PA_SECTION_SIZE) of
 * device-private memory and returns the region, or -errno: -EINVAL for a size that is not a
 * positive integer, -ERANGE if no free physical range is left below 2^MAX_PHYSMEM_BITS, -ENOMEM if
 * the struct pages cannot be allocated (DEVMEM_STRUCT_PAGES_MAX). Every page starts free (refcount
 * 1, owned by the driver). The kernel is the machine to add the memory to (implicit in Linux).
 */
export function hmmDevmemAdd(
  kernel: Kernel,
  ops: HmmDevmemOps,
  device: unknown,
  size: number,
): HmmDevmem | number {
  if (!Number.isSafeInteger(size) || size <= 0) return -EINVAL;
  const store = kernel.mem.store;
  // PA_SECTION_SIZE, or the machine's own section size (PhysMemOptions.sectionPages)
  const section = store.sectionPages;
  const npages = sectionAlign(Math.ceil(size / PAGE_SIZE), section);
  const first = sectionAlign(store.size, section);
  if ((first + npages) * PAGE_SIZE > 2 ** MAX_PHYSMEM_BITS) return -ERANGE;
  if (first + npages > DEVMEM_STRUCT_PAGES_MAX) return -ENOMEM;
  const pagemap = new HmmDevmemPagemap();
  store.addDeviceRegion(npages, pagemap);
  const devmem = new HmmDevmem(kernel, ops, device, pagemap);
  pagemap.devmem = devmem;
  kernel.counters.inc('hmm_devmem_add');
  return devmem;
}

function checkDevmemPfn(devmem: HmmDevmem, pfn: number): void {
  if (!devmem.contains(pfn))
    throw new ArgumentError(
      'pfn',
      `pfn ${pfn} is not in device memory [${devmem.pfnFirst}, ${devmem.pfnLast})`,
    );
}

/** hmm_devmem_page_set_drvdata: the driver's per-page word (page->hmm_data). */
export function hmmDevmemPageSetDrvdata(devmem: HmmDevmem, pfn: number, data: unknown): void {
  checkDevmemPfn(devmem, pfn);
  devmem.kernel.mem.store.drvdata.set(pfn, data);
}

/** hmm_devmem_page_get_drvdata. */
export function hmmDevmemPageGetDrvdata(devmem: HmmDevmem, pfn: number): unknown {
  checkDevmemPfn(devmem, pfn);
  return devmem.kernel.mem.store.drvdata.get(pfn);
}

/**
 * hmm_vma_alloc_locked_page(vma, addr): alloc_page_vma(GFP_HIGHUSER) + lock_page, for a driver
 * migrating back to system memory. Returns the pfn, or -1 if memory is exhausted. The page is not
 * charged: migrate_page moves the device page's charge to it, which is why migrating back cannot
 * fail on a memcg limit. The kernel takes only (vma, addr); the mm gives the machine.
 */
export function hmmVmaAllocLockedPage(mm: MmStruct, _vma: Vma, _addr: number): number {
  const mem = mm.kernel.mem;
  const pfn = mem.allocPage();
  if (pfn < 0) return -1;
  if (!mem.trylockPage(pfn)) throw new KernelBug(`hmm_vma_alloc_locked_page: new pfn ${pfn} already locked`);
  return pfn;
}

/** The devmem a device pfn belongs to, or null (the page's pgmap->data). */
export function hmmDevmemOf(kernel: Kernel, pfn: number): HmmDevmem | null {
  const pgmap = kernel.mem.store.isValidPfn(pfn) ? kernel.mem.store.pgmapOf(pfn) : undefined;
  return pgmap instanceof HmmDevmemPagemap ? pgmap.devmem : null;
}
