/**
 * The parts of servicing a replayable fault batch that do not depend on the HMM API the driver is
 * written against, shared by the seed-API service (fault.ts, on dmirror) and today's (modern.ts, on
 * test_hmm): sort the batch by address with writes first and drop duplicates (nouveau_svm_fault's
 * sort and its "skip duplicates" loop); ask the migration policy (src/policy) for a block around
 * each fault — or, if it plans whole batches, for the batch's plan (plan.ts) — clip it to the
 * faulting VMA and clamp it to what device memory holds; mirror what is still unmapped in runs of
 * consecutive faulting pages with the same access, page by page if a run fails, so that only the
 * bad pages are cancelled. Each migration is a decision on the trace, told to the policy.
 *
 * How a block moves to device memory and how a run is mirrored are the API's: the caller passes them.
 *
 * @see drivers/gpu/drm/nouveau/nouveau_svm.c (nouveau_svm_fault) (Linux v6.19)
 */

import { hex, PAGE_SIZE } from '../../core/addr.js';
import { ArgumentError } from '../../core/errno.js';
import type { Tracepoints } from '../../core/trace.js';
import type { SimDevice } from '../../device/device.js';
import type { DevicePageTable } from '../../device/device_pagetable.js';
import type { FaultEntry } from '../../device/fault_buffer.js';
import type { DeviceMmu } from '../../device/mmu.js';
import type { MmStruct } from '../../mm/mm.js';
import { type DecisionSink, emitDecision, policyMigrated } from '../../policy/events.js';
import {
  type MigrationCause,
  type MigrationPolicy,
  type MovedPage,
  policyClamp,
} from '../../policy/policy.js';
import { notePrefetchUse } from '../../policy/stats.js';
import type { PolicyTracepoints } from '../../policy/trace.js';
import type { Task } from '../../sched/index.js';

/** One page's faults after sorting and de-duplication. */
export interface PageFault {
  readonly vpn: number;
  readonly write: boolean;
  readonly entries: FaultEntry[];
}

/** An address range [start, end). */
export interface AddrRange {
  start: number;
  end: number;
}

/** What the policy step needs of a driver instance, whichever API it uses. */
export interface PolicyTarget {
  readonly mm: MmStruct;
  readonly policy: MigrationPolicy;
  readonly device: SimDevice;
  /** The driver's device MMU (its walks tell the policy which prefetched pages the device used). */
  readonly mmu: DeviceMmu;
  /** The machine's stream, where decisions go (the driver's page table traces on it). */
  readonly trace: Tracepoints<PolicyTracepoints> | null;
  /** The mirrored mm is gone: nothing is migrated for it any more. */
  gone(): boolean;
  /** Whether `vpn` is in this device's memory, by the driver's books. */
  resident(vpn: number): boolean;
}

/**
 * Moves [start, end) to device memory, keeping `batchRanges` (this batch's blocks) resident, for
 * `cause`; returns the pages that moved.
 */
export type MigrateBlock = (
  start: number,
  end: number,
  batchRanges: readonly AddrRange[],
  cause: MigrationCause,
) => Task<MovedPage[]>;

/** Where the target's decisions go. */
export function sinkOf(t: PolicyTarget): DecisionSink {
  return { trace: t.trace, device: t.device.id, nowUs: () => t.device.cost.nowUs };
}

/**
 * Migrates [start, end) for `cause` and reports it: the decision on the trace, the moved pages to the
 * policy (and, for a prefetch, to the watch of first device accesses).
 */
export function* migrateReported(
  t: PolicyTarget,
  r: AddrRange,
  batchRanges: readonly AddrRange[],
  cause: MigrationCause,
  reason: string | (() => string),
  migrate: MigrateBlock,
): Task {
  const sink = sinkOf(t);
  emitDecision(sink, t.policy, cause === 'prefetch' ? 'prefetch' : 'migrate', r.start, r.end, reason);
  const moved = yield* migrate(r.start, r.end, batchRanges, cause);
  if (cause === 'prefetch' && moved.length > 0 && t.mmu.onWalk === null) {
    const target = t;
    t.mmu.onWalk = (vpn) => notePrefetchUse(target.policy, vpn);
  }
  policyMigrated(sink, t.policy, { toDevice: true, cause, nowUs: t.device.cost.nowUs, pages: moved });
}

