/**
 * Device kernels run on the CPU: a DeviceKernelContext whose loads and stores are `p.read` and
 * `p.write` on the process, with the device's rules kept (little-endian, natural alignment, the
 * same DeviceKernelFault for a misaligned or unmapped access). It is the reference the demo and
 * the tests compare the device against: the same kernel body, a different memory path.
 *
 * Its accesses never wait, so a kernel's generator runs to completion in one pass of `.next()`
 * calls; a CPU access to a page the device migrated faults it back, as any CPU access would.
 */

import { EFAULT, EINVAL, SegvError } from '../core/errno.js';
import type { DeviceKernel, DeviceKernelContext } from '../device/kernel.js';
import { DeviceKernelFault } from '../device/kernel.js';
import type { Task } from '../sched/task.js';
import type { Process } from '../sim/process.js';
import { checkThreads, u64, uint } from './args.js';

const TWO_32 = 2 ** 32;

export function cpuContext(p: Process, threadId = 0, threads = 1): DeviceKernelContext {
  checkThreads(threadId, threads);
  const load = (addr: number, size: number): DataView => {
    checkAccess(addr, size, false);
    const bytes = cpuRead(p, addr, size);
    return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
  const store = (addr: number, size: number, fill: (view: DataView) => void): void => {
    checkAccess(addr, size, true);
    const bytes = new Uint8Array(size);
    fill(new DataView(bytes.buffer));
    cpuWrite(p, addr, bytes);
  };
  return {
    threadId,
    threads,
    load8: (addr) => now(() => load(addr, 1).getUint8(0)),
    load16: (addr) => now(() => load(addr, 2).getUint16(0, true)),
    load32: (addr) => now(() => load(addr, 4).getUint32(0, true)),
    load64: (addr) => now(() => load(addr, 8).getBigUint64(0, true)),
    loadPtr: (addr) =>
      now(() => {
        const v = load(addr, 8);
        const hi = v.getUint32(4, true);
        if (hi >= 2 ** 21)
          throw new DeviceKernelFault(
            EFAULT,
            addr,
            false,
            'not-a-pointer',
            'u64 at this address is 2^53 or more',
          );
        return hi * TWO_32 + v.getUint32(0, true);
      }),
    store8: (addr, value) => now(() => store(addr, 1, (v) => v.setUint8(0, uint('value', value, 8)))),
    // load8, or store8 of 0 (which returns 0): the launch's touch, on the CPU
    touch: (addr, write) =>
      now(() => {
        if (!write) return load(addr, 1).getUint8(0);
        store(addr, 1, (v) => v.setUint8(0, 0));
        return 0;
      }),
    store16: (addr, value) =>
      now(() => store(addr, 2, (v) => v.setUint16(0, uint('value', value, 16), true))),
    store32: (addr, value) =>
      now(() => store(addr, 4, (v) => v.setUint32(0, uint('value', value, 32), true))),
    store64: (addr, value) => now(() => store(addr, 8, (v) => v.setBigUint64(0, u64('value', value), true))),
    storePtr: (addr, value) =>
      now(() =>
        store(addr, 8, (v) => {
          uint('value', value, 53);
          v.setUint32(0, value % TWO_32, true);
          v.setUint32(4, Math.floor(value / TWO_32), true);
        }),
      ),
    loadBytes: (addr, length) =>
      now(() => {
        checkAccess(addr, 1, false);
        return cpuRead(p, addr, length);
      }),
    storeBytes: (addr, bytes) =>
      now(() => {
        checkAccess(addr, 1, true);
        cpuWrite(p, addr, bytes);
      }),
  };
}

/** Runs every thread of a launch on the CPU, thread 0 first, each to completion; their results. */
export function runOnCpu<T>(p: Process, kernel: DeviceKernel<T>, threads = 1): T[] {
  checkThreads(0, threads);
  const results: T[] = [];
  for (let t = 0; t < threads; t++) {
    const task = kernel(cpuContext(p, t, threads));
    let step = task.next();
    while (!step.done) step = task.next();
    results.push(step.value);
  }
  return results;
}

/** An access that completes at once: done on the first `.next()`, without a scheduling point. */
// biome-ignore lint/correctness/useYield: the CPU never waits for its own memory
function* now<T>(access: () => T): Task<T> {
  return access();
}

/** The device's rule (src/device/launch.ts): an address that is no aligned integer is misaligned. */
function checkAccess(addr: number, size: number, write: boolean): void {
  if (!Number.isSafeInteger(addr) || addr < 0 || addr % size !== 0)
    throw new DeviceKernelFault(
      EINVAL,
      Number(addr) || 0,
      write,
      'misaligned',
      `not a ${size}-byte aligned address`,
    );
}

function cpuRead(p: Process, addr: number, length: number): Uint8Array {
  try {
    return p.read(addr, length);
  } catch (e) {
    throw asDeviceFault(e, false);
  }
}

function cpuWrite(p: Process, addr: number, bytes: Uint8Array): void {
  try {
    p.write(addr, bytes);
  } catch (e) {
    throw asDeviceFault(e, true);
  }
}

/** A CPU SIGSEGV/SIGBUS is what kills a device kernel as an unserviceable fault. */
function asDeviceFault(e: unknown, write: boolean): unknown {
  if (!(e instanceof SegvError)) return e;
  return new DeviceKernelFault(EFAULT, e.addr, write, 'unmapped', e.message);
}
