/**
 * The svm engine's device-fault handler (drivers/svm/, used by dmirror's launch): what the driver does with a batch from the replayable fault
 * buffer before the device replays it. The shape is nouveau_svm_fault's (v5.3) and UVM's: sort the
 * batch by address with writes first, drop duplicates, then for each faulting page
 *   1. ask the migration policy (policy.ts) whether to move a block to device memory first (clamped
 *      to what device memory holds), and do it with migrate_vma, evicting least-recently-allocated
 *      device pages if memory is short;
 *   2. mirror what is still unmapped with driver_populate_range (hmm.rst's pattern, populate.ts),
 *      one call per run of consecutive faulting pages with the same access.
 * A page that cannot be mapped (no VMA, a write the VMA forbids) cancels its entries: the device
 * kills the kernel.
 *
 * Divergence: nouveau mirrors a 16-page window around each fault, marking the gaps between faults
 * "not needed"; dmirror mirrors runs of faulting pages only (up to DMIRROR_FAULT_BATCH pages), so
 * it never maps a page the device did not touch.
 *
 * @see drivers/gpu/drm/nouveau/nouveau_svm.c (nouveau_svm_fault) (Linux v5.3)
 */

import { hex, PAGE_SIZE } from '../../core/addr.js';
import { ArgumentError } from '../../core/errno.js';
import type { FaultEntry } from '../../device/fault_buffer.js';
import type { DeviceFaultHandler } from '../../device/launch.js';
import { policyClamp } from '../../policy/policy.js';
import type { Task } from '../../sched/index.js';
import { Dmirror } from '../dmirror/dmirror.js';
import { dmirrorMigrateRange } from '../dmirror/migrate.js';
import { DMIRROR_FAULT_BATCH, dmirrorFault } from '../dmirror/populate.js';
import type { Driver } from '../driver.js';
import { dmirrorEvictFor } from './evict.js';

/** One page's faults after sorting and de-duplication. */
interface PageFault {
  readonly vpn: number;
  readonly write: boolean;
  readonly entries: FaultEntry[];
}

/**
 * The seam between dmirror and this engine, a FaultService (drivers/driver.ts) the registry hands
 * every driver it opens: the fault handler a launch of the driver's device kernels hands its batches
 * to. It services dmirror and the drivers built on it (their steps are the ones it calls); another
 * driver's launch is an ArgumentError. dmirror's ioctls (test_hmm's READ, WRITE, MIGRATE, SNAPSHOT)
 * never come here; only device kernels fault through the replayable buffer.
 */
export function svmFaultHandler(driver: Driver): DeviceFaultHandler {
  if (!(driver instanceof Dmirror))
    throw new ArgumentError(
      'driver',
      `the svm engine services dmirror and the drivers built on it, not '${driver.driverName}'`,
    );
  return { serviceFaults: (batch: FaultEntry[]) => dmirrorServiceFaults(driver, batch) };
}

export function* dmirrorServiceFaults(dmirror: Dmirror, batch: FaultEntry[]): Task {
  const pages = uniquePages(dmirror, batch);
  yield* migrateByPolicy(dmirror, pages);
  const todo = pages.filter((f) => !isMapped(dmirror, f));
  for (let i = 0; i < todo.length; ) {
    let j = i + 1;
    while (j < todo.length && j - i < DMIRROR_FAULT_BATCH && continues(todo[j - 1]!, todo[j]!)) j++;
    yield* populateRun(dmirror, todo.slice(i, j));
    i = j;
  }
}

/** Sorted by vpn, writes first; later entries for the same page ride on the first. */
function uniquePages(dmirror: Dmirror, batch: FaultEntry[]): PageFault[] {
  const sorted = [...batch].sort((a, b) => a.vpn - b.vpn || Number(b.write) - Number(a.write));
  const out: PageFault[] = [];
  for (const e of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && last.vpn === e.vpn) {
      last.entries.push(e);
      dmirror.mdevice.device.counters.faultsDuplicate++;
    } else out.push({ vpn: e.vpn, write: e.write, entries: [e] });
  }
  return out;
}

function continues(a: PageFault, b: PageFault): boolean {
  return b.vpn === a.vpn + 1 && b.write === a.write;
}

