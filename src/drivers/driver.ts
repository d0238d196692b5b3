/**
 * THE driver interface: what the facade (src/sim), the explorer and the checkers need of one open
 * driver instance (one open of a /dev/hmm_dmirrorN-like device by one process), and the factory
 * that opens one. dmirror and its broken variants implement it; today's test_hmm, or a user's
 * driver, plugs in the same way, through the Simulator's registry (registry.ts).
 *
 *   DriverView     what the checkers observe: the mirrored mm, the device page table and TLB,
 *                  the hmm_mirror, the update-lock and device-memory ownership tests
 *   Driver         + open/close and the ioctl-like entry points of lib/test_hmm.c's uapi, which
 *                  return a result or -errno (kernel-facing); the facade turns -errno into HmmError
 *   DriverFactory  builds an instance from a DriverContext: the device, the mm, the machine's
 *                  HMM settings and event stream it must pass to its mirror and page table, and
 *                  the fault service its launches use (the registry passes drivers/svm's, so a
 *                  driver never imports the engine that services it)
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

/** What the checkers (coherence, rules) and the explorer observe of a driver instance. */
export interface DriverView {
  /** The address space it mirrors. */
  readonly mm: MmStruct;
  /** Its device page table, which the coherence checker compares with the CPU's. */
  readonly pt: DevicePageTable;
  /** Its TLB, if it has one: the coherence checker requires it to cache only what `pt` holds. */
  readonly tlb?: DeviceTlb;
  /** The hmm_mirror it registered. */
  readonly mirror: HmmMirror;
  /** True if the current thread holds the driver's update lock (the lock its sync callback takes). */
  updateLockHeld(): boolean;
  /** True if pfn is a page of this device's memory (the mirror may map it). */
  owns(pfn: number): boolean;
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
}

/** What a factory gets to open one instance. */
export interface DriverContext {
  /** The name the registry creates it under (Driver.driverName). */
  readonly name: string;
  /** The device (its memory, DMA engine, counters). */
  readonly mdevice: DmirrorDevice;
  /** The address space of the process that opens it. */
  readonly mm: MmStruct;
  /** The machine's HMM settings: the driver's HmmMirror must be built with them. */
  readonly hmm: HmmMachine;
  /** The machine's event stream: the driver's DevicePageTable must trace on it. */
  readonly trace: Tracepoints<DevicePageTableTracepoints>;
  /** Device TLB entries of the address space. */
  readonly tlbEntries?: number;
  /**
   * Who services the device faults of the instance's launches. The registry passes the svm engine's
   * (drivers/svm/fault.ts: fault batches, migration policy, eviction); absent, a launch is refused.
   */
  readonly faultService?: FaultService;
}

/** The handler a launch of `driver`'s device kernels hands its fault batches to (device/launch.ts). */
export type FaultService = (driver: Driver) => DeviceFaultHandler;

/** Builds a driver instance (not yet opened: the caller runs open()). */
export type DriverFactory = (ctx: DriverContext) => Driver;
