/**
 * Running a sweep's configurations: each on a fresh Simulator with page contents off, one device
 * whose memory is the footprint divided by the oversubscription level, the workload's arrays each
 * mmapped by one process, the driver opened with the configuration's policy, and the workload's
 * phases run in order (device phases as kernel launches of replayKernel, CPU phases as the process's
 * own one-byte reads and writes, which fault device pages back). Synchronous and deterministic: a
 * point depends only on the spec and its configuration, so any subset of the configurations, run in
 * any order or on any thread, gives the same points.
 */

import { PAGE_SIZE } from '../core/addr.js';
import { roundCosts, roundUs } from '../device/cost.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../mm/mmap.js';
import { accessUser } from '../mm/uaccess.js';
import { type PolicyStats, policyStats } from '../policy/stats.js';
import type { Task } from '../sched/task.js';
import { SWEEP_SCHEMA_VERSION, type SweepPoint, type SweepRecord } from '../schema/sweep.js';
import type { DeviceFile } from '../sim/devicefile.js';
import { type Process, raiseFault } from '../sim/process.js';
import { Simulator } from '../sim/simulator.js';
import { accessIsWrite, accessPage, type CpuPhase, type Workload } from '../workload/patterns/workload.js';
import { replayKernel } from './kernel.js';
import {
  type CheckedSweepSpec,
  checkSweepSpec,
  footprintPages,
  type SweepConfiguration,
  type SweepSpec,
  shardConfigurations,
  sweepConfigurations,
  sweepSettings,
  sweepWorkload,
} from './spec.js';

/** Device memory of a configuration: footprint pages / level, rounded down, at least one page. */
export function sweepDevicePages(footprint: number, oversubscription: number): number {
  return Math.max(1, Math.floor(footprint / oversubscription));
}

/**
 * Runs one configuration of a checked spec (see the file comment). `onOpen` is told the machine and
 * the device file once the device is open, before the first phase (the viewer's recorder starts there).
 */
export function runSweepPoint(
  s: CheckedSweepSpec,
  c: SweepConfiguration,
  onOpen?: (sim: Simulator, fd: DeviceFile) => void,
): SweepPoint {
  const w = sweepWorkload(s);
  const pages = footprintPages(w);
  const devicePages = sweepDevicePages(pages, c.oversubscription);
  const sim = new Simulator({
    seed: s.seed,
    contents: false,
    ramPages: pages + Math.ceil(pages / 8) + 16_384,
    devices: [{ memoryPages: devicePages, costProfile: s.costProfile }],
    kernel: s.api === 'modern' ? 'v6.19' : 'v5.3',
  });
  const p = sim.createProcess();
  const pageAddr = mapArrays(p, w);
  const fd = sim.openDevice(0, p, { api: s.api, policy: c.policy });
  onOpen?.(sim, fd);
  const residency: [number, number][] = [];
  for (const phase of w.phases()) {
    if (phase.kind === 'device') fd.launch(replayKernel(phase, pageAddr), { threads: phase.threads });
    else cpuTouch(sim, p, phase, pageAddr);
    residency.push([roundUs(sim.deviceCosts(0).total), sim.deviceUsedPages(0)]);
  }
  const stats = { ...policyStats(fd.policy) };
  fd.close();
  const pt = point(c, devicePages, sim, residency, stats);
  // Nothing reads the machine any more (unless onOpen's recorder kept it): its page store and page
  // tables go to the next configuration's machine, which would otherwise pay for fresh memory.
  if (onOpen === undefined) sim.kernel.release();
  return pt;
}

/**
 * The last configuration's page-address table, for the next one of the same footprint: a fresh
 * 8 bytes a page is fresh memory to fault in (runSweepPoint's timing is most of a sweep).
 */
let sparePageAddr = new Float64Array(0);

