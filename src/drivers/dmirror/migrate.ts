/**
 * dmirror's migrations: HMM_DMIRROR_MIGRATE moves a range to device memory with migrate_vma, and
 * the devmem fault callback moves one page the CPU touched back to system memory. Copies go
 * through the device's DMA engine, one transfer per migrate_vma batch.
 *
 * The v5.3 core has no owner filter: collect returns device-private pages of every device, and
 * the driver skips them (as the v5.8 driver does), so a page on another device is not moved by
 * MIGRATE. Seed-era invalidations carry no owner either, so migrating a range also erases this
 * device's own entries in it (docs/kernel-hmm.md §6 #19; docs/fidelity.md).
 *
 * @see lib/test_hmm.c (dmirror_migrate, dmirror_migrate_alloc_and_copy,
 *      dmirror_migrate_finalize_and_map, dmirror_devmem_fault_alloc_and_copy) (Linux v5.8)
 */

import { PAGE_SIZE } from '../../core/addr.js';
import { ArgumentError, EINVAL } from '../../core/errno.js';
import { hmmVmaAllocLockedPage } from '../../hmm/seed/devmem.js';
import { VM_FAULT_SIGBUS } from '../../mm/fault.js';
import type { MigrateVmaOps } from '../../mm/migrate.js';
import {
  MIGRATE_PFN_DEVICE,
  MIGRATE_PFN_ERROR,
  MIGRATE_PFN_LOCKED,
  MIGRATE_PFN_MIGRATE,
  MIGRATE_PFN_WRITE,
  migratePfn,
  migratePfnFlags,
  migratePfnSet,
  migratePfnToPage,
  migrateVma,
  vmaMm,
} from '../../mm/migrate.js';
import { mmput } from '../../mm/mm.js';
import type { Vma } from '../../mm/vma.js';
import { VM_READ, VM_WRITE } from '../../mm/vma.js';
import type { Task } from '../../sched/index.js';
import type { Dmirror } from './dmirror.js';
import type { DmirrorDevice } from './mdevice.js';

/** Pages per migrate_vma call (test_hmm's 64-entry src/dst arrays). */
export const DMIRROR_MIGRATE_BATCH = 64;

/**
 * The HMM_DMIRROR_MIGRATE body before the read-back: -EINVAL for a missing or unreadable VMA.
 * `batch` is the number of pages per migrate_vma call (default DMIRROR_MIGRATE_BATCH, test_hmm's).
 */
export function* dmirrorMigrateRange(
  dmirror: Dmirror,
  start: number,
  end: number,
  batch: number = DMIRROR_MIGRATE_BATCH,
): Task<number> {
  return yield* migrateRangeBatched(dmirror, start, end, batch, toDeviceOps, dmirror);
}

/**
 * Migrates the pages of [start, end) that sit in this device's memory back to system memory, `batch`
 * pages per migrate_vma call: the range form of the CPU fault path (lib/test_hmm.c's
 * HMM_DMIRROR_MIGRATE_TO_SYS of v6.x, on the seed API). Pages in system memory or on another device
 * are left where they are. -EINVAL for a missing or unreadable VMA, as HMM_DMIRROR_MIGRATE.
 */
export function* dmirrorMigrateRangeToRam(
  dmirror: Dmirror,
  start: number,
  end: number,
  batch: number = DMIRROR_MIGRATE_BATCH,
  why: 'migrate-to-ram' | 'eviction' = 'migrate-to-ram',
): Task<number> {
  const priv: ToRam = { mdevice: dmirror.mdevice, ownOnly: true, why };
  return yield* migrateRangeBatched(dmirror, start, end, batch, toRamOps, priv);
}

/** What the to-RAM callbacks need: the device, whether to leave other devices' pages, and why (for the trace). */
interface ToRam {
  readonly mdevice: DmirrorDevice;
  readonly ownOnly: boolean;
  readonly why: 'migrate-to-ram' | 'eviction' | 'cpu-fault';
}

