/**
 * The svm engine's device-fault handler for today's API (test_hmm's launch): what a modern driver
 * does with a batch from the replayable fault buffer before the device replays it. The steps are
 * the seed service's (batch.ts: sort, de-duplicate, ask the policy, mirror in runs); the API under
 * them is today's:
 *   1. a block the policy migrates goes to device memory with the driver's migrate path:
 *      migrate_vma_setup (SELECT_SYSTEM, pgmap_owner = the device, so its own MMU_NOTIFY_MIGRATE
 *      invalidation is skipped), then — if device memory is short — eviction, then
 *      alloc_and_copy / migrate_vma_pages / finalize_and_map / migrate_vma_finalize (test_hmm's
 *      MIGRATE_TO_DEV step, migrate.ts);
 *   2. what is still unmapped is mirrored with dmirror_fault (hmm_range_fault under the interval
 *      notifier, mmu_interval_read_retry under dmirror->mutex, fault.ts).
 *
 * Eviction is by pfn with migrate_device_range (TestHmmDevice.evictRange, RELEASE's path), as UVM
 * evicts an HMM-backed chunk (uvm_hmm_pmm_gpu_evict_pfn) and nouveau evicts its chunks
 * (nouveau_dmem_evict_chunk): a device page needs no VA to be moved, its rmap finds every mapping,
 * and the CPU unmap (MMU_NOTIFY_CLEAR) erases the device page-table entries through the interval
 * notifier. It happens after migrate_vma_setup, when the driver knows how many pages it must
 * allocate, as UVM's allocator evicts when an allocation for a migration finds no free chunk.
 * Victims are the least recently allocated device pages the engine placed (its books, below), never
 * one of the faulting block or of this batch's earlier blocks; pages MIGRATE_TO_DEV placed are not
 * in the books and are never evicted by the engine.
 *
 * Divergence: nouveau never migrates on a fault (its migrations are the SVM_BIND ioctl's); UVM and
 * amdkfd do, and the policy is theirs (docs/costs.md).
 *
 * @see drivers/gpu/drm/nouveau/nouveau_svm.c (nouveau_svm_fault, nouveau_range_fault) and
 *      nouveau_dmem.c (nouveau_dmem_migrate_vma, nouveau_dmem_evict_chunk) (Linux v6.19)
 */

import { PAGE_SIZE } from '../../core/addr.js';
import { ArgumentError } from '../../core/errno.js';
import type { Tracepoints } from '../../core/trace.js';
import type { FaultEntry } from '../../device/fault_buffer.js';
import type { DeviceFaultHandler } from '../../device/launch.js';
import {
  MIGRATE_PFN_MIGRATE,
  MIGRATE_VMA_SELECT_SYSTEM,
  type MigrateVma,
  migratePfnFlags,
  migratePfnToPage,
} from '../../mm/migrate_device.js';
import { type DecisionSink, emitEviction, policyEvicted } from '../../policy/events.js';
import type { MovedPage, VictimRequest } from '../../policy/policy.js';
import type { PolicyTracepoints } from '../../policy/trace.js';
import type { Task } from '../../sched/index.js';
import { DMIRROR_FAULT_BATCH } from '../dmirror/populate.js';
import type { Driver } from '../driver.js';
import type { TestHmmDevice } from '../test_hmm/device.js';
import { TestHmmDmirror } from '../test_hmm/dmirror.js';
import { dmirrorFault } from '../test_hmm/fault.js';
import { forEachBatch, toDeviceStep } from '../test_hmm/migrate.js';
import { type AddrRange, type PolicyTarget, uniquePages } from './batch.js';
import { type BatchSteps, serviceBatch, serviceNotifications, watchRemoteAccesses } from './plan.js';

/**
 * The FaultService of modern-API drivers (ModernDriverContext.faultService): it services today's
 * test_hmm and the drivers built on it; another driver's launch is an ArgumentError.
 */
export function svmModernFaultHandler(driver: Driver): DeviceFaultHandler {
  if (!(driver instanceof TestHmmDmirror))
    throw new ArgumentError(
      'driver',
      `the modern svm engine services today's test_hmm and the drivers built on it, not '${driver.driverName}'`,
    );
  watchRemoteAccesses(policyTarget(driver));
  return {
    serviceFaults: (batch: FaultEntry[]) => testHmmServiceFaults(driver, batch),
    serviceNotifications: () => serviceNotifications(policyTarget(driver), batchSteps(driver)),
  };
}

