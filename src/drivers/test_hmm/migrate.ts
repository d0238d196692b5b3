/**
 * today's test_hmm migrations on migrate_vma_setup/pages/finalize: HMM_DMIRROR_MIGRATE_TO_DEV
 * (then the device reads the range back), HMM_DMIRROR_MIGRATE_TO_SYS, HMM_DMIRROR_RELEASE
 * (evict every device page by pfn, remove the memory) and the CPU fault callback
 * (dev_pagemap_ops.migrate_to_ram = dmirror_devmem_fault). Copies go through the device's DMA
 * engine, one transfer per migrate_vma_setup batch (PTRS_PER_PTE pages, as test_hmm's arrays).
 *
 * The device page table maps the device page itself (test_hmm maps the system page backing it:
 * see device.ts). dmirror_devmem_fault_alloc_and_copy erases the entries of the pages it moves back
 * with the dmirror's mutex held (test_hmm relies on the xarray's own lock), so the device TLB
 * is invalidated with them and the rules checker sees the page-table writes under the update lock.
 * The PMD-sized paths are v6.19's: SELECT_COMPOUND both ways, an order-9 device folio (or a THP on
 * the way back) for a MIGRATE_PFN_COMPOUND entry, 512 small pages when that allocation fails.
 *
 * @see lib/test_hmm.c (Linux v6.19: dmirror_migrate_to_device, dmirror_migrate_alloc_and_copy,
 *      dmirror_migrate_finalize_and_map, dmirror_migrate_to_system,
 *      dmirror_devmem_fault_alloc_and_copy, dmirror_devmem_fault, dmirror_do_read; the
 *      linux-mm/linux-mm tree, lib/test_hmm.c at commit 05ab51217205)
 */

import { PAGE_SIZE } from '../../core/addr.js';
import { KernelWarning } from '../../core/assert.js';
import { EINVAL, ENOMEM } from '../../core/errno.js';
import { VM_FAULT_OOM, VM_FAULT_SIGBUS } from '../../mm/fault.js';
import { pageZoneDeviceData } from '../../mm/memremap.js';
import {
  MIGRATE_PFN_COMPOUND,
  MIGRATE_PFN_MIGRATE,
  MIGRATE_PFN_WRITE,
  MIGRATE_VMA_SELECT_COMPOUND,
  MIGRATE_VMA_SELECT_DEVICE_COHERENT,
  MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
  MIGRATE_VMA_SELECT_SYSTEM,
  type MigrateVma,
  migratePfn,
  migratePfnFlags,
  migratePfnSet,
  migratePfnToPage,
  migrateVmaFinalize,
  migrateVmaPages,
  migrateVmaSetup,
} from '../../mm/migrate_device.js';
import type { MmStruct } from '../../mm/mm.js';
import { mmput } from '../../mm/mm.js';
import type { DevFault } from '../../mm/page.js';
import { HPAGE_PMD_NR } from '../../mm/page.js';
import type { Vma } from '../../mm/vma.js';
import { VM_READ } from '../../mm/vma.js';
import type { Task } from '../../sched/index.js';
import type { DmirrorReadResult } from '../dmirror/uapi.js';
import type { TestHmmDevice } from './device.js';
import type { TestHmmDmirror } from './dmirror.js';
import { dmirrorBounceInit, dmirrorCheckCmd, dmirrorDoRead } from './fault.js';
import type { DmirrorCmdResult } from './uapi.js';
import { HMM_DMIRROR_FLAG_FAIL_ALLOC } from './uapi.js';

/** PTRS_PER_PTE: the pages of one migrate_vma_setup call (test_hmm's src/dst arrays). */
export const DMIRROR_MIGRATE_BATCH = 512;

/** dmirror_select_device: the SELECT flag of the device's own memory type. */
function selectDevice(mdevice: TestHmmDevice): number {
  return mdevice.isPrivateZone ? MIGRATE_VMA_SELECT_DEVICE_PRIVATE : MIGRATE_VMA_SELECT_DEVICE_COHERENT;
}

/** A migrate_vma for [start, next) of `vma`, on the reused arrays. */
function migrateArgs(
  mdevice: TestHmmDevice,
  vma: Vma,
  start: number,
  next: number,
  flags: number,
  arrays: { src: Float64Array; dst: Float64Array },
): MigrateVma {
  return {
    vma,
    src: arrays.src,
    dst: arrays.dst,
    start,
    end: next,
    pgmapOwner: mdevice,
    flags,
    cpages: 0,
    npages: 0,
  };
}

