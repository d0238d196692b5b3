/**
 * The policy step for a policy that plans whole batches (MigrationPolicy.onFaultBatch, as UVM
 * services a batch VA block by VA block): the policy sees the de-duplicated batch, the device clock,
 * the device's residency and the VMAs, and answers with a plan; the engine carries it out. A stall
 * (KFD's queue restore delay) and throttled pages' naps (UVM) advance the device clock, and throttled
 * pages are neither migrated nor mirrored, so their entries fault again after the replay; pinned and
 * remote pages are only mirrored; ranges to migrate are clipped to their VMA and clamped to device
 * memory as a per-fault block is; whole ranges to map are mirrored with the VMA's write permission.
 * Every item is a decision on the trace with the policy's reason, and counted in its stats.
 *
 * Access-counter notifications (MigrationPolicy.onRemoteAccess / onAccessCounters, UVM's) go the same
 * way: the device MMU tells the policy each access to system memory, and when the policy says a
 * notification is pending the fault handler asks for its plan, a batch with no faults.
 *
 * A malformed plan is the policy's bug, reported as an ArgumentError naming `policy`.
 */

import { PAGE_SIZE } from '../../core/addr.js';
import { ArgumentError } from '../../core/errno.js';
import type { DevicePageTable } from '../../device/device_pagetable.js';
import { VM_WRITE } from '../../mm/vma.js';
import { emitDecision } from '../../policy/events.js';
import type { FaultBatchInfo, PlannedMigration, PolicyPlan, PolicyRange } from '../../policy/policy.js';
import { policyStats } from '../../policy/stats.js';
import type { Task } from '../../sched/index.js';
import {
  type AddrRange,
  clampToDevice,
  type MigrateBlock,
  type MirrorRun,
  migrateByPolicy,
  migrateReported,
  mirrorUnmapped,
  type PageFault,
  type PolicyTarget,
  sinkOf,
} from './batch.js';

/** A planned range to map, with the VMA's write permission found under mmap_lock. */
interface MapRange extends AddrRange {
  write: boolean;
  reason: string;
}

/** The plan, and its ranges clipped to their VMAs (null: no VMA there any more). */
interface Checked {
  plan: PolicyPlan;
  migrate: (PlannedMigration & { clipped: [number, number] | null })[];
  map: MapRange[];
}

function bad(t: PolicyTarget, what: string): never {
  throw new ArgumentError('policy', `${t.policy.name}.onFaultBatch ${what}`);
}

/** The plan's ranges must be page-aligned numbers and hold their fault. */
function checkRange(t: PolicyTarget, r: PolicyRange, addr?: number): void {
  const ok =
    Number.isSafeInteger(r.start) &&
    Number.isSafeInteger(r.end) &&
    r.start % PAGE_SIZE === 0 &&
    r.end % PAGE_SIZE === 0 &&
    r.start < r.end &&
    (addr === undefined || (addr >= r.start && addr < r.end));
  if (!ok)
    bad(
      t,
      `returned the range [${r.start}, ${r.end}), not page aligned or not holding ${addr ?? 'anything'}`,
    );
}

/** How a plan is asked for: the fault batch's, or the notifications'. */
type Ask = (info: FaultBatchInfo) => PolicyPlan;

/** Asks the policy under mmap_lock (its VMA queries read the tree) and clips the ranges there. */
function* askPolicy(t: PolicyTarget, pages: PageFault[], ask: Ask): Task<Checked> {
  const mm = t.mm;
  yield* mm.mmapSem.downRead();
  const vmaAt = (addr: number): { start: number; end: number; flags: number } | null => {
    const v = mm.findVma(addr);
    return v === null || v.start > addr ? null : v;
  };
  const info: FaultBatchInfo = {
    nowUs: t.device.cost.nowUs,
    faults: pages.map((f) => ({ addr: f.vpn * PAGE_SIZE, write: f.write })),
    devicePages: t.device.memoryPages,
    resident: (vpn) => t.resident(vpn),
    vma: (addr) => {
      const v = vmaAt(addr);
      return v === null ? null : { start: v.start, end: v.end };
    },
  };
  try {
    const plan = ask(info);
    if (plan === null || typeof plan !== 'object' || !Array.isArray(plan.migrate))
      bad(t, 'must return a plan');
    const migrate = plan.migrate.map((m) => {
      checkRange(t, m, m.addr);
      const v = vmaAt(m.addr);
      const clipped: [number, number] | null =
        v === null ? null : [Math.max(m.start, v.start), Math.min(m.end, v.end)];
      return { ...m, clipped };
    });
    const map: MapRange[] = [];
    for (const r of plan.map ?? []) {
      checkRange(t, r);
      const v = vmaAt(r.start);
      if (v !== null)
        map.push({
          start: r.start,
          end: Math.min(r.end, v.end),
          write: (v.flags & VM_WRITE) !== 0,
          reason: r.reason,
        });
    }
    return { plan, migrate, map };
  } finally {
    mm.mmapSem.upRead();
  }
}

/** Charges `us` of device time to fault servicing (the device waits), counted in the stats. */
function stall(t: PolicyTarget, us: number): void {
  if (!(us > 0)) return;
  t.device.cost.charge('faultService', us);
  policyStats(t.policy).stallUs += us;
}

