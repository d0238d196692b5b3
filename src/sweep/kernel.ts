/**
 * The device kernel that replays a workload's device phase: thread t walks `phase.thread(t)` and
 * loads or stores one byte of each page through the device MMU, so a miss is a replayable fault
 * serviced by the driver through HMM exactly as any kernel's. A run of accesses to one page that
 * adds nothing (a read after an access, a write after a write) is skipped: it would hit, since an
 * access that hits is not a scheduling point, and hits are not charged.
 */

import type { DeviceKernel, DeviceKernelContext } from '../device/kernel.js';
import type { Task } from '../sched/task.js';
import type { DevicePhase } from '../workload/patterns/workload.js';

/** The kernel replaying `phase`, `pageAddr[page]` being each workload page's address; returns accesses made. */
export function replayKernel(phase: DevicePhase, pageAddr: Float64Array): DeviceKernel<number> {
  return function* (ctx: DeviceKernelContext): Task<number> {
    let lastPage = -1;
    let lastWrite = false;
    let made = 0;
    const touch = ctx.touch; // no generator per access (bound: it may be taken off the context)
    for (const code of phase.thread(ctx.threadId)) {
      const page = Math.floor(code / 2);
      const write = code % 2 === 1;
      if (page === lastPage && (lastWrite || !write)) continue;
      lastWrite = page === lastPage ? lastWrite || write : write;
      lastPage = page;
      const addr = pageAddr[page] as number;
      yield* touch(addr, write);
      made++;
    }
    return made;
  };
}
