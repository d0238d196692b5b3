/**
 * struct dmirror of today's lib/test_hmm.c: one open of /dev/hmm_dmirrorN on the modern HMM API.
 * Opening inserts an mmu interval notifier over the whole address space of the opener; its
 * invalidate callback takes dmirror->mutex, records the sequence count (mmu_interval_set_seq) and
 * erases the range from the device page table, except for the MMU_NOTIFY_MIGRATE invalidations
 * this device's own migrations issue (they carry the device as owner, and the migration updates
 * the device page table itself).
 *
 * The ioctls are the kernel's, each in the file of its step: READ/WRITE (fault.ts: dmirror_fault
 * on hmm_range_fault), SNAPSHOT (snapshot.ts), MIGRATE_TO_DEV/MIGRATE_TO_SYS/RELEASE (migrate.ts),
 * EXCLUSIVE/CHECK_EXCLUSIVE (exclusive.ts), FLAGS (here). Device kernels (launch) are serviced by
 * the svm engine's modern service, which the registry hands it (src/drivers/svm/modern.ts).
 *
 * The device page table is the DevicePageTable of src/device (test_hmm's xarray of page + tag),
 * which the coherence checker compares with the CPU's; the device MMU adds the TLB a launch uses.
 *
 * @see lib/test_hmm.c (Linux v6.19: dmirror_fops_open, dmirror_interval_invalidate,
 * dmirror_do_update, dmirror_fops_unlocked_ioctl)
 */

import { PAGE_SIZE } from '../../core/addr.js';
import { ArgumentError, EINVAL } from '../../core/errno.js';
import { DevicePageTable } from '../../device/device_pagetable.js';
import type { DeviceKernel, LaunchOptions } from '../../device/kernel.js';
import { launchKernel } from '../../device/launch.js';
import { DeviceMmu } from '../../device/mmu.js';
import type { DeviceTlb } from '../../device/tlb.js';
import type { HmmRange } from '../../hmm/modern/index.js';
import type { MmStruct } from '../../mm/mm.js';
import {
  MmuIntervalNotifier,
  mmuIntervalNotifierInsert,
  mmuIntervalNotifierRemove,
  mmuIntervalSetSeq,
} from '../../mm/mmu_interval_notifier.js';
import { MMU_NOTIFY_MIGRATE, type MmuNotifierRange } from '../../mm/mmu_notifier.js';
import { kfree, kmallocMember, kzalloc } from '../../mm/slab.js';
import { type MigrationPolicy, POLICY_NONE } from '../../policy/policy.js';
import type { Task } from '../../sched/index.js';
import { currentOrNull, Mutex } from '../../sched/index.js';
import type { DmirrorReadResult, DmirrorSnapshotResult, DmirrorWriteResult } from '../dmirror/uapi.js';
import type { Driver, FaultService, ModernDriverContext } from '../driver.js';
import type { TestHmmDevice } from './device.js';
import { dmirrorAtomicMapAndRelease, dmirrorCheckExclusive, dmirrorExclusive } from './exclusive.js';
import {
  dmirrorLockIfCurrent,
  dmirrorProgramAndUnlock,
  dmirrorRangeWalk,
  dmirrorRead,
  dmirrorWrite,
} from './fault.js';
import {
  dmirrorEraseMigrated,
  dmirrorMigrateToDevice,
  dmirrorMigrateToSystem,
  dmirrorRelease,
} from './migrate.js';
import { dmirrorSnapshot } from './snapshot.js';
import type { DmirrorCmdResult } from './uapi.js';

/** One open of today's /dev/hmm_dmirrorN (struct dmirror): see the file comment. */
export class TestHmmDmirror implements Driver {
  /** dmirror->mdevice: the device it was opened on. */
  readonly mdevice: TestHmmDevice;
  /** This context's number on its device (open order). */
  readonly id: number;
  /** The address space it mirrors (dmirror->notifier.mm). */
  readonly mm: MmStruct;
  /** dmirror->notifier: the interval notifier over [0, ULONG_MAX & PAGE_MASK). */
  readonly notifier = new MmuIntervalNotifier();
  /** dmirror->mutex: taken by invalidate and around every device page-table write. */
  readonly mutex: Mutex;
  /** dmirror->pt. */
  readonly pt: DevicePageTable;
  /** The device MMU of this address space: TLB, page table, fault buffer. */
  readonly mmu: DeviceMmu;
  /** HMM_DMIRROR_FLAGS (HMM_DMIRROR_FLAG_FAIL_ALLOC). */
  flags = 0;
  /** What a device fault of a launch migrates (the facade's setPolicy); default: mirror only. */
  policy: MigrationPolicy = POLICY_NONE;
  closed = false;
  private readonly registeredAs: string;
  /** What services this context's launches (ModernDriverContext.faultService). */
  private readonly faultService: FaultService | undefined;

