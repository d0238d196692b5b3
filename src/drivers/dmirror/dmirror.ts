/**
 * struct dmirror: one open of /dev/hmm_dmirrorN, bound to the opener's mm through an hmm_mirror.
 * It owns a device page table and the "driver->update" lock of hmm.rst: the lock its
 * sync_cpu_device_pagetables callback takes, and the lock held around hmm_range_valid() and every
 * write to the device page table.
 *
 * The device-side commands follow lib/test_hmm.c: READ and WRITE copy through the device page
 * table and fault missing pages in one round per miss (`faults` counts rounds); SNAPSHOT reports
 * one HMM_DMIRROR_PROT_* byte per page without faulting; MIGRATE (migrate.ts) moves a range to
 * device memory and reads it back.
 *
 * @see lib/test_hmm.c (Linux v5.8), rebuilt on the v5.3 API as docs/kernel-hmm.md §4.7 says
 */

import { PAGE_SIZE } from '../../core/addr.js';
import { ArgumentError, CALL_PAGES_MAX, EAGAIN, EINVAL, ENOENT, ENOMEM } from '../../core/errno.js';
import type { HostArrays } from '../../core/host_arrays.js';
import type { DevicePageTable } from '../../device/device_pagetable.js';
import { DevicePageTable as Dpt } from '../../device/device_pagetable.js';
import type { DeviceKernel, LaunchOptions } from '../../device/kernel.js';
import { launchKernel } from '../../device/launch.js';
import { DeviceMmu } from '../../device/mmu.js';
import type { DeviceTlb } from '../../device/tlb.js';
import { HmmMirror, hmmMirrorRegister, hmmMirrorUnregister } from '../../hmm/seed/mirror.js';
import { hmmRangeFault, hmmRangeUnregister, hmmRangeValid } from '../../hmm/seed/range.js';
import type { HmmRange, HmmUpdate } from '../../hmm/seed/types.js';
import type { MmStruct } from '../../mm/mm.js';
import type { MaybeTask } from '../../mm/mmu_notifier.js';
import { kfree, kmallocMember, kzalloc } from '../../mm/slab.js';
import { type MigrationPolicy, POLICY_NONE } from '../../policy/policy.js';
import type { Task } from '../../sched/index.js';
import { currentOrNull, Mutex } from '../../sched/index.js';
import type { Driver, DriverContext, FaultService } from '../driver.js';
import type { DmirrorDevice } from './mdevice.js';
import { dmirrorMigrateRange } from './migrate.js';
import { dmirrorFault } from './populate.js';
import { ResidentPages } from './resident.js';
import { dmirrorSnapshotRange } from './snapshot.js';
import type { DmirrorReadResult, DmirrorSnapshotResult, DmirrorWriteResult } from './uapi.js';
import type { DmirrorVariant } from './variants.js';

export class Dmirror implements Driver {
  /** The device this context was opened on (struct dmirror_device), shared by its contexts. */
  readonly mdevice: DmirrorDevice;
  /** This context's number on its device (open order). */
  readonly id: number;
  readonly mm: MmStruct;
  readonly mirror: HmmMirror;
  readonly pt: DevicePageTable;
  /** The device MMU of this address space: TLB, page table, fault buffer. */
  readonly mmu: DeviceMmu;
  /**
   * The driver's residency books: vpn -> device page, for pages this context migrated to device
   * memory and that are still there (a freed device page leaves). Real drivers keep the same per VA
   * block (UVM's resident masks); the policy step migrates only what is not resident, so a fault in
   * a half-resident block does not invalidate the resident half.
   */
  readonly resident: ResidentPages;
  /** What to migrate on a device fault (policy.ts); mirror only by default, as test_hmm. */
  policy: MigrationPolicy = POLICY_NONE;
  /** driver->update. */
  readonly mutex: Mutex;
  /** The mm was torn down (mirror release): every later access faults, and faults find no mm. */
  released = false;
  closed = false;
  /** The device page table models a GPU's, walked by hardware until cleared (DriverView). */
  readonly liveUntilCleared = true;
  /** 'correct', or one of the broken drivers of variants.ts. */
  readonly variant: DmirrorVariant;
  private readonly registeredAs: string;
  /** What services this context's launches (DriverContext.faultService: the svm engine). */
  private readonly faultService: FaultService | undefined;
  /** The deviation this instance carries (empty for 'correct'): a description, never tested here. */
  readonly bugs: ReadonlySet<DmirrorVariant>;

