/**
 * THE driver interface: what the facade (src/sim), the explorer and the checkers need of one open
 * driver instance (one open of a /dev/hmm_dmirrorN-like device by one process), and the factories
 * that open one. dmirror (the seed API) and its broken variants implement it, and so does today's
 * test_hmm (the modern API); a user's driver plugs in the same way, through the Simulator's
 * registry (registry.ts).
 *
 *   DriverView     what the checkers observe: the mirrored mm, the device page table and TLB,
 *                  the hmm_mirror, the update-lock and device-memory ownership tests
 *   Driver         + open/close and the ioctl-like entry points of lib/test_hmm.c's uapi, which
 *                  return a result or -errno (kernel-facing); the facade turns -errno into HmmError
 *   DriverFactory  builds a seed-API instance from a DriverContext: the device, the mm, the
 *                  machine's HMM settings and event stream it must pass to its mirror and page
 *                  table, and the fault service its launches use (the registry passes drivers/svm's,
 *                  so a driver never imports the engine that services it)
 *   ModernDriverFactory  builds a modern-API instance from a ModernDriverContext
 *
 * @see lib/test_hmm.c (Linux v5.8: struct dmirror, dmirror_fops, HMM_DMIRROR_* ioctls)
 */

import type { Tracepoints } from '../core/trace.js';
import type { DevicePageTable, DevicePageTableTracepoints } from '../device/device_pagetable.js';
import type { DeviceKernel, LaunchOptions } from '../device/kernel.js';
import type { DeviceFaultHandler } from '../device/launch.js';
import type { DeviceTlb } from '../device/tlb.js';
import type { HmmMachine, HmmMirror } from '../hmm/seed/types.js';
import type { MmStruct } from '../mm/mm.js';
import type { MigrationPolicy } from '../policy/policy.js';
import type { Task } from '../sched/index.js';
import type { DmirrorDevice } from './dmirror/mdevice.js';
import type { DmirrorReadResult, DmirrorSnapshotResult, DmirrorWriteResult } from './dmirror/uapi.js';
import type { TestHmmDevice } from './test_hmm/device.js';
import type { DmirrorCmdResult } from './test_hmm/uapi.js';

/** What the checkers (coherence, rules) and the explorer observe of a driver instance. */
export interface DriverView {
  /** The address space it mirrors. */
  readonly mm: MmStruct;
  /** Its device page table, which the coherence checker compares with the CPU's. */
  readonly pt: DevicePageTable;
  /** Its TLB, if it has one: the coherence checker requires it to cache only what `pt` holds. */
  readonly tlb?: DeviceTlb;
  /** The hmm_mirror it registered (a seed-API driver); a modern driver has none. */
  readonly mirror?: HmmMirror;
  /** True if the current thread holds the driver's update lock (the lock its sync callback takes). */
  updateLockHeld(): boolean;
  /**
   * That lock itself, if the driver exposes it: lock names are per class (every dmirror's is
   * 'dmirror.mutex'), so the explorer's partial-order reduction tells two devices' locks apart by it.
   */
  readonly updateLock?: object;
  /** True if pfn is a page of this device's memory (the mirror may map it). */
  owns(pfn: number): boolean;
  /**
   * The pgmap_owner its migrations pass (today's API): the MMU_NOTIFY_MIGRATE invalidations that
   * carry it are the driver's own, which it may skip and handle as part of the migration.
   */
  readonly pgmapOwner?: unknown;
  /**
   * Its device walks the page table in hardware until the driver clears it, so closing the file
   * does not retire its entries: the coherence checker keeps checking them until they are gone
   * (test_hmm's table is a software xarray, dead once the file is closing).
   */
  readonly liveUntilCleared?: boolean;
}