  constructor(ctx: ModernDriverContext) {
    this.mdevice = ctx.mdevice;
    this.id = ctx.mdevice.newContextId();
    this.mm = ctx.mm;
    this.registeredAs = ctx.name;
    this.faultService = ctx.faultService;
    this.mutex = new Mutex('dmirror.mutex');
    this.pt = new DevicePageTable(ctx.trace);
    this.mmu = new DeviceMmu(ctx.mdevice.device, this.pt, ctx.tlbEntries);
    // dmirror_fops_open's kzalloc; the interval notifier is embedded in it (dmirror->notifier).
    const slab = ctx.mm.kernel.slab;
    kzalloc(slab, this, 'struct dmirror', 'dmirror_fops_open', () => this.name);
    kmallocMember(slab, this, this.notifier, 'notifier');
  }

  /** dmirror_fops_open: mirror the opener's whole address space. */
  *open(): Task<number> {
    return yield* mmuIntervalNotifierInsert(this.notifier, this.mm, 0, DMIRROR_INTERVAL_LENGTH, {
      invalidate: (sub, range, curSeq) => this.intervalInvalidate(sub, range, curSeq),
    });
  }

  /**
   * dmirror_fops_release: no callback runs once the removal returns; the device's pages are
   * evicted (evictDevicePages); then the table goes and the struct is kfreed. The kernel's xa_destroy takes no dmirror->mutex (nothing can race it any more); the model takes it,
   * so that every write of a device page table happens under its driver's lock, the rule the rules
   * checker holds every driver to.
   */
  *close(): Task {
    this.closed = true;
    yield* mmuIntervalNotifierRemove(this.notifier);
    yield* this.evictDevicePages();
    yield* this.mutex.lock();
    this.pt.clear();
    this.mmu.flush();
    this.mutex.unlock();
    kfree(this.mm.kernel.slab, this, 'dmirror_fops_release');
  }

  /**
   * Before the kfree: the device's pages go back to system memory (744dd97752ef), so no page's
   * zone_device_data names this struct once it is freed. Without it, a CPU fault on a page left in
   * device memory reads the freed dmirror in dmirror_devmem_fault (test_hmm.close-no-evict).
   */
  protected *evictDevicePages(): Task {
    yield* this.mdevice.evictChunks();
  }

  /**
   * dmirror_interval_invalidate. A non-blockable range (the OOM reaper) may only trylock, and
   * false says "would have slept".
   */
  intervalInvalidate(
    sub: MmuIntervalNotifier,
    range: MmuNotifierRange,
    curSeq: number,
  ): boolean | Task<boolean> {
    if (range.event === MMU_NOTIFY_MIGRATE && range.owner === this.mdevice) return true;
    if (!range.blockable) {
      if (!this.mutex.trylock()) return false;
      this.setSeqAndUpdate(sub, range, curSeq);
      return true;
    }
    return this.invalidateBlocking(sub, range, curSeq);
  }

  /** The blocking invalidation: mutex_lock (it may sleep), then set_seq, erase and unlock. */
  protected *invalidateBlocking(
    sub: MmuIntervalNotifier,
    range: MmuNotifierRange,
    curSeq: number,
  ): Task<boolean> {
    yield* this.mutex.lock();
    this.setSeqAndUpdate(sub, range, curSeq);
    return true;
  }

  /** Under the mutex: mmu_interval_set_seq, dmirror_do_update, unlock. */
  protected setSeqAndUpdate(sub: MmuIntervalNotifier, range: MmuNotifierRange, curSeq: number): void {
    mmuIntervalSetSeq(sub, curSeq);
    this.doUpdate(range.start, range.end);
    this.mutex.unlock();
  }

  /**
   * dmirror_do_update: erase [start, end) from the device page table (it holds no page
   * references, so erasing is all), then the device TLB entries for it, as a real device would.
   */
  doUpdate(start: number, end: number): void {
    this.mutex.assertHeld();
    const first = Math.floor(start / PAGE_SIZE);
    const last = Math.ceil(end / PAGE_SIZE);
    const device = this.mdevice.device;
    device.counters.invalidations++;
    const erased = this.pt.eraseRange(first, last);
    if (erased === 0) return;
    device.counters.invalidatedPages += erased;
    this.mmu.invalidateRange(first, last);
    device.cost.tlbInvalidate();
    device.cost.record('invalidation', erased);
  }

  // -- the steps of dmirror_range_fault (fault.ts), one method each so that a broken driver
  // (src/drivers/test_hmm_broken/) can override exactly one ---------------------------------

  /** hmm_range_fault under mmap_read_lock: 0, -EBUSY (walk again) or the error. */
  rangeWalk(range: HmmRange): Task<number> {
    return dmirrorRangeWalk(this, range);
  }

  /** mutex_lock + mmu_interval_read_retry: true with the mutex held if the walk is still current. */
  lockIfCurrent(range: HmmRange): Task<boolean> {
    return dmirrorLockIfCurrent(this, range);
  }