/** Throttled pages: on the trace, counted, the device waits for the latest nap. Returns their vpns. */
function throttle(t: PolicyTarget, plan: PolicyPlan): Set<number> {
  const out = new Set<number>();
  const sink = sinkOf(t);
  let until = 0;
  for (const th of plan.throttle ?? []) {
    out.add(Math.floor(th.addr / PAGE_SIZE));
    policyStats(t.policy).throttles++;
    emitDecision(sink, t.policy, 'throttle', th.addr, th.addr + PAGE_SIZE, th.reason);
    until = Math.max(until, th.untilUs);
  }
  stall(t, until - t.device.cost.nowUs);
  return out;
}

/** Pinned and remote pages: on the trace and counted (the mirror step maps them where they are). */
function pinAndRemote(t: PolicyTarget, plan: PolicyPlan): void {
  const sink = sinkOf(t);
  const stats = policyStats(t.policy);
  for (const p of plan.pin ?? []) {
    stats.pins++;
    emitDecision(sink, t.policy, 'pin', p.addr, p.addr + PAGE_SIZE, p.reason);
  }
  for (const r of plan.remote ?? []) {
    stats.remoteMaps++;
    emitDecision(sink, t.policy, 'remote', r.addr, r.addr + PAGE_SIZE, r.reason);
  }
}

/**
 * Carries out the policy's plan for the batch (see the file comment); returns the pages whose faults
 * are throttled, which the mirror step must leave alone.
 */
export function* servicePlanned(
  t: PolicyTarget,
  pages: PageFault[],
  migrate: MigrateBlock,
  mirror: MirrorRun,
  runMax: number,
  ask: Ask = (info) => (t.policy.onFaultBatch as Ask).call(t.policy, info),
): Task<Set<number>> {
  if (t.gone()) return new Set();
  const { plan, migrate: todo, map } = yield* askPolicy(t, pages, ask);
  const sink = sinkOf(t);
  if (plan.stall !== undefined) {
    emitDecision(sink, t.policy, 'stall', 0, 0, plan.stall.reason);
    stall(t, plan.stall.us);
  }
  const throttled = throttle(t, plan);
  pinAndRemote(t, plan);
  const batchRanges: AddrRange[] = [];
  for (const m of todo) {
    if (m.clipped === null || throttled.has(m.addr / PAGE_SIZE) || t.gone()) continue;
    const [start, end] = clampToDevice(t.device, m.clipped, m.addr);
    batchRanges.push({ start, end });
    yield* migrateReported(t, { start, end }, batchRanges, m.cause, m.reason, migrate);
  }
  for (const r of map) {
    emitDecision(sink, t.policy, 'map', r.start, r.end, r.reason);
    // Best effort: pages that fail here fault again, or are cancelled by the mirror step.
    for (let a = r.start; a < r.end; a += runMax * PAGE_SIZE)
      yield* mirror(a, Math.min(r.end, a + runMax * PAGE_SIZE), r.write);
  }
  return throttled;
}

/** How a driver moves and mirrors pages, for serviceBatch. */
export interface BatchSteps {
  /** Moves a block to device memory. */
  migrate: MigrateBlock;
  /** Mirrors a run of pages. */
  mirror: MirrorRun;
  /** The longest run one mirror call takes. */
  runMax: number;
}

/**
 * One fault batch, whichever API: the policy step (per fault, or the batch's plan), then the mirror
 * step for what is still unmapped, throttled pages left alone.
 */
export function* serviceBatch(
  t: PolicyTarget,
  pt: DevicePageTable,
  pages: PageFault[],
  steps: BatchSteps,
): Task {
  let todo = pages;
  if (t.policy.onFaultBatch !== undefined) {
    const throttled = yield* servicePlanned(t, pages, steps.migrate, steps.mirror, steps.runMax);
    if (throttled.size > 0) todo = pages.filter((f) => !throttled.has(f.vpn));
  } else yield* migrateByPolicy(t, pages, steps.migrate);
  yield* mirrorUnmapped(pt, todo, steps.runMax, steps.mirror);
}

/**
 * Tells the policy of the device's accesses to system memory, if it counts them (the MMU's hook
 * stays null otherwise); a pending notification wakes the fault handler. Called as a launch starts.
 */
export function watchRemoteAccesses(t: PolicyTarget): void {
  const mmu = t.mmu;
  if (mmu.onRemoteAccess !== null || t.policy.onRemoteAccess === undefined) return;
  mmu.onRemoteAccess = (vpn) => {
    if (t.policy.onRemoteAccess?.(vpn) === true) mmu.faults.notify();
  };
}

/**
 * The pending access-counter notifications: the policy's plan for them, carried out as a batch's.
 * A pass is charged as a fault batch with no faults: the driver fetches and sorts a notification
 * batch as it does a fault batch (docs/costs.md).
 */
export function* serviceNotifications(t: PolicyTarget, steps: BatchSteps): Task {
  const ask = t.policy.onAccessCounters;
  if (ask === undefined) return;
  t.device.cost.faultBatch(0);
  yield* servicePlanned(t, [], steps.migrate, steps.mirror, steps.runMax, (info) => ask.call(t.policy, info));
}