/** Each array its own anonymous mapping; the address of every workload page. */
function mapArrays(p: Process, w: Workload): Float64Array {
  const pages = footprintPages(w);
  if (sparePageAddr.length !== pages) sparePageAddr = new Float64Array(pages);
  const pageAddr = sparePageAddr;
  let page = 0;
  for (const a of w.arrays) {
    const base = p.mmap(a.pages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    for (let i = 0; i < a.pages; i++) pageAddr[page++] = base + i * PAGE_SIZE;
  }
  return pageAddr;
}

/** The CPU phase as one task on one executor (a facade call per access would build one each). */
function cpuTouch(sim: Simulator, p: Process, phase: CpuPhase, pageAddr: Float64Array): void {
  sim.run('cpu phase', cpuAccesses(p, phase, pageAddr));
}

/**
 * Each access as the facade's task.read(addr, 1) / task.write(addr, [0]) makes it (accessUser, its
 * scheduling point and faults), into one byte reused access after access instead of a buffer and a
 * generator of the facade's each; a failed access raises what the facade would.
 */
function* cpuAccesses(p: Process, phase: CpuPhase, pageAddr: Float64Array): Task {
  const buf = new Uint8Array(1);
  for (const code of phase.accesses()) {
    const addr = pageAddr[accessPage(code)] as number;
    const write = accessIsWrite(code);
    buf[0] = 0;
    const r = yield* accessUser(p.mm, addr, buf, write);
    raiseFault(r.result, r.addr, write);
  }
}

function point(
  c: SweepConfiguration,
  devicePages: number,
  sim: Simulator,
  residency: [number, number][],
  stats: PolicyStats,
): SweepPoint {
  const counters = sim.deviceCounters(0) as unknown as Record<string, number>;
  const { total, ...costs } = roundCosts(sim.deviceCosts(0));
  return {
    index: c.index,
    policy: c.policy,
    oversubscription: c.oversubscription,
    devicePages,
    simulatedUs: total,
    costs,
    faults: counters.faults as number,
    faultBatches: counters.faultBatches as number,
    pagesToDevice: counters.migratedToDevice as number,
    pagesToHost: counters.migratedToRam as number,
    bytesToDevice: (counters.migratedToDevice as number) * PAGE_SIZE,
    bytesToHost: (counters.migratedToRam as number) * PAGE_SIZE,
    evictedPages: counters.evictedPages as number,
    cpuFaults: counters.cpuFaults as number,
    ...policyMetrics(stats),
    policyStats: stats as unknown as Record<string, number>,
    counters,
    residency,
  };
}

/**
 * Thrashing events and prefetch accuracy from the policy's counters (src/policy/stats.ts, which the
 * svm engine keeps per policy object): accuracy is null when the policy prefetched nothing.
 */
export function policyMetrics(stats: Readonly<PolicyStats>): {
  /** Pages the policy's thrashing detector flagged (0 for a policy without one). */
  thrashingEvents: number;
  /** Prefetched pages later used / prefetched pages, or null when nothing was prefetched. */
  prefetchAccuracy: number | null;
} {
  return {
    thrashingEvents: stats.thrashingEvents,
    prefetchAccuracy:
      stats.prefetchedPages > 0
        ? Math.round((stats.prefetchedUsed / stats.prefetchedPages) * 1e6) / 1e6
        : null,
  };
}

/** Options of runSweep. */
export interface RunSweepOptions {
  /** Run only this slice (`--shard index/count`). */
  shard?: {
    /** The slice, 0-based. */
    index: number;
    /** Slices in all. */
    count: number;
  };
  /** Told after each configuration: its point, and how many of the slice are done. */
  onPoint?: (point: SweepPoint, done: number, total: number) => void;
}

/** Runs a sweep (or one shard of it) on this thread and returns its record. */
export function runSweep(spec: SweepSpec, opts: RunSweepOptions = {}): SweepRecord {
  const s = checkSweepSpec(spec);
  const configs = shardConfigurations(sweepConfigurations(s), opts.shard);
  const points = configs.map((c, i) => {
    const pt = runSweepPoint(s, c);
    opts.onPoint?.(pt, i + 1, configs.length);
    return pt;
  });
  return sweepRecord(s, points, opts.shard);
}

/** The record of a checked spec's points (sorted by index), for a shard when `shard` is set. */
export function sweepRecord(
  s: CheckedSweepSpec,
  points: readonly SweepPoint[],
  shard?: { index: number; count: number },
): SweepRecord {
  return {
    schema: SWEEP_SCHEMA_VERSION,
    settings: sweepSettings(s),
    ...(shard !== undefined ? { shard: { index: shard.index, count: shard.count } } : {}),
    points: [...points].sort((a, b) => a.index - b.index),
  };
}
