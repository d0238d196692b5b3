/**
 * A tiny device driver for the migration tests: device pages come from a free list, their data
 * lives in a per-page backing array (the device's memory; never the struct page), and the device
 * "page table" is a Map from virtual address to device pfn. Its fault callback migrates the one
 * faulting page back to system memory, as hmm_devmem_ops.fault must.
 */

import { PAGE_SIZE } from '../../src/core/addr.js';
import type { HmmDevmem, HmmDevmemOps } from '../../src/hmm/seed/devmem.js';
import { hmmDevmemAdd, hmmVmaAllocLockedPage } from '../../src/hmm/seed/devmem.js';
import { VM_FAULT_SIGBUS } from '../../src/mm/fault.js';
import type { Kernel } from '../../src/mm/kernel.js';
import type { MigrateVmaOps } from '../../src/mm/migrate.js';
import {
  MIGRATE_PFN_DEVICE,
  MIGRATE_PFN_ERROR,
  MIGRATE_PFN_LOCKED,
  MIGRATE_PFN_MIGRATE,
  migratePfn,
  migratePfnFlags,
  migratePfnSet,
  migratePfnToPage,
  migrateVma,
  vmaMm,
} from '../../src/mm/migrate.js';
import type { Vma } from '../../src/mm/vma.js';
import type { Task } from '../../src/sched/index.js';
import { schedule } from '../../src/sched/index.js';
import type { Process } from '../../src/sim/process.js';

export interface MigrateResult {
  ret: number;
  src: Float64Array;
  dst: Float64Array;
}

export class TestDriver {
  readonly kernel: Kernel;
  readonly devmem: HmmDevmem;
  /** Free device pfns (LIFO). */
  readonly freeList: number[] = [];
  /** Device memory: the data of each allocated device page. */
  readonly backing = new Map<number, Uint8Array>();
  /** The device's page table: virtual address -> device pfn. */
  readonly devPt = new Map<number, number>();
  /** Calls of each callback. */
  faults = 0;
  frees = 0;
  allocAndCopyCalls = 0;
  finalizeCalls = 0;
  /** Device pages the driver may hand out (default: all of them). */
  limit: number;
  /** Hooks run inside alloc_and_copy (to build races). */
  onAllocAndCopy: (() => Task) | null = null;
  /** Yield to the scheduler once per page copied (a DMA in flight). */
  yieldInCopy = false;

  constructor(kernel: Kernel, limit = Number.POSITIVE_INFINITY) {
    this.kernel = kernel;
    this.limit = limit;
    const r = hmmDevmemAdd(kernel, this.devmemOps, 'test-device', 1);
    if (typeof r === 'number') throw new Error(`hmmDevmemAdd failed: ${r}`);
    this.devmem = r;
    for (let pfn = r.pfnLast - 1; pfn >= r.pfnFirst; pfn--) this.freeList.push(pfn);
  }

  get allocated(): number {
    return this.devmem.npages - this.freeList.length;
  }

  /** nouveau_dmem_page_get: take a free device page, referenced and locked. */
  allocDevicePage(): number {
    if (this.allocated >= this.limit) return -1;
    const pfn = this.freeList.pop();
    if (pfn === undefined) return -1;
    const mem = this.kernel.mem;
    mem.getPage(pfn);
    if (!mem.trylockPage(pfn)) throw new Error(`device pfn ${pfn} was locked while free`);
    this.backing.set(pfn, new Uint8Array(PAGE_SIZE));
    return pfn;
  }

  /** What the device holds for `addr` (undefined if it does not map it). */
  deviceData(addr: number): Uint8Array | undefined {
    const pfn = this.devPt.get(addr);
    return pfn === undefined ? undefined : this.backing.get(pfn);
  }

  readonly devmemOps: HmmDevmemOps = {
    free: (_devmem, pfn) => {
      this.frees++;
      this.backing.delete(pfn);
      for (const [addr, p] of this.devPt) if (p === pfn) this.devPt.delete(addr);
      this.freeList.push(pfn);
    },
    fault: (_devmem, vma, addr, _pfn, _flags) => this.fault(vma, addr),
  };

  private *fault(vma: Vma, addr: number): Task<number> {
    this.faults++;
    vmaMm(vma).mmapSem.assertHeld('any');
    const src = new Float64Array(1);
    const dst = new Float64Array(1);
    const ret = yield* migrateVma(this.toRam, vma, addr, addr + PAGE_SIZE, src, dst, this);
    if (ret < 0) return VM_FAULT_SIGBUS;
    if (migratePfnFlags(dst[0]!) & MIGRATE_PFN_ERROR) return VM_FAULT_SIGBUS;
    return 0;
  }