/** migrate_vma over [start, end), VMA by VMA, at most `batch` pages per call, under mmap_sem. */
function* migrateRangeBatched(
  dmirror: Dmirror,
  start: number,
  end: number,
  batch: number,
  ops: MigrateVmaOps,
  priv: unknown,
): Task<number> {
  if (!Number.isInteger(batch) || batch < 1)
    throw new ArgumentError('batch', `expected an integer >= 1, got ${batch}`);
  const mm = dmirror.mm;
  if (!mm.mmgetNotZero()) return -EINVAL;
  yield* mm.mmapSem.downRead();
  let ret = 0;
  // The src/dst arrays, reused for every batch as the driver's would be.
  const src = new Float64Array(Math.min(batch, Math.max(0, (end - start) / PAGE_SIZE)));
  const dst = new Float64Array(src.length);
  try {
    for (let addr = start; addr < end; ) {
      const vma = mm.findVma(addr);
      if (vma === null || addr < vma.start || !(vma.flags & VM_READ)) {
        ret = -EINVAL;
        break;
      }
      const next = Math.min(end, vma.end, addr + batch * PAGE_SIZE);
      const n = (next - addr) / PAGE_SIZE;
      ret = yield* migrateVma(ops, vma, addr, next, src.subarray(0, n), dst.subarray(0, n), priv);
      if (ret !== 0) break;
      addr = next;
    }
  } finally {
    mm.mmapSem.upRead();
  }
  yield* mmput(mm);
  return ret;
}

const toDeviceOps: MigrateVmaOps = {
  allocAndCopy: (vma, src, dst, start, end, priv) =>
    allocAndCopyToDevice(vma, src, dst, start, end, priv as Dmirror),
  finalizeAndMap: (_vma, src, dst, start, end, priv) =>
    finalizeAndMapOnDevice(src, dst, start, end, priv as Dmirror),
};

/** dmirror_migrate_alloc_and_copy: device pages for every collected system page or hole. */
function allocAndCopyToDevice(
  vma: Vma,
  src: Float64Array,
  dst: Float64Array,
  start: number,
  end: number,
  dmirror: Dmirror,
): void {
  const mdevice = dmirror.mdevice;
  const dstPages: number[] = [];
  const srcPages: number[] = [];
  for (let i = 0; i < (end - start) / PAGE_SIZE; i++) {
    const f = migratePfnFlags(src[i] as number);
    if (!(f & MIGRATE_PFN_MIGRATE) || f & MIGRATE_PFN_DEVICE) continue;
    const dpage = mdevice.allocPage(dmirror);
    if (dpage < 0) continue;
    dstPages.push(dpage);
    srcPages.push(migratePfnToPage(src[i] as number));
    const spage = migratePfnToPage(src[i] as number);
    const write = f & MIGRATE_PFN_WRITE || (spage < 0 && vma.flags & VM_WRITE);
    dst[i] = migratePfnSet(migratePfn(dpage), MIGRATE_PFN_LOCKED | (write ? MIGRATE_PFN_WRITE : 0));
  }
  mdevice.device.dma.submit(dstPages, srcPages);
}

/** dmirror_migrate_finalize_and_map: map every page that moved in the device page table. */
function* finalizeAndMapOnDevice(
  src: Float64Array,
  dst: Float64Array,
  start: number,
  end: number,
  dmirror: Dmirror,
): Task {
  yield* dmirror.mutex.lock();
  let moved = 0;
  for (let i = 0; i < (end - start) / PAGE_SIZE; i++) {
    const dpage = migratePfnToPage(dst[i] as number);
    const migrated = (migratePfnFlags(src[i] as number) & MIGRATE_PFN_MIGRATE) !== 0;
    if (dpage < 0 || !dmirror.mapsDestination(migrated)) continue;
    const write = (migratePfnFlags(dst[i] as number) & MIGRATE_PFN_WRITE) !== 0;
    const vpn = (start + i * PAGE_SIZE) / PAGE_SIZE;
    dmirror.mmu.map(vpn, dpage, write);
    dmirror.mdevice.noteMapped(dpage, vpn);
    if (migrated) moved++;
  }
  dmirror.mutex.unlock();
  noteMigrated(dmirror.mdevice, 'migrate-to-device', moved, (end - start) / PAGE_SIZE);
}