/** Mirrors [start, end) for reading or writing: 0 or -errno. */
export type MirrorRun = (start: number, end: number, write: boolean) => Task<number>;

/** Sorted by vpn, writes first; later entries for the same page ride on the first. */
export function uniquePages(device: SimDevice, batch: FaultEntry[]): PageFault[] {
  const sorted = [...batch].sort((a, b) => a.vpn - b.vpn || Number(b.write) - Number(a.write));
  const out: PageFault[] = [];
  for (const e of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && last.vpn === e.vpn) {
      last.entries.push(e);
      device.counters.faultsDuplicate++;
    } else out.push({ vpn: e.vpn, write: e.write, entries: [e] });
  }
  return out;
}

/** Whether the device page table already maps the page with the access the fault needs. */
export function isMapped(pt: DevicePageTable, f: PageFault): boolean {
  return f.write ? pt.isWritable(f.vpn) : pt.pfnOf(f.vpn) >= 0;
}

/**
 * The policy step: migrate each policy block once, clipped to the VMA holding the fault and clamped
 * to device memory. What this batch migrates must not be evicted to make room for the rest of the
 * batch (the replay is about to use it; without this a device short of memory thrashes within one
 * batch): `migrate` gets the batch's blocks so far.
 *
 * Consecutive blocks of one VMA move together, one `migrate` call per contiguous run (as UVM
 * services a batch per VA block and test_hmm migrates a range, not a page at a time); each block
 * is still its own decision on the trace and its own report to the policy. A policy that hears of
 * its migrations (onMigrated) may decide the next block by what the last one moved, so its blocks
 * move one at a time, as it asked for them.
 */
export function* migrateByPolicy(t: PolicyTarget, pages: PageFault[], migrate: MigrateBlock): Task {
  let doneEnd = -1;
  const batchRanges: AddrRange[] = [];
  let run: PendingRun | null = null;
  for (const f of pages) {
    const addr = f.vpn * PAGE_SIZE;
    if (addr < doneEnd) continue;
    const want = policyRange(t.policy, addr, f.write);
    if (want === null || t.gone()) continue;
    yield* t.mm.mmapSem.downRead();
    const vma = t.mm.findVma(addr);
    const clipped: [number, number] | null =
      vma === null || vma.start > addr
        ? null
        : [Math.max(want.start, vma.start), Math.min(want.end, vma.end)];
    t.mm.mmapSem.upRead();
    if (clipped === null) continue;
    const [start, end] = clampToDevice(t.device, clipped, addr);
    doneEnd = end;
    const reason = (): string =>
      `${t.policy.name}: [${hex(want.start)}, ${hex(want.end)}) for the fault at ${hex(addr)}`;
    const block: ReportedBlock = { start, end, reason };
    if (run !== null && joins(t, run, block, vma)) run.blocks.push(block);
    else {
      if (run !== null) yield* migrateRun(t, run, batchRanges, migrate);
      run = { vma, blocks: [block] };
    }
    addRange(batchRanges, start, end);
  }
  if (run !== null) yield* migrateRun(t, run, batchRanges, migrate);
}

/** A block the policy asked for, with the reason its decision gives (built only if the trace is on). */
interface ReportedBlock extends AddrRange {
  readonly reason: () => string;
}

/** Blocks waiting to move together: contiguous, in one VMA. */
interface PendingRun {
  readonly vma: object | null;
  readonly blocks: ReportedBlock[];
}

/** `b` extends the run: it starts where the run ends, in the same VMA, and the run still fits the device. */
function joins(t: PolicyTarget, run: PendingRun, b: ReportedBlock, vma: object | null): boolean {
  const first = run.blocks[0] as ReportedBlock;
  const last = run.blocks[run.blocks.length - 1] as ReportedBlock;
  return (
    t.policy.onMigrated === undefined &&
    vma === run.vma &&
    b.start === last.end &&
    (b.end - first.start) / PAGE_SIZE <= t.device.memoryPages
  );
}