  /** System memory -> device memory. Device pages already on a device are left where they are. */
  readonly toDevice: MigrateVmaOps = {
    allocAndCopy: (vma, src, dst, start, end, _priv) => this.allocAndCopyToDevice(vma, src, dst, start, end),
    finalizeAndMap: (_vma, src, dst, start, end, _priv) => {
      this.finalizeCalls++;
      for (let i = 0; i < (end - start) / PAGE_SIZE; i++) {
        const dpfn = migratePfnToPage(dst[i]!);
        if (dpfn >= 0 && migratePfnFlags(src[i]!) & MIGRATE_PFN_MIGRATE)
          this.devPt.set(start + i * PAGE_SIZE, dpfn);
      }
    },
  };

  private *allocAndCopyToDevice(
    _vma: Vma,
    src: Float64Array,
    dst: Float64Array,
    start: number,
    end: number,
  ): Task {
    this.allocAndCopyCalls++;
    if (this.onAllocAndCopy !== null) yield* this.onAllocAndCopy();
    const mem = this.kernel.mem;
    for (let i = 0; i < (end - start) / PAGE_SIZE; i++) {
      const f = migratePfnFlags(src[i]!);
      if (!(f & MIGRATE_PFN_MIGRATE) || f & MIGRATE_PFN_DEVICE) continue;
      const dpfn = this.allocDevicePage();
      if (dpfn < 0) continue;
      const spfn = migratePfnToPage(src[i]!);
      if (spfn >= 0) mem.readBytes(spfn, 0, this.backing.get(dpfn)!, 0, PAGE_SIZE);
      dst[i] = migratePfnSet(migratePfn(dpfn), MIGRATE_PFN_LOCKED);
      if (this.yieldInCopy) yield* schedule('dma copy');
    }
  }

  /** Device memory -> system memory (the fault path and driver-initiated eviction). */
  readonly toRam: MigrateVmaOps = {
    allocAndCopy: (vma, src, dst, start, end, _priv) => {
      this.allocAndCopyCalls++;
      const mm = vmaMm(vma);
      for (let i = 0; i < (end - start) / PAGE_SIZE; i++) {
        const f = migratePfnFlags(src[i]!);
        if (!(f & MIGRATE_PFN_MIGRATE) || !(f & MIGRATE_PFN_DEVICE)) continue;
        const addr = start + i * PAGE_SIZE;
        const rpfn = hmmVmaAllocLockedPage(mm, vma, addr);
        if (rpfn < 0) {
          dst[i] = MIGRATE_PFN_ERROR;
          continue;
        }
        const data = this.backing.get(migratePfnToPage(src[i]!));
        if (data !== undefined) this.kernel.mem.writeBytes(rpfn, 0, data, 0, PAGE_SIZE);
        dst[i] = migratePfnSet(migratePfn(rpfn), MIGRATE_PFN_LOCKED);
      }
    },
    finalizeAndMap: (_vma, src, dst, start, end, _priv) => {
      this.finalizeCalls++;
      for (let i = 0; i < (end - start) / PAGE_SIZE; i++) {
        if (migratePfnToPage(dst[i]!) >= 0 && migratePfnFlags(src[i]!) & MIGRATE_PFN_MIGRATE)
          this.devPt.delete(start + i * PAGE_SIZE);
      }
    },
  };

  /** migrate_vma on [addr, addr + npages) of p under mmap_sem (read), with `ops`. */
  *migrate(p: Process, addr: number, npages: number, ops: MigrateVmaOps): Task<MigrateResult> {
    const mm = p.mm;
    const src = new Float64Array(npages);
    const dst = new Float64Array(npages);
    yield* mm.mmapSem.downRead();
    try {
      const vma = mm.vmaAt(addr);
      const ret = yield* migrateVma(ops, vma, addr, addr + npages * PAGE_SIZE, src, dst, this);
      return { ret, src, dst };
    } finally {
      mm.mmapSem.upRead();
    }
  }

  toDeviceTask(p: Process, addr: number, npages: number): Task<MigrateResult> {
    return this.migrate(p, addr, npages, this.toDevice);
  }

  toRamTask(p: Process, addr: number, npages: number): Task<MigrateResult> {
    return this.migrate(p, addr, npages, this.toRam);
  }
}

/** True if a src entry says the page (or hole) moved. */
export function moved(src: Float64Array, dst: Float64Array, i: number): boolean {
  return (migratePfnFlags(src[i]!) & MIGRATE_PFN_MIGRATE) !== 0 && migratePfnToPage(dst[i]!) >= 0;
}