/**
 * The loop both range migrations share: the ioctl's range checks, then under mmap_lock for read,
 * VMA by VMA, PTRS_PER_PTE pages per migrate_vma_setup; `step` does the driver's part and the
 * pages/finalize calls (also the svm engine's, drivers/svm/modern.ts). -EINVAL for a bad range or a missing or unreadable VMA (vma_lookup), or
 * the first error of setup or step.
 */
export function* forEachBatch(
  dmirror: TestHmmDmirror,
  cmd: { addr: number; npages: number },
  flags: number,
  step: (args: MigrateVma) => Task<number>,
): Task<number> {
  const bad = dmirrorCheckCmd(cmd.addr, cmd.npages);
  if (bad < 0) return bad;
  const start = cmd.addr;
  const end = start + cmd.npages * PAGE_SIZE;
  const mm: MmStruct = dmirror.mm;
  if (!mm.mmgetNotZero()) return -EINVAL;
  // on the ioctl's stack in the kernel; here the machine's arrays (core/host_arrays.ts)
  const host = dmirror.mdevice.kernel.mem.arrays;
  const arrays = { src: host.f64(DMIRROR_MIGRATE_BATCH), dst: host.f64(DMIRROR_MIGRATE_BATCH) };
  let ret = 0;
  yield* mm.mmapSem.downRead();
  try {
    for (let addr = start, next = start; addr < end && ret === 0; addr = next) {
      const vma = mm.vmaAt(addr);
      if (vma === null || !(vma.flags & VM_READ)) return -EINVAL;
      next = Math.min(end, addr + DMIRROR_MIGRATE_BATCH * PAGE_SIZE, vma.end);
      const args = migrateArgs(dmirror.mdevice, vma, addr, next, flags, arrays);
      ret = yield* migrateVmaSetup(args);
      if (ret === 0) ret = yield* step(args);
    }
  } finally {
    mm.mmapSem.upRead();
    yield* mmput(mm);
  }
  return ret;
}

// -- to the device ---------------------------------------------------------------------------------

/**
 * HMM_DMIRROR_MIGRATE_TO_DEV (dmirror_migrate_to_device): migrate the range's system pages and holes
 * to device memory, map them in the device page table, then read the range back through it
 * (dmirror_do_read): -ENOENT if a page is not mapped there (not migrated: a shared mapping, a page
 * pinned or locked, no device page free), with `cpages` the pages read before it.
 */
export function* dmirrorMigrateToDevice(
  dmirror: TestHmmDmirror,
  addr: number,
  npages: number,
): Task<DmirrorReadResult | number> {
  const ret = yield* dmirrorMigrateRangeToDevice(dmirror, addr, npages);
  if (ret !== 0) return ret;
  return yield* dmirrorReadBack(dmirror, addr, npages);
}

/** The migration part of MIGRATE_TO_DEV, without the read-back: 0 or -errno. */
export function* dmirrorMigrateRangeToDevice(
  dmirror: TestHmmDmirror,
  addr: number,
  npages: number,
): Task<number> {
  const flags = MIGRATE_VMA_SELECT_SYSTEM | MIGRATE_VMA_SELECT_COMPOUND;
  return yield* forEachBatch(dmirror, { addr, npages }, flags, (args) => toDeviceStep(dmirror, args));
}

/**
 * One migrate_vma batch to device memory after migrate_vma_setup: alloc_and_copy, migrate_vma_pages,
 * finalize_and_map, migrate_vma_finalize (the svm engine's policy migrations use it too).
 */
export function* toDeviceStep(dmirror: TestHmmDmirror, args: MigrateVma): Task<number> {
  allocAndCopyToDevice(dmirror, args);
  yield* migrateVmaPages(args);
  yield* finalizeAndMap(dmirror, args);
  migrateVmaFinalize(args);
  return 0;
}

/**
 * dmirror_migrate_alloc_and_copy: a device page for every entry to migrate (a system page, a hole,
 * the zero page), writable on the device iff the source was; a compound entry (a THP or a whole
 * empty PMD) gets a 512-page device folio and a COMPOUND destination, or, if none is free, 512
 * device pages (then migrate_vma_pages splits the source). HMM_DMIRROR_FLAG_FAIL_ALLOC makes the
 * next allocation fail, once: a small page is skipped, a folio falls back to pages. One DMA
 * transfer copies (or zero-fills) them.
 */