/** Services one batch for today's test_hmm: the steps of the file comment. */
export function* testHmmServiceFaults(dmirror: TestHmmDmirror, batch: FaultEntry[]): Task {
  const pages = uniquePages(dmirror.mdevice.device, batch);
  yield* serviceBatch(policyTarget(dmirror), dmirror.pt, pages, batchSteps(dmirror));
}

/** How the engine moves and mirrors pages for `dmirror`. */
function batchSteps(dmirror: TestHmmDmirror): BatchSteps {
  return {
    migrate: (start, end, keep) => migrateBlock(dmirror, start, end, keep),
    mirror: (start, end, write) => dmirrorFault(dmirror, start, end, write),
    runMax: DMIRROR_FAULT_BATCH,
  };
}

/** The engine's view of `dmirror`; residency is a device page in its page table. */
function policyTarget(dmirror: TestHmmDmirror): PolicyTarget {
  const mdevice = dmirror.mdevice;
  return {
    mm: dmirror.mm,
    get policy() {
      return dmirror.policy;
    },
    device: mdevice.device,
    mmu: dmirror.mmu,
    trace: sinkTrace(dmirror),
    gone: () => dmirror.mm.users === 0,
    resident: (vpn) => mdevice.owns(dmirror.pt.pfnOf(vpn)),
  };
}

/** The page table traces on the machine's stream, whose map holds the policy's tracepoints too. */
function sinkTrace(dmirror: TestHmmDmirror): Tracepoints<PolicyTracepoints> | null {
  return dmirror.pt.trace as Tracepoints<PolicyTracepoints> | null;
}

/**
 * Step 1's move, best effort like every migration: pages migrate_vma_setup does not collect
 * (already on a device, pinned, racing) stay where they are.
 */
function* migrateBlock(
  dmirror: TestHmmDmirror,
  start: number,
  end: number,
  keep: readonly AddrRange[],
): Task<MovedPage[]> {
  const npages = (end - start) / PAGE_SIZE;
  const moved: MovedPage[] = [];
  yield* forEachBatch(dmirror, { addr: start, npages }, MIGRATE_VMA_SELECT_SYSTEM, function* (args) {
    yield* evictFor(dmirror, collected(args), keep);
    yield* toDeviceStep(dmirror, args);
    noteMigrated(dmirror, args, moved);
    return 0;
  });
  return moved;
}

/** Entries migrate_vma_setup collected: each needs a device page. */
function collected(args: MigrateVma): number {
  const src = args.src as Float64Array;
  let n = 0;
  for (let i = 0; i < args.npages; i++) if (migratePfnFlags(src[i] as number) & MIGRATE_PFN_MIGRATE) n++;
  return n;
}

// -- the engine's books: which device pages it placed, in allocation order --------------------------

/** One device page the engine placed: its page, its owner and address, and when. */
interface Placed {
  readonly pfn: number;
  readonly dmirror: TestHmmDmirror;
  readonly vpn: number;
  readonly seq: number;
}

/** Per device: placements in allocation order, and each page's latest placement. */
interface Books {
  lra: Placed[];
  latest: Map<number, Placed>;
  seq: number;
}

const booksOf = new WeakMap<TestHmmDevice, Books>();

function books(mdevice: TestHmmDevice): Books {
  let b = booksOf.get(mdevice);
  if (b === undefined) {
    b = { lra: [], latest: new Map(), seq: 0 };
    booksOf.set(mdevice, b);
  }
  return b;
}

/** After a batch migrated: every page that moved joins the books (and `moved`). */
function noteMigrated(dmirror: TestHmmDmirror, args: MigrateVma, moved: MovedPage[]): void {
  const b = books(dmirror.mdevice);
  const src = args.src as Float64Array;
  const dst = args.dst as Float64Array;
  for (let i = 0; i < args.npages; i++) {
    const pfn = migratePfnToPage(dst[i] as number);
    if (pfn < 0 || !(migratePfnFlags(src[i] as number) & MIGRATE_PFN_MIGRATE)) continue;
    const p: Placed = { pfn, dmirror, vpn: args.start / PAGE_SIZE + i, seq: b.seq++ };
    b.latest.set(pfn, p);
    b.lra.push(p);
    moved.push({ vpn: p.vpn, pfn });
  }
}

/** The placement still holds: the page is in use, by the same dmirror, and was not placed again since. */
function live(mdevice: TestHmmDevice, p: Placed): boolean {
  const s = mdevice.kernel.mem.store;
  return (
    books(mdevice).latest.get(p.pfn) === p &&
    mdevice.owns(p.pfn) &&
    (s.refcount[p.pfn] as number) > 0 &&
    s.drvdata.get(p.pfn) === p.dmirror
  );
}