/** One open driver instance, as the facade drives it. */
export interface Driver extends DriverView {
  /** The name it was created under in the registry ('correct', a variant's, a user's). */
  readonly driverName: string;
  /** close() ran: every later command is refused by the facade. */
  readonly closed: boolean;
  /** What a device fault migrates (the facade's setPolicy). */
  policy: MigrationPolicy;
  /** open(): register the mirror. 0 or -errno. */
  open(): Task<number>;
  /** release(): unregister the mirror and drop the device's entries. */
  close(): Task;
  /** HMM_DMIRROR_READ. */
  read(addr: number, npages: number): Task<DmirrorReadResult | number>;
  /** HMM_DMIRROR_WRITE. */
  write(addr: number, bytes: Uint8Array): Task<DmirrorWriteResult | number>;
  /** HMM_DMIRROR_MIGRATE. */
  migrate(addr: number, npages: number): Task<DmirrorReadResult | number>;
  /** HMM_DMIRROR_SNAPSHOT. */
  snapshot(addr: number, npages: number): Task<DmirrorSnapshotResult | number>;
  /** Runs a device kernel in the mirrored address space, device faults serviced by the driver. */
  launch<T>(kernel: DeviceKernel<T>, opts?: LaunchOptions & { preemptible?: boolean }): Task<T[]>;
  /** HMM_DMIRROR_MIGRATE_TO_SYS (v6.1); the facade answers -ENOTTY for a driver without it. */
  migrateToSys?(addr: number, npages: number): Task<DmirrorCmdResult | number>;
  /** HMM_DMIRROR_RELEASE (v6.1): evict this device's pages in the range. */
  release?(addr: number, npages: number): Task<DmirrorCmdResult | number>;
  /** HMM_DMIRROR_EXCLUSIVE (v5.14): take the pages for device atomics, then read them. */
  exclusive?(addr: number, npages: number): Task<DmirrorReadResult | number>;
  /** HMM_DMIRROR_CHECK_EXCLUSIVE (v5.14): -EPERM while a device atomic entry remains. */
  checkExclusive?(addr: number, npages: number): Task<DmirrorCmdResult | number>;
  /** HMM_DMIRROR_FLAGS (v6.19): fault-injection flags. */
  setFlags?(flags: number): Task<DmirrorCmdResult | number>;
}

/** What every driver factory gets, whichever API generation it is written against. */
export interface DriverContextBase {
  /** The name the registry creates it under (Driver.driverName). */
  readonly name: string;
  /** The address space of the process that opens it. */
  readonly mm: MmStruct;
  /** The machine's event stream: the driver's DevicePageTable must trace on it. */
  readonly trace: Tracepoints<DevicePageTableTracepoints>;
  /** Device TLB entries of the address space. */
  readonly tlbEntries?: number;
}

/** The handler a launch of `driver`'s device kernels hands its fault batches to (device/launch.ts). */
export type FaultService = (driver: Driver) => DeviceFaultHandler;

/** What a seed-API factory gets to open one instance. */
export interface DriverContext extends DriverContextBase {
  /** The device (its memory, DMA engine, counters). */
  readonly mdevice: DmirrorDevice;
  /** The machine's HMM settings: the driver's HmmMirror must be built with them. */
  readonly hmm: HmmMachine;
  /**
   * Who services the device faults of the instance's launches. The registry passes the svm engine's
   * (drivers/svm/fault.ts: fault batches, migration policy, eviction); absent, a launch is refused.
   */
  readonly faultService?: FaultService;
}

/** Builds a driver instance (not yet opened: the caller runs open()). */
export type DriverFactory = (ctx: DriverContext) => Driver;

/**
 * What a factory of a modern-API driver (today's test_hmm, or a user's) gets: no HMM settings
 * (today's API has no per-machine mirror state), and a device whose memory is memremap'd.
 */
export interface ModernDriverContext extends DriverContextBase {
  /** The device: its memory (private or coherent), DMA engine, counters. */
  readonly mdevice: TestHmmDevice;
  /**
   * Who services the device faults of the instance's launches. The registry passes the svm engine's
   * modern service (drivers/svm/modern.ts); absent, a launch is refused.
   */
  readonly faultService?: FaultService;
}

/** Builds a modern-API driver instance (not yet opened). */
export type ModernDriverFactory = (ctx: ModernDriverContext) => Driver;

/** Which HMM API generation a driver is written against. */
export type HmmApi = 'seed' | 'modern';