  /** The driver opened by the registry's factory (DriverContext: device, mm, the machine's HMM and stream). */
  /**
   * `deviation`: set only by the broken drivers of src/drivers/dmirror_broken/, each naming the one
   * step it overrides; it describes the instance (variant, bugs) and changes nothing here.
   */
  constructor(ctx: DriverContext, deviation?: Exclude<DmirrorVariant, 'correct'>) {
    const mdevice = ctx.mdevice;
    this.mdevice = mdevice;
    this.resident = new ResidentPages(mdevice.kernel.mem.arrays);
    this.id = mdevice.newContextId();
    this.pt = new Dpt(ctx.trace);
    this.mmu = new DeviceMmu(mdevice.device, this.pt, ctx.tlbEntries);
    this.mm = ctx.mm;
    this.variant = deviation ?? 'correct';
    this.registeredAs = ctx.name;
    this.faultService = ctx.faultService;
    this.bugs = new Set(deviation === undefined ? [] : [deviation]);
    this.mutex = new Mutex('dmirror.mutex');
    // dmirror_fops_open's kzalloc; the hmm_mirror is embedded in it (dmirror->mirror), so KASAN
    // sees a use of either after dmirror_fops_release's kfree.
    const slab = ctx.mm.kernel.slab;
    kzalloc(slab, this, 'struct dmirror', 'dmirror_fops_open', () => this.name);
    const mirror = new HmmMirror(
      {
        release: () => this.mirrorRelease(),
        syncCpuDevicePagetables: (_m, update) => this.syncCpuDevicePagetables(update),
      },
      ctx.hmm,
    );
    this.mirror = kmallocMember(slab, this, mirror, 'mirror');
  }

  /** dmirror_fops_open: register the mirror (hmm_mirror_register needs mmap_sem for write). */
  *open(): Task<number> {
    yield* this.mm.mmapSem.downWrite();
    try {
      return hmmMirrorRegister(this.mirror, this.mm);
    } finally {
      this.mm.mmapSem.upWrite();
    }
  }

  /**
   * dmirror_fops_release: the device stops using the address space first (its page table cleared
   * under the update lock), then the mirror goes. The other order leaves a window in which a CPU
   * fault migrates a device page back and frees it while the device, no longer told of
   * invalidations, still maps it (close-vs-cpuread, docs/explorer.md).
   */
  *close(): Task {
    this.closed = true;
    yield* this.mutex.lock();
    this.clearAll();
    this.mutex.unlock();
    yield* hmmMirrorUnregister(this.mirror);
    this.dropDevicePages();
    kfree(this.mm.kernel.slab, this, 'dmirror_fops_release');
  }

  /**
   * Before the struct goes: the device pages this context leaves in device memory stop naming it
   * (their drvdata and the device's books), so a later CPU fault or free of one reads no freed
   * dmirror. lib/test_hmm.c does not (its dmirror_devmem_fault reads rpage->zone_device_data, the
   * freed dmirror, after a close: docs/explorer.md, "Object lifetimes").
   */
  protected dropDevicePages(): void {
    this.mdevice.dropOwner(this);
  }

  /** Drops every device mapping and cached translation (under the update lock). */
  private clearAll(): void {
    this.pt.clear();
    this.mmu.flush();
  }

  /**
   * sync_cpu_device_pagetables: erase the device entries in [start, end) before returning. When the
   * update may not block, only a trylock is allowed, and -EAGAIN says "would have slept".
   */
  syncCpuDevicePagetables(update: HmmUpdate): number | Task<number> {
    if (!update.blockable) {
      if (!this.mutex.trylock()) return -EAGAIN;
      this.erase(update.start, update.end);
      this.mutex.unlock();
      return 0;
    }
    return this.syncBlocking(update);
  }

  /** The blocking invalidation: erase under the update lock (mutex_lock may sleep). */
  protected *syncBlocking(update: HmmUpdate): Task<number> {
    yield* this.mutex.lock();
    this.erase(update.start, update.end);
    this.mutex.unlock();
    return 0;
  }

  /**
   * Erases [start, end) of the device page table, like every writer of it under the update lock,
   * then invalidates the device TLB for what was erased (a real driver's PFNCLR + TLB flush).
   */
  protected erase(start: number, end: number): void {
    this.mutex.assertHeld();
    const first = Math.floor(start / PAGE_SIZE);
    const last = Math.ceil(end / PAGE_SIZE);
    const erased = this.erasePtEntries(first, last);
    const device = this.mdevice.device;
    device.counters.invalidations++;
    if (erased === 0) return;
    device.counters.invalidatedPages += erased;
    this.mmu.invalidateRange(first, last);
    device.cost.tlbInvalidate();
    device.cost.record('invalidation', erased);
  }