/**
 * Up to n live placements, least recently allocated first, skipping those `protect` keeps (they stay
 * in the books). Taking a victim drops it from the books.
 */
function lraVictims(mdevice: TestHmmDevice, n: number, protect: (p: Placed) => boolean): Placed[] {
  const b = books(mdevice);
  const out: Placed[] = [];
  const kept: Placed[] = [];
  let i = 0;
  for (; i < b.lra.length && out.length < n; i++) {
    const p = b.lra[i] as Placed;
    if (!live(mdevice, p)) continue;
    if (protect(p)) kept.push(p);
    else {
      b.latest.delete(p.pfn);
      out.push(p);
    }
  }
  b.lra = kept.concat(b.lra.slice(i));
  return out;
}

// -- eviction ---------------------------------------------------------------------------------------

/**
 * Makes room for `need` device pages: evicts until enough are free, never a page of this dmirror inside
 * `keep` (the faulting block and this batch's earlier ones). The policy chooses the victims if it
 * can (evict.ts's file comment); else the least recently allocated pages go.
 */
function* evictFor(dmirror: TestHmmDmirror, need: number, keep: readonly AddrRange[]): Task {
  const mdevice = dmirror.mdevice;
  const short = Math.min(need, mdevice.device.memoryPages) - mdevice.freeCount;
  if (short <= 0) return;
  const kept = (p: Placed): boolean => {
    const a = p.vpn * PAGE_SIZE;
    return p.dmirror === dmirror && keep.some((r) => a >= r.start && a < r.end);
  };
  if (dmirror.policy.chooseVictims === undefined) {
    yield* evictGroup(
      dmirror,
      lraVictims(mdevice, short, kept),
      'least recently allocated device pages',
      false,
    );
    return;
  }
  const b = books(mdevice);
  const placed = (pfn: number): Placed | null => {
    const p = b.latest.get(pfn);
    return p !== undefined && live(mdevice, p) ? p : null;
  };
  const request: VictimRequest = {
    need: short,
    nowUs: mdevice.device.cost.nowUs,
    candidate: (pfn) => {
      const p = placed(pfn);
      return p === null ? null : { pfn, vpn: p.vpn, protected: kept(p) };
    },
    *leastRecentlyAllocated() {
      for (const p of b.lra) if (live(mdevice, p)) yield { pfn: p.pfn, vpn: p.vpn, protected: kept(p) };
    },
  };
  for (const choice of dmirror.policy.chooseVictims(request)) {
    const victims: Placed[] = [];
    for (const pfn of choice.pfns) {
      const p = placed(pfn);
      if (p === null || kept(p)) continue;
      b.latest.delete(pfn);
      victims.push(p);
    }
    yield* evictGroup(dmirror, victims, choice.reason, true);
  }
}

/** Evicts one group by pfn runs, reports it (trace, stats, the policy) and counts the pages. */
function* evictGroup(dmirror: TestHmmDmirror, victims: Placed[], reason: string, chunk: boolean): Task {
  if (victims.length === 0) return;
  const device = dmirror.mdevice.device;
  const sink: DecisionSink = { trace: sinkTrace(dmirror), device: device.id, nowUs: () => device.cost.nowUs };
  if (sink.trace?.enabled === true) emitEviction(sink, dmirror.policy, victims, reason);
  let total = 0;
  for (const run of pfnRuns(victims.map((v) => v.pfn))) {
    const moved = yield* dmirror.mdevice.evictRange(run.start, run.end - run.start);
    device.cost.migrateCall(run.end - run.start);
    device.counters.evictedPages += moved;
    total += moved;
    if (moved > 0) device.cost.record('eviction', moved);
  }
  const owns = (i: number): boolean => dmirror.mdevice.owns(dmirror.pt.pfnOf((victims[i] as Placed).vpn));
  policyEvicted(sink, dmirror.policy, victims, total, chunk, owns);
}

/** Pfns grouped into ascending contiguous runs [start, end), one migrate_device_range each. */
function pfnRuns(pfns: number[]): { start: number; end: number }[] {
  const runs: { start: number; end: number }[] = [];
  for (const pfn of [...pfns].sort((a, b) => a - b)) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last.end === pfn) last.end = pfn + 1;
    else runs.push({ start: pfn, end: pfn + 1 });
  }
  return runs;
}