function allocAndCopyToDevice(dmirror: TestHmmDmirror, args: MigrateVma): void {
  const { mdevice } = dmirror;
  const src = args.src as Float64Array;
  const dst = args.dst as Float64Array;
  const dstPages: number[] = [];
  const srcPages: number[] = [];
  const s = mdevice.kernel.mem.store;
  const copy = (i: number, dpage: number, spage: number, flags: number) => {
    dst[i] = migratePfnSet(migratePfn(dpage), flags);
    dstPages.push(dpage);
    srcPages.push(spage);
  };
  for (let i = 0; i < args.npages; i++) {
    const f = migratePfnFlags(src[i] as number);
    if (!(f & MIGRATE_PFN_MIGRATE)) continue;
    const spage = migratePfnToPage(src[i] as number);
    if (spage >= 0 && s.isZoneDevice(spage))
      throw new KernelWarning(`test_hmm: page already in device spage pfn: 0x${spage.toString(16)}`);
    const large = (f & MIGRATE_PFN_COMPOUND) !== 0;
    const write = f & MIGRATE_PFN_WRITE;
    let dpage = -1;
    if (dmirror.flags & HMM_DMIRROR_FLAG_FAIL_ALLOC) dmirror.flags &= ~HMM_DMIRROR_FLAG_FAIL_ALLOC;
    else dpage = large ? mdevice.allocFolio(dmirror) : mdevice.allocPage(dmirror);
    if (dpage < 0 && !large) continue;
    const nr = large ? HPAGE_PMD_NR : 1;
    for (let j = 0; j < nr && i + j < args.npages; j++) {
      const from = spage < 0 ? -1 : spage + j;
      if (dpage >= 0) copy(i + j, dpage + j, from, j === 0 ? write | (large ? MIGRATE_PFN_COMPOUND : 0) : 0);
      else copy(i + j, mdevice.allocPage(dmirror), from, write); // the fallback: 512 pages
    }
    if (dpage >= 0) for (let j = 1; j < nr; j++) dst[i + j] = 0;
    i += nr - 1;
  }
  mdevice.device.dma.submit(dstPages, srcPages);
  mdevice.device.cost.migrateCall(bookkeepingPages(args));
}

/**
 * The pages migrate_vma's bookkeeping is charged for (docs/costs.md, "migrate_vma bookkeeping"):
 * every page of the batch, a folio that moved whole (a COMPOUND destination) counted once, as the
 * kernel unmaps, locks and remaps it once, through one PMD migration entry.
 */
function bookkeepingPages(args: MigrateVma): number {
  const dst = args.dst as Float64Array;
  let folios = 0;
  for (let i = 0; i < args.npages; i++)
    if (migratePfnFlags(dst[i] as number) & MIGRATE_PFN_COMPOUND) folios++;
  return args.npages - folios * (HPAGE_PMD_NR - 1);
}

/**
 * dmirror_migrate_finalize_and_map: under the mutex, map every page that moved on the device (a
 * compound destination: its 512 pages).
 */
function* finalizeAndMap(dmirror: TestHmmDmirror, args: MigrateVma): Task {
  const src = args.src as Float64Array;
  const dst = args.dst as Float64Array;
  yield* dmirror.mutex.lock();
  let moved = 0;
  for (let i = 0; i < args.npages; i++) {
    if (!(migratePfnFlags(src[i] as number) & MIGRATE_PFN_MIGRATE)) continue;
    const dpage = migratePfnToPage(dst[i] as number);
    if (dpage < 0) continue;
    const f = migratePfnFlags(dst[i] as number);
    const nr = f & MIGRATE_PFN_COMPOUND ? HPAGE_PMD_NR : 1;
    for (let j = 0; j < nr; j++)
      dmirror.mmu.map(args.start / PAGE_SIZE + i + j, dpage + j, (f & MIGRATE_PFN_WRITE) !== 0);
    moved += nr;
  }
  dmirror.mutex.unlock();
  dmirror.mdevice.device.counters.migratedToDevice += moved;
  if (moved > 0) dmirror.mdevice.device.cost.record('migrate-to-device', moved);
}