/**
 * dmirror_devmem_fault: the CPU touched a page this device holds. Migrate exactly that page back;
 * SIGBUS if it cannot be (no system page: MIGRATE_PFN_ERROR).
 */
export function* dmirrorDevmemFault(
  mdevice: DmirrorDevice,
  vma: Vma,
  addr: number,
  _pfn: number,
): Task<number> {
  const src = new Float64Array(1);
  const dst = new Float64Array(1);
  mdevice.device.counters.cpuFaults++;
  mdevice.device.cost.cpuFault();
  mdevice.device.cost.record('cpu-fault', 1);
  const priv: ToRam = { mdevice, ownOnly: false, why: 'cpu-fault' };
  const ret = yield* migrateVma(toRamOps, vma, addr, addr + PAGE_SIZE, src, dst, priv);
  if (ret < 0 || migratePfnFlags(dst[0] as number) & MIGRATE_PFN_ERROR) return VM_FAULT_SIGBUS;
  return 0;
}

/** The fault form moves the one page touched; the range form only this device's pages (ToRam.ownOnly). */
const toRamOps: MigrateVmaOps = {
  allocAndCopy: (vma, src, dst, start, end, priv) =>
    allocAndCopyToRam(vma, src, dst, start, end, priv as ToRam),
  finalizeAndMap: () => undefined,
};

/**
 * dmirror_devmem_fault_alloc_and_copy: a system page for each device page, copied by DMA. A
 * page from device memory must not be declined; without a system page it gets MIGRATE_PFN_ERROR.
 */
function allocAndCopyToRam(
  vma: Vma,
  src: Float64Array,
  dst: Float64Array,
  start: number,
  end: number,
  to: ToRam,
): void {
  const { mdevice, ownOnly } = to;
  const mm = vmaMm(vma);
  const dstPages: number[] = [];
  const srcPages: number[] = [];
  for (let i = 0; i < (end - start) / PAGE_SIZE; i++) {
    const f = migratePfnFlags(src[i] as number);
    if (!(f & MIGRATE_PFN_MIGRATE)) continue;
    const spage = migratePfnToPage(src[i] as number);
    // Declining is allowed for pages not in device memory; this device's pages must not be declined.
    if (ownOnly && (!(f & MIGRATE_PFN_DEVICE) || !mdevice.owns(spage))) continue;
    const rpage = hmmVmaAllocLockedPage(mm, vma, start + i * PAGE_SIZE);
    if (rpage < 0) {
      dst[i] = MIGRATE_PFN_ERROR;
      continue;
    }
    dstPages.push(rpage);
    srcPages.push(spage);
    dst[i] = migratePfnSet(migratePfn(rpage), MIGRATE_PFN_LOCKED | (f & MIGRATE_PFN_WRITE));
  }
  mdevice.device.dma.submit(dstPages, srcPages);
  noteMigrated(mdevice, to.why, dstPages.length, (end - start) / PAGE_SIZE);
}

/** Counters, cost and trace of one migrate_vma call that moved `pages` of `npages`. */
function noteMigrated(
  mdevice: DmirrorDevice,
  why: ToRam['why'] | 'migrate-to-device',
  pages: number,
  npages: number,
): void {
  const device = mdevice.device;
  device.cost.migrateCall(npages);
  if (why === 'migrate-to-device') device.counters.migratedToDevice += pages;
  else device.counters.migratedToRam += pages;
  // A CPU fault's migration is a migration to RAM on the timeline; the fault itself is its own event.
  if (pages > 0) device.cost.record(why === 'cpu-fault' ? 'migrate-to-ram' : why, pages);
}