  /** dmirror_do_update's erase of [first, last) from the device page table; returns how many. */
  protected erasePtEntries(first: number, last: number): number {
    return this.pt.eraseRange(first, last);
  }

  // -- the steps of driver_populate_range (populate.ts) and of finalize_and_map (migrate.ts) --------

  /** hmm_range_fault of a populate (block: true); -EBUSY makes populate wait and retry. */
  *rangeFault(range: HmmRange): Task<number> {
    return yield* hmmRangeFault(range, true);
  }

  /**
   * Between the walk and taking the update lock: nothing in the correct driver. False makes
   * populate drop mmap_sem and walk again; a broken step may sleep (return a Task).
   */
  beforeUpdateLock(_range: HmmRange): MaybeTask<boolean> {
    return true;
  }

  /** Under the update lock, before programming the device: hmm_range_valid (false: walk again). */
  checkValid(range: HmmRange): boolean {
    return hmmRangeValid(range);
  }

  /** After programming, still under the lock: hmm_range_unregister. */
  *rangeDone(range: HmmRange): Task {
    yield* hmmRangeUnregister(range);
  }

  /**
   * finalize_and_map: whether a device page allocated for the migration is mapped — only if the
   * source page migrated (MIGRATE_PFN_MIGRATE still set).
   */
  mapsDestination(migrated: boolean): boolean {
    return migrated;
  }

  /** hmm_mirror_ops.release: the mm is going away; no access through the device after this. */
  protected *mirrorRelease(): Task {
    yield* this.mutex.lock();
    this.released = true;
    this.clearAll();
    this.mutex.unlock();
  }

  /**
   * Runs a device kernel on `threads` device threads in this address space: their accesses go
   * through this context's MMU, and their faults are serviced by the fault service the registry
   * opened it with (the svm engine, drivers/svm/: batches, migration policy, eviction). The ioctls
   * (test_hmm's design) do not use it.
   */
  *launch<T>(kernel: DeviceKernel<T>, opts: LaunchOptions & { preemptible?: boolean } = {}): Task<T[]> {
    if (this.faultService === undefined)
      throw new ArgumentError(
        'faultService',
        'this driver was opened without one: its device faults have no handler',
      );
    return yield* launchKernel(this.mmu, this.mdevice.kernel.mem, this.faultService(this), kernel, opts);
  }

  /** The registry name this instance was created under. */
  get driverName(): string {
    return this.registeredAs;
  }

  /** True if the current thread holds driver->update. */
  updateLockHeld(): boolean {
    return this.mutex.owner !== null && this.mutex.owner === currentOrNull();
  }

  /** driver->update itself (DriverView.updateLock). */
  get updateLock(): Mutex {
    return this.mutex;
  }

  /** For checker messages: the device and this context's number. */
  get name(): string {
    return `${this.mdevice.device.name}.${this.id}`;
  }

  /** The device TLB of this address space. */
  get tlb(): DeviceTlb {
    return this.mmu.tlb;
  }

  /** True if pfn is a page of this device's memory (the mirror may map it). */
  owns(pfn: number): boolean {
    return this.mdevice.owns(pfn);
  }

  /** HMM_DMIRROR_READ. */
  *read(addr: number, npages: number): Task<DmirrorReadResult | number> {
    const bad = checkCmd(addr, npages);
    if (bad) return bad;
    const end = addr + npages * PAGE_SIZE;
    const data = dmirrorBounceInit(this.mdevice.kernel.mem.arrays, npages);
    if (data === null) return -ENOMEM;
    let cpages = 0;
    let faults = 0;
    for (;;) {
      yield* this.mutex.lock();
      const r = this.doRead(addr, end, data, cpages);
      this.mutex.unlock();
      cpages = r.cpages;
      if (r.ret !== -ENOENT) {
        if (r.ret < 0) return r.ret;
        break;
      }
      const ret = yield* dmirrorFault(this, addr + cpages * PAGE_SIZE, end, false);
      if (ret < 0) return ret;
      faults++;
    }
    return { data, cpages, faults };
  }

  /** dmirror_do_read: copy from `done` pages on, stopping at the first page the device does not map. */
  private doRead(addr: number, end: number, data: Uint8Array, done: number): { ret: number; cpages: number } {
    const dma = this.mdevice.device.dma;
    let cpages = done;
    for (let a = addr + done * PAGE_SIZE; a < end; a += PAGE_SIZE, cpages++) {
      const pfn = this.pt.pfnOf(a / PAGE_SIZE);
      if (pfn < 0) return { ret: -ENOENT, cpages };
      dma.read(pfn, 0, data, a - addr, PAGE_SIZE);
    }
    return { ret: 0, cpages };
  }

