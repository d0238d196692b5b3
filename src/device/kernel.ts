/**
 * Device kernels: the code a device thread runs. A kernel is a generator that loads and stores
 * through the device MMU (device TLB, then the device page table); an access that misses both
 * raises a replayable fault, the driver services it through HMM, and the access is retried, as a
 * GPU replays faulted accesses (docs/costs.md, "Fault batching and replay").
 *
 *   function* sumList(ctx: DeviceKernelContext): Task<number> {
 *     let sum = 0;
 *     for (let p = head; p !== 0; p = yield* ctx.loadPtr(p)) sum += yield* ctx.load32(p + 8);
 *     return sum;
 *   }
 *
 * Accesses must be naturally aligned (a GPU raises a misaligned-address exception otherwise); 64-bit
 * values are bigint (`load64`) or, for pointers, an exact number below 2^53 (`loadPtr`). Byte ranges
 * (`loadBytes`, `storeBytes`) may cross pages. A fault the driver cannot service (no VMA, a write to
 * read-only memory) kills the kernel with a DeviceKernelFault, as a GPU's fatal MMU fault kills the
 * context.
 */

import { HmmError } from '../core/errno.js';
import type { Task } from '../sched/index.js';

/** What a device kernel's thread may do: load and store through the device MMU, faulting through HMM. */
export interface DeviceKernelContext {
  /** This thread's index in the launch, 0 .. threads - 1. */
  readonly threadId: number;
  /** Threads in the launch. */
  readonly threads: number;
  /** Loads an unsigned byte at addr. */
  load8(addr: number): Task<number>;
  /** Loads a little-endian u16 at addr. */
  load16(addr: number): Task<number>;
  /** Loads a little-endian u32 at addr. */
  load32(addr: number): Task<number>;
  /** Loads a little-endian u64 at addr. */
  load64(addr: number): Task<bigint>;
  /** A 64-bit pointer as a number; a DeviceKernelFault if it is 2^53 or more. */
  loadPtr(addr: number): Task<number>;
  /** Stores the low byte of `value` at addr. */
  store8(addr: number, value: number): Task;
  /** Stores `value` as a little-endian u16 at addr. */
  store16(addr: number, value: number): Task;
  /** Stores `value` as a little-endian u32 at addr. */
  store32(addr: number, value: number): Task;
  /** Stores `value` as a little-endian u64 at addr. */
  store64(addr: number, value: bigint): Task;
  /** Stores a pointer (an integer in 0 .. 2^53 - 1) as a little-endian u64 at addr. */
  storePtr(addr: number, value: number): Task;
  /** Loads `length` bytes starting at addr. */
  loadBytes(addr: number, length: number): Task<Uint8Array>;
  /** Stores `bytes` starting at addr. */
  storeBytes(addr: number, bytes: Uint8Array): Task;
  /**
   * load8(addr) (write false) or store8(addr, 0) (write true), the same access, as one Task the
   * context reuses for every touch: run it at once (`yield* ctx.touch(a, w)`), before the next
   * access of this thread. For replay loops, where a generator per access is most of the cost.
   */
  touch(addr: number, write: boolean): Task<number>;
}

/** A device kernel: one body, run by every thread of a launch; each thread's return value is kept. */
export type DeviceKernel<T> = (ctx: DeviceKernelContext) => Task<T>;

/** How a device kernel is launched. */
export interface LaunchOptions {
  /** Device threads running the kernel (default 1, at most DEVICE_THREADS_MAX). */
  threads?: number;
}

/** Most device threads one launch may run. */
export const DEVICE_THREADS_MAX = 1024;

/** Why a device access could not complete. */
export type DeviceFaultReason = 'misaligned' | 'unmapped' | 'not-a-pointer';

/**
 * A fatal device fault: the kernel touched an address the driver could not map (errno from the
 * driver's fault handler, EFAULT for no VMA or a forbidden write), or made a misaligned access.
 */
export class DeviceKernelFault extends HmmError {
  /** The faulting user virtual address. */
  readonly addr: number;
  /** The access was a write. */
  readonly write: boolean;
  /** Why the access failed. */
  readonly reason: DeviceFaultReason;

  constructor(errno: number, addr: number, write: boolean, reason: DeviceFaultReason, detail: string) {
    super(errno, `device ${write ? 'write' : 'read'} at 0x${addr.toString(16)}: ${detail}`);
    this.name = 'DeviceKernelFault';
    this.addr = addr;
    this.write = write;
    this.reason = reason;
  }
}