/** Adds [start, end) to the batch's blocks, extending the last one when they touch (fewer keep checks). */
function addRange(ranges: AddrRange[], start: number, end: number): void {
  const last = ranges[ranges.length - 1];
  if (last !== undefined && last.end === start) last.end = end;
  else ranges.push({ start, end });
}

/** One run: each block's decision, one migration, then each block's moved pages told to the policy. */
function* migrateRun(
  t: PolicyTarget,
  run: PendingRun,
  batchRanges: readonly AddrRange[],
  migrate: MigrateBlock,
): Task {
  if (run.blocks.length === 1) {
    const b = run.blocks[0] as ReportedBlock;
    yield* migrateReported(t, b, batchRanges, 'fault', b.reason, migrate);
    return;
  }
  const sink = sinkOf(t);
  for (const b of run.blocks) emitDecision(sink, t.policy, 'migrate', b.start, b.end, b.reason);
  const first = run.blocks[0] as ReportedBlock;
  const last = run.blocks[run.blocks.length - 1] as ReportedBlock;
  const moved = yield* migrate(first.start, last.end, batchRanges, 'fault');
  let i = 0;
  for (const b of run.blocks) {
    const pages: MovedPage[] = [];
    while (i < moved.length && (moved[i] as MovedPage).vpn * PAGE_SIZE < b.end)
      pages.push(moved[i++] as MovedPage);
    policyMigrated(sink, t.policy, { toDevice: true, cause: 'fault', nowUs: t.device.cost.nowUs, pages });
  }
}

/** A block larger than device memory shrinks to what fits around the fault (policyClamp), counted. */
export function clampToDevice(
  device: SimDevice,
  [start, end]: [number, number],
  addr: number,
): [number, number] {
  const c = policyClamp(start, end, addr, device.memoryPages);
  if (c === null) return [start, end];
  device.counters.policyClamps++;
  return [c.start, c.end];
}

/**
 * The policy's answer, page aligned outward; an answer that does not hold the faulting page is the
 * policy's bug, reported as an ArgumentError naming it.
 */
function policyRange(policy: MigrationPolicy, addr: number, write: boolean): AddrRange | null {
  const want = policy.onDeviceFault({ addr, write });
  if (want === null) return null;
  const start = Math.floor(want.start / PAGE_SIZE) * PAGE_SIZE;
  const end = Math.ceil(want.end / PAGE_SIZE) * PAGE_SIZE;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start > addr || end <= addr)
    throw new ArgumentError(
      'policy',
      `${policy.name}.onDeviceFault returned [${want.start}, ${want.end}), which does not hold the faulting page ${hex(addr)}`,
    );
  return { start, end };
}

/**
 * The mirror step: what is still unmapped, in runs of consecutive pages with the same access (at
 * most `runMax` pages), one `mirror` call per run; a run that fails is retried page by page, and
 * only the pages that fail alone have their entries cancelled.
 */
export function* mirrorUnmapped(
  pt: DevicePageTable,
  pages: PageFault[],
  runMax: number,
  mirror: MirrorRun,
): Task {
  const todo = pages.filter((f) => !isMapped(pt, f));
  for (let i = 0; i < todo.length; ) {
    let j = i + 1;
    while (j < todo.length && j - i < runMax && continues(todo[j - 1]!, todo[j]!)) j++;
    yield* mirrorRun(todo.slice(i, j), mirror);
    i = j;
  }
}

function continues(a: PageFault, b: PageFault): boolean {
  return b.vpn === a.vpn + 1 && b.write === a.write;
}

function* mirrorRun(run: PageFault[], mirror: MirrorRun): Task {
  const first = run[0]!;
  const start = first.vpn * PAGE_SIZE;
  const ret = yield* mirror(start, start + run.length * PAGE_SIZE, first.write);
  if (ret >= 0) return;
  for (const f of run) {
    const r = run.length === 1 ? ret : yield* mirror(f.vpn * PAGE_SIZE, (f.vpn + 1) * PAGE_SIZE, f.write);
    if (r < 0) for (const e of f.entries) e.status = r;
  }
}