  /**
   * HMM_DMIRROR_WRITE of npages = bytes.length / PAGE_SIZE: the ioctl copies npages whole pages from
   * the caller's buffer, so a buffer that is not whole pages (a fractional npages) is -EINVAL.
   */
  *write(addr: number, bytes: Uint8Array): Task<DmirrorWriteResult | number> {
    const npages = bytes.length / PAGE_SIZE;
    const bad = checkCmd(addr, npages);
    if (bad) return bad;
    const end = addr + npages * PAGE_SIZE;
    const data = dmirrorBounceInit(this.mdevice.kernel.mem.arrays, npages);
    if (data === null) return -ENOMEM;
    data.set(bytes);
    let cpages = 0;
    let faults = 0;
    for (;;) {
      yield* this.mutex.lock();
      const r = this.doWrite(addr, end, data, cpages);
      this.mutex.unlock();
      cpages = r.cpages;
      if (r.ret !== -ENOENT) {
        if (r.ret < 0) return r.ret;
        break;
      }
      const ret = yield* dmirrorFault(this, addr + cpages * PAGE_SIZE, end, true);
      if (ret < 0) return ret;
      faults++;
    }
    return { cpages, faults };
  }

  /** dmirror_do_write: a missing entry, or one without write permission, ends the pass. */
  private doWrite(
    addr: number,
    end: number,
    data: Uint8Array,
    done: number,
  ): { ret: number; cpages: number } {
    const dma = this.mdevice.device.dma;
    let cpages = done;
    for (let a = addr + done * PAGE_SIZE; a < end; a += PAGE_SIZE, cpages++) {
      const vpn = a / PAGE_SIZE;
      if (!this.pt.isWritable(vpn)) return { ret: -ENOENT, cpages };
      dma.write(this.pt.pfnOf(vpn), 0, data, a - addr, PAGE_SIZE);
    }
    return { ret: 0, cpages };
  }

  /** HMM_DMIRROR_MIGRATE: to device memory, then read back through the device page table. */
  *migrate(addr: number, npages: number): Task<DmirrorReadResult | number> {
    const bad = checkCmd(addr, npages);
    if (bad) return bad;
    const end = addr + npages * PAGE_SIZE;
    const ret = yield* dmirrorMigrateRange(this, addr, end);
    if (ret < 0) return ret;
    // As v5.8's dmirror_migrate: the bounce buffer for the read-back is allocated after migrating.
    const data = dmirrorBounceInit(this.mdevice.kernel.mem.arrays, npages);
    if (data === null) return -ENOMEM;
    yield* this.mutex.lock();
    const r = this.doRead(addr, end, data, 0);
    this.mutex.unlock();
    if (r.ret < 0) return r.ret;
    return { data, cpages: r.cpages, faults: 0 };
  }

  /** HMM_DMIRROR_SNAPSHOT. */
  *snapshot(addr: number, npages: number): Task<DmirrorSnapshotResult | number> {
    const bad = checkCmd(addr, npages);
    if (bad) return bad;
    const prot = new Uint8Array(npages);
    const ret = yield* dmirrorSnapshotRange(this, addr, addr + npages * PAGE_SIZE, prot);
    if (ret < 0) return ret;
    return { prot, cpages: npages };
  }
}

/** dmirror_bounce_init's vmalloc fails (-ENOMEM) beyond this many pages (1 GiB). */
export const DMIRROR_BOUNCE_PAGES_MAX = CALL_PAGES_MAX;

/**
 * dmirror_bounce_init: the buffer READ, WRITE and MIGRATE copy through, or null as vmalloc fails.
 * It comes from the machine's arrays, as vmalloc's memory from the kernel's: a READ hands it to the
 * caller instead of copying it to a user buffer, so it is valid until the machine is released.
 */
function dmirrorBounceInit(arrays: HostArrays, npages: number): Uint8Array | null {
  return npages > DMIRROR_BOUNCE_PAGES_MAX ? null : arrays.u8(npages * PAGE_SIZE);
}

/** The ioctl prologue: addr page aligned and addr + npages * PAGE_SIZE > addr (so npages > 0). */
function checkCmd(addr: number, npages: number): number {
  if (addr % PAGE_SIZE !== 0 || !Number.isInteger(npages) || npages <= 0) return -EINVAL;
  return 0;
}
