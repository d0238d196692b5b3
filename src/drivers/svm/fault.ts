/**
 * The svm engine's device-fault handler for the seed API (drivers/svm/, used by dmirror's launch;
 * modern.ts is today's, on test_hmm; batch.ts the steps both share): what the driver does with a batch from the replayable fault
 * buffer before the device replays it. The shape is nouveau_svm_fault's (v5.3) and UVM's: sort the
 * batch by address with writes first, drop duplicates, then for each faulting page
 *   1. ask the migration policy (policy.ts) whether to move a block to device memory first (clamped
 *      to what device memory holds), and do it with migrate_vma, evicting least-recently-allocated
 *      device pages if memory is short (consecutive blocks of one VMA move in one call, batch.ts);
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

import { PAGE_SIZE } from '../../core/addr.js';
import { ArgumentError } from '../../core/errno.js';
import type { Tracepoints } from '../../core/trace.js';
import type { FaultEntry } from '../../device/fault_buffer.js';
import type { DeviceFaultHandler } from '../../device/launch.js';
import type { MovedPage } from '../../policy/policy.js';
import type { PolicyTracepoints } from '../../policy/trace.js';
import type { Task } from '../../sched/index.js';
import { Dmirror } from '../dmirror/dmirror.js';
import { dmirrorMigrateRange } from '../dmirror/migrate.js';
import { DMIRROR_FAULT_BATCH, dmirrorFault } from '../dmirror/populate.js';
import type { Driver } from '../driver.js';
import { type AddrRange, type PolicyTarget, uniquePages } from './batch.js';
import { dmirrorEvictFor } from './evict.js';
import { type BatchSteps, serviceBatch, serviceNotifications, watchRemoteAccesses } from './plan.js';

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
  watchRemoteAccesses(policyTarget(driver));
  return {
    serviceFaults: (batch: FaultEntry[]) => dmirrorServiceFaults(driver, batch),
    serviceNotifications: () => serviceNotifications(policyTarget(driver), batchSteps(driver)),
  };
}

/**
 * Services one batch from the replayable fault buffer for `dmirror`: policy migrations first, then
 * mirror what is still unmapped (the steps in the file comment); the device replays the batch after.
 */
export function* dmirrorServiceFaults(dmirror: Dmirror, batch: FaultEntry[]): Task {
  const pages = uniquePages(dmirror.mdevice.device, batch);
  yield* serviceBatch(policyTarget(dmirror), dmirror.pt, pages, batchSteps(dmirror));
}

/** How the engine moves and mirrors pages for `dmirror`. */
function batchSteps(dmirror: Dmirror): BatchSteps {
  return {
    migrate: (start, end, keep) => migrateBlock(dmirror, start, end, keep),
    mirror: (start, end, write) => dmirrorFault(dmirror, start, end, write),
    runMax: DMIRROR_FAULT_BATCH,
  };
}

/** The engine's view of `dmirror`; the policy is read at each use (setPolicy may change it). */
function policyTarget(dmirror: Dmirror): PolicyTarget {
  return {
    mm: dmirror.mm,
    get policy() {
      return dmirror.policy;
    },
    device: dmirror.mdevice.device,
    mmu: dmirror.mmu,
    // The page table traces on the machine's stream, whose map holds the policy's tracepoints too.
    trace: dmirror.pt.trace as Tracepoints<PolicyTracepoints> | null,
    gone: () => dmirror.released,
    resident: (vpn) => dmirror.resident.has(vpn),
  };
}

/** Step 1's move: each run of the block not yet resident, after making room for it; returns what moved. */
function* migrateBlock(
  dmirror: Dmirror,
  start: number,
  end: number,
  keep: readonly AddrRange[],
): Task<MovedPage[]> {
  const moved: MovedPage[] = [];
  for (const run of notResident(dmirror, start, end)) {
    yield* dmirrorEvictFor(dmirror, run.start, run.end, keep);
    // Best effort: pages migrate_vma skips (pinned, file-backed, racing) stay in system memory.
    yield* dmirrorMigrateRange(dmirror, run.start, run.end);
    for (let vpn = run.start / PAGE_SIZE; vpn < run.end / PAGE_SIZE; vpn++) {
      const pfn = dmirror.resident.get(vpn);
      if (pfn !== undefined) moved.push({ vpn, pfn });
    }
  }
  return moved;
}

/** The runs of [start, end) not in this device's memory, by the driver's residency books. */
function notResident(dmirror: Dmirror, start: number, end: number): AddrRange[] {
  return dmirror.resident
    .absentRuns(start / PAGE_SIZE, end / PAGE_SIZE)
    .map(([first, outer]) => ({ start: first * PAGE_SIZE, end: outer * PAGE_SIZE }));
}