/** Whether the device page table already maps the page with the access the fault needs. */
function isMapped(dmirror: Dmirror, f: PageFault): boolean {
  return f.write ? dmirror.pt.isWritable(f.vpn) : dmirror.pt.pfnOf(f.vpn) >= 0;
}

/** Step 1: migrate each policy block once, clipped to the VMA holding the fault. */
function* migrateByPolicy(dmirror: Dmirror, pages: PageFault[]): Task {
  let doneEnd = -1;
  // What this batch migrates must not be evicted to make room for the rest of the batch: the
  // replay is about to use it (without this, a device short of memory thrashes within one batch).
  const batchRanges: { start: number; end: number }[] = [];
  for (const f of pages) {
    const addr = f.vpn * PAGE_SIZE;
    if (addr < doneEnd) continue;
    const want = policyRange(dmirror, addr, f.write);
    if (want === null || dmirror.released) continue;
    yield* dmirror.mm.mmapSem.downRead();
    const vma = dmirror.mm.findVma(addr);
    const clipped =
      vma === null || vma.start > addr
        ? null
        : [Math.max(want.start, vma.start), Math.min(want.end, vma.end)];
    dmirror.mm.mmapSem.upRead();
    if (clipped === null) continue;
    const [start, end] = clampToDevice(dmirror, clipped as [number, number], addr);
    doneEnd = end;
    batchRanges.push({ start, end });
    for (const run of notResident(dmirror, start, end)) {
      yield* dmirrorEvictFor(dmirror, run.start, run.end, batchRanges);
      // Best effort: pages migrate_vma skips (pinned, file-backed, racing) stay in system memory.
      yield* dmirrorMigrateRange(dmirror, run.start, run.end);
    }
  }
}

/** A block larger than device memory shrinks to what fits around the fault (policyClamp), counted. */
function clampToDevice(dmirror: Dmirror, [start, end]: [number, number], addr: number): [number, number] {
  const device = dmirror.mdevice.device;
  const c = policyClamp(start, end, addr, device.memoryPages);
  if (c === null) return [start, end];
  device.counters.policyClamps++;
  return [c.start, c.end];
}

/**
 * The policy's answer, page aligned outward; an answer that does not hold the faulting page is the
 * policy's bug, reported as an ArgumentError naming it.
 */
function policyRange(dmirror: Dmirror, addr: number, write: boolean): { start: number; end: number } | null {
  const want = dmirror.policy.onDeviceFault({ addr, write });
  if (want === null) return null;
  const start = Math.floor(want.start / PAGE_SIZE) * PAGE_SIZE;
  const end = Math.ceil(want.end / PAGE_SIZE) * PAGE_SIZE;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start > addr || end <= addr)
    throw new ArgumentError(
      'policy',
      `${dmirror.policy.name}.onDeviceFault returned [${want.start}, ${want.end}), which does not hold the faulting page ${hex(addr)}`,
    );
  return { start, end };
}

/** The runs of [start, end) not in this device's memory, by the driver's residency books. */
function notResident(dmirror: Dmirror, start: number, end: number): { start: number; end: number }[] {
  const runs: { start: number; end: number }[] = [];
  for (let a = start; a < end; a += PAGE_SIZE) {
    if (dmirror.resident.has(a / PAGE_SIZE)) continue;
    const last = runs[runs.length - 1];
    if (last !== undefined && last.end === a) last.end = a + PAGE_SIZE;
    else runs.push({ start: a, end: a + PAGE_SIZE });
  }
  return runs;
}

/** Step 2: one populate for the run; if it fails, page by page, so only bad pages are cancelled. */
function* populateRun(dmirror: Dmirror, run: PageFault[]): Task {
  const first = run[0]!;
  const start = first.vpn * PAGE_SIZE;
  const ret = yield* dmirrorFault(dmirror, start, start + run.length * PAGE_SIZE, first.write);
  if (ret >= 0) return;
  for (const f of run) {
    const r =
      run.length === 1
        ? ret
        : yield* dmirrorFault(dmirror, f.vpn * PAGE_SIZE, (f.vpn + 1) * PAGE_SIZE, f.write);
    if (r < 0) for (const e of f.entries) e.status = r;
  }
}