  /** dmirror_do_fault and mutex_unlock: program the device page table from the walk. */
  programAndUnlock(range: HmmRange): Task<number> {
    return immediately(dmirrorProgramAndUnlock(this, range));
  }

  /** dmirror_exclusive's step per page (exclusive.ts): map it ATOMIC, then folio_unlock and folio_put. */
  atomicMapAndRelease(addr: number, pfn: number): Task {
    return dmirrorAtomicMapAndRelease(this, addr, pfn);
  }

  /**
   * dmirror_devmem_fault_alloc_and_copy's xa_erase: drop the entries of the pages moving back to
   * system memory, which this device's own MIGRATE invalidation skipped.
   */
  eraseMigrated(start: number, dst: Float64Array, npages: number): Task {
    return dmirrorEraseMigrated(this, start, dst, npages);
  }

  /** HMM_DMIRROR_READ. */
  read(addr: number, npages: number): Task<DmirrorReadResult | number> {
    return dmirrorRead(this, addr, npages);
  }

  /** HMM_DMIRROR_WRITE. */
  write(addr: number, bytes: Uint8Array): Task<DmirrorWriteResult | number> {
    return dmirrorWrite(this, addr, bytes);
  }

  /** HMM_DMIRROR_MIGRATE_TO_DEV. */
  migrate(addr: number, npages: number): Task<DmirrorReadResult | number> {
    return dmirrorMigrateToDevice(this, addr, npages);
  }

  /** HMM_DMIRROR_MIGRATE_TO_SYS. */
  migrateToSys(addr: number, npages: number): Task<DmirrorCmdResult | number> {
    return dmirrorMigrateToSystem(this, addr, npages);
  }

  /** HMM_DMIRROR_SNAPSHOT. */
  snapshot(addr: number, npages: number): Task<DmirrorSnapshotResult | number> {
    return dmirrorSnapshot(this, addr, npages);
  }

  /** HMM_DMIRROR_EXCLUSIVE. */
  exclusive(addr: number, npages: number): Task<DmirrorReadResult | number> {
    return dmirrorExclusive(this, addr, npages);
  }

  /** HMM_DMIRROR_CHECK_EXCLUSIVE. */
  checkExclusive(addr: number, npages: number): Task<DmirrorCmdResult | number> {
    return dmirrorCheckExclusive(this, addr, npages);
  }

  /** HMM_DMIRROR_RELEASE. */
  release(addr: number, npages: number): Task<DmirrorCmdResult | number> {
    return dmirrorRelease(this, addr, npages);
  }

  /** HMM_DMIRROR_FLAGS: the command's npages word is the flags (HMM_DMIRROR_FLAG_FAIL_ALLOC). */
  setFlags(flags: number): Task<DmirrorCmdResult | number> {
    if (!Number.isSafeInteger(flags) || flags < 0) return immediately(-EINVAL);
    this.flags = flags;
    return immediately({ cpages: 0, faults: 0 });
  }

  /**
   * Runs a device kernel in the mirrored address space; its replayable faults go to the fault
   * service the driver was opened with (the svm engine's modern service, drivers/svm/modern.ts:
   * batches, migration policy on migrate_vma, eviction by migrate_device_range, dmirror_fault).
   * test_hmm itself has no device to launch on; this is the modern driver pattern around it.
   */
  *launch<T>(kernel: DeviceKernel<T>, opts: LaunchOptions & { preemptible?: boolean } = {}): Task<T[]> {
    if (this.faultService === undefined)
      throw new ArgumentError('faultService', 'this driver was opened without a fault service');
    return yield* launchKernel(this.mmu, this.mdevice.kernel.mem, this.faultService(this), kernel, opts);
  }

  /** The registry name this instance was created under. */
  get driverName(): string {
    return this.registeredAs;
  }

  /** True if the current thread holds dmirror->mutex. */
  updateLockHeld(): boolean {
    return this.mutex.owner !== null && this.mutex.owner === currentOrNull();
  }

  /** dmirror->mutex itself (DriverView.updateLock). */
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

  /** The owner its migrations and hmm_range_fault pass (dmirror->mdevice). */
  get pgmapOwner(): TestHmmDevice {
    return this.mdevice;
  }

  /** True if pfn is a page of this device's memory. */
  owns(pfn: number): boolean {
    return this.mdevice.owns(pfn);
  }
}

/** A command that completes without sleeping, as a Task. */
// biome-ignore lint/correctness/useYield: completes before any scheduling point
function* immediately<T>(v: T): Task<T> {
  return v;
}

/**
 * The interval test_hmm inserts is [0, ULONG_MAX & PAGE_MASK): every address. Lengths are safe
 * integers here, and user addresses stay below 2^47, so the largest page-aligned safe integer
 * covers the same addresses.
 */
export const DMIRROR_INTERVAL_LENGTH = 2 ** 53 - PAGE_SIZE;