/** The read-back of MIGRATE_TO_DEV: dmirror_do_read under the mutex into a bounce buffer. */
function* dmirrorReadBack(
  dmirror: TestHmmDmirror,
  addr: number,
  npages: number,
): Task<DmirrorReadResult | number> {
  const bounce = dmirrorBounceInit(dmirror, addr, npages);
  if (bounce === null) return -ENOMEM;
  yield* dmirror.mutex.lock();
  const ret = dmirrorDoRead(dmirror, addr, addr + npages * PAGE_SIZE, bounce);
  dmirror.mutex.unlock();
  return ret < 0 ? ret : { data: bounce.ptr, cpages: bounce.cpages, faults: 0 };
}

// -- to system memory ------------------------------------------------------------------------------

/**
 * HMM_DMIRROR_MIGRATE_TO_SYS (dmirror_migrate_to_system): migrate this device's pages in the range
 * (SELECT_DEVICE_PRIVATE or _COHERENT by the device's kind, owner this device) back to system
 * memory. `cpages` counts the pages that moved; -ENOMEM if a system page could not be had (the
 * batch is restored), -EINVAL for a missing or unreadable VMA.
 */
export function* dmirrorMigrateToSystem(
  dmirror: TestHmmDmirror,
  addr: number,
  npages: number,
): Task<DmirrorCmdResult | number> {
  let cpages = 0;
  const flags = selectDevice(dmirror.mdevice) | MIGRATE_VMA_SELECT_COMPOUND;
  const ret = yield* forEachBatch(dmirror, { addr, npages }, flags, function* (args) {
    if ((yield* faultAllocAndCopy(dmirror, args)) !== 0) {
      migrateVmaFinalize(args);
      return -ENOMEM;
    }
    yield* migrateVmaPages(args);
    cpages += successfullyMigrated(args);
    migrateVmaFinalize(args);
    return 0;
  });
  return ret !== 0 ? ret : { cpages, faults: 0 };
}

/** dmirror_successful_migrated_pages: src entries with a page that still has MIGRATE. */
function successfullyMigrated(args: MigrateVma): number {
  const src = args.src as Float64Array;
  let n = 0;
  for (let i = 0; i < args.npages; i++) {
    if (migratePfnToPage(src[i] as number) >= 0 && migratePfnFlags(src[i] as number) & MIGRATE_PFN_MIGRATE)
      n++;
  }
  return n;
}

/**
 * dmirror_devmem_fault_alloc_and_copy: a locked system page for every device page collected, its
 * device page-table entry erased, one DMA copy. A device folio (order 9) gets a THP and a COMPOUND
 * destination, or, if none can be had, 512 pages (migrate_vma_pages then splits the device folio).
 * VM_FAULT_OOM when a page cannot be had (HMM_DMIRROR_FLAG_FAIL_ALLOC makes the next allocation
 * fail, once): the pages allocated so far stay in dst, and the caller's finalize gives them back
 * (test_hmm frees a folio's fallback pages itself).
 */
function* faultAllocAndCopy(dmirror: TestHmmDmirror, args: MigrateVma): Task<number> {
  const { mdevice } = dmirror;
  const mem = mdevice.kernel.mem;
  const src = args.src as Float64Array;
  const dst = args.dst as Float64Array;
  const dstPages: number[] = [];
  const srcPages: number[] = [];
  let ret = 0;
  for (let i = 0; i < args.npages && ret === 0; i++) {
    const spage = migratePfnToPage(src[i] as number);
    if (spage < 0 || !(migratePfnFlags(src[i] as number) & MIGRATE_PFN_MIGRATE)) continue;
    if (!mem.store.isDevicePrivate(spage) && !mem.store.isDeviceCoherent(spage))
      throw new KernelWarning(`test_hmm: pfn ${spage} is not device memory`);
    const large = mem.store.isCompound(spage);
    const write = migratePfnFlags(src[i] as number) & MIGRATE_PFN_WRITE;
    let dpage = -1;
    if (dmirror.flags & HMM_DMIRROR_FLAG_FAIL_ALLOC) dmirror.flags &= ~HMM_DMIRROR_FLAG_FAIL_ALLOC;
    else dpage = large ? mem.allocCompound() : mem.allocPage();
    if (dpage < 0 && !large) {
      ret = VM_FAULT_OOM;
      continue;
    }
    const nr = large ? HPAGE_PMD_NR : 1;
    if (dpage >= 0) {
      mem.trylockPage(dpage);
      dst[i] = migratePfnSet(migratePfn(dpage), write | (large ? MIGRATE_PFN_COMPOUND : 0));
    }
    for (let j = 0; j < nr; j++) {
      let page = dpage + j;
      if (dpage < 0) {
        page = mem.allocPage(); // try with smaller pages if the large allocation fails
        if (page < 0) {
          ret = VM_FAULT_OOM;
          break;
        }
        mem.trylockPage(page);
        dst[i + j] = migratePfnSet(migratePfn(page), write);
      }
      dstPages.push(page);
      srcPages.push(spage + j);
    }
    i += nr - 1;
  }
  yield* dmirror.eraseMigrated(args.start, dst, args.npages);
  mdevice.device.dma.submit(dstPages, srcPages);
  mdevice.device.cost.migrateCall(bookkeepingPages(args));
  mdevice.device.counters.migratedToRam += dstPages.length;
  if (dstPages.length > 0) mdevice.device.cost.record('migrate-to-ram', dstPages.length);
  return ret;
}

/**
 * The device page-table entries of the pages getting a system page (xa_erase), under the mutex:
 * the invalidation this device skipped (its own MMU_NOTIFY_MIGRATE), done as part of the migration.
 */
export function* dmirrorEraseMigrated(
  dmirror: TestHmmDmirror,
  start: number,
  dst: Float64Array,
  npages: number,
): Task {
  yield* dmirror.mutex.lock();
  // One doUpdate per run of consecutive pages: the same entries erased, one device TLB flush each.
  // A compound destination stands for 512 pages.
  const span = (i: number) =>
    migratePfnToPage(dst[i] as number) < 0
      ? 0
      : migratePfnFlags(dst[i] as number) & MIGRATE_PFN_COMPOUND
        ? HPAGE_PMD_NR
        : 1;
  for (let i = 0; i < npages; ) {
    if (span(i) === 0) {
      i++;
      continue;
    }
    let j = i + span(i);
    while (j < npages && span(j) > 0) j += span(j);
    dmirror.doUpdate(start + i * PAGE_SIZE, start + j * PAGE_SIZE);
    i = j;
  }
  dmirror.mutex.unlock();
}

/**
 * dmirror_devmem_fault (dev_pagemap_ops.migrate_to_ram): migrate the one page the CPU touched
 * (vmf->page, locked by the fault path: `faultPage`) back to system memory, with the dmirror that
 * allocated it (its zone_device_data). VM_FAULT_SIGBUS if setup refuses, VM_FAULT_OOM without a
 * system page (the entry is restored), else 0.
 */
export function* dmirrorDevmemFault(mdevice: TestHmmDevice, vmf: DevFault): Task<number> {
  const dmirror = pageZoneDeviceData(mdevice.kernel, vmf.pfn) as TestHmmDmirror;
  mdevice.device.counters.cpuFaults++;
  mdevice.device.cost.cpuFault();
  mdevice.device.cost.record('cpu-fault', 1);
  // The folio's order, but a PTE of a large folio (its PMD split) migrates its page alone.
  const nr = vmf.pmd === true && mdevice.kernel.mem.store.isCompound(vmf.pfn) ? HPAGE_PMD_NR : 1;
  const size = nr * PAGE_SIZE;
  const start = vmf.address - (vmf.address % size);
  const flags = selectDevice(mdevice) | (nr > 1 ? MIGRATE_VMA_SELECT_COMPOUND : 0);
  const args = migrateArgs(mdevice, vmf.vma as Vma, start, start + size, flags, {
    src: new Float64Array(nr),
    dst: new Float64Array(nr),
  });
  args.faultPage = vmf.pfn;
  if ((yield* migrateVmaSetup(args)) !== 0) return VM_FAULT_SIGBUS;
  const ret = yield* faultAllocAndCopy(dmirror, args);
  if (ret !== 0) {
    migrateVmaFinalize(args);
    return ret;
  }
  yield* migrateVmaPages(args);
  migrateVmaFinalize(args);
  return 0;
}

// -- release ---------------------------------------------------------------------------------------

/**
 * HMM_DMIRROR_RELEASE: dmirror_device_remove_chunks on the device — every page in use, in any
 * process, is evicted to system memory by pfn (migrate_device_range), and the memory is
 * memunmap'd. The range only passes the ioctl's checks; `cpages` is 0.
 */
export function* dmirrorRelease(
  dmirror: TestHmmDmirror,
  addr: number,
  npages: number,
): Task<DmirrorCmdResult | number> {
  const bad = dmirrorCheckCmd(addr, npages);
  if (bad < 0) return bad;
  yield* dmirror.mdevice.removeChunks();
  return { cpages: 0, faults: 0 };
}
